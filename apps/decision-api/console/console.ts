/**
 * Serves the web console (apps/console, built by `npm run build` into dist/console) at /console. Static files only:
 * the console signs in with an API key and calls the public API like any client; nothing here reads a key.
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { problem, sendProblem } from '../problem.js';

/**
 * Scripts and styles from this origin only, calls to this origin only, never framed: a page that holds an API key in
 * session storage must not run foreign script. Inline style attributes are allowed (React's style prop, SVG charts).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerConsole(app: NestFastifyApplication, root: string | undefined, warn: (msg: string) => void): Promise<void> {
  const instance = app.getHttpAdapter().getInstance();
  if (!root) return;
  if (!existsSync(join(root, 'index.html'))) {
    warn(`console not served: ${join(root, 'index.html')} is missing (npm run build makes it)`);
    const notBuilt = (_req: unknown, reply: Parameters<typeof sendProblem>[0]) =>
      sendProblem(reply, problem(404, 'CONSOLE_NOT_BUILT', 'The console is not built on this instance: run `npm run build` (npm start does) or set CONSOLE_ROOT'));
    instance.get('/console', notBuilt);
    instance.get('/console/*', notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    // Another @fastify/static (Swagger UI's) may be registered: no reply.sendFile decoration from this one.
    decorateReply: false,
    index: ['index.html'],
    redirect: true,
    wildcard: true,
    dotfiles: 'deny',
    // The build writes .br and .gz next to each asset (apps/console/vite.config.ts): sent as the browser accepts.
    preCompressed: true,
    // Fastify's reply (not Node's response), as @fastify/static 10 passes it.
    setHeaders: (reply: { header(name: string, value: string): unknown }, path: string) => {
      // `path` is absolute: only a folder named assets inside the console's own root marks a hashed asset.
      const hashed = relative(root, path).split(sep)[0] === 'assets';
      reply.header('content-security-policy', CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      // Vite names assets by content hash: cache them for a year; the page itself is revalidated every time.
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  // The address without its slash: the page's relative asset paths need /console/.
  instance.get('/console', (_req, reply) => reply.redirect('/console/', 301));
}
