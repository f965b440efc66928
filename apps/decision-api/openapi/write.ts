/**
 * `npm run openapi`: writes docs/openapi.json, the HTTP contract, from the code. The service is built on an in-memory
 * store and never listens: the document depends on the controllers and schemas only, not on a database or a port.
 * `--check` writes nothing and fails when the committed file differs (CI: a route changed without regenerating).
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../config.js';
import { buildOpenApiDocument } from './document.js';

export const DOCUMENT_PATH = 'docs/openapi.json';

/** The document's bytes: what `npm run openapi` writes and what the running service's document equals. */
export async function openApiJson(): Promise<string> {
  // Only the variables that shape the document: nothing of the caller's environment (a DATABASE_URL, an ADMIN_TOKEN).
  const running = await createApp(loadConfig({}, { databaseUrl: 'pglite://memory', logLevel: 'error', payoutConcurrency: 0 }));
  try {
    return `${JSON.stringify(buildOpenApiDocument(running.app), null, 2)}\n`;
  } finally {
    await running.close();
  }
}

async function main(): Promise<void> {
  const json = await openApiJson();
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(DOCUMENT_PATH, 'utf8');
    } catch {
      // missing: stale as well
    }
    if (committed !== json) {
      console.error(`${DOCUMENT_PATH} is stale: run npm run openapi and commit it`);
      process.exit(1);
    }
    console.log(`${DOCUMENT_PATH} is up to date`);
    return;
  }
  writeFileSync(DOCUMENT_PATH, json);
  console.log(`wrote ${DOCUMENT_PATH}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
