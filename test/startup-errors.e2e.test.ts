/**
 * The built service (dist/apps/decision-api/main.js, as npm start runs it) with bad settings: each start failure is one
 * readable line on stderr, no stack trace (unless LOG_LEVEL=debug), and exit code 1; a missing database is not created.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { repoRoot } from './support/content-root.js';

const main = join(repoRoot, 'dist/apps/decision-api/main.js');

/** Runs the service with only `env` (and PATH, HOME) and waits for it to exit. */
function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm test does)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'error', DATABASE_URL: 'pglite://memory', PORT: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function expectOneLine(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toContain('    at ');
  expect(lines[0]).toMatch(pattern);
}

function listening(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

it('port in use: one line naming the port, before the database is touched', async () => {
  const taken = await listening();
  try {
    const r = await start({ PORT: String(portOf(taken)), HOST: '127.0.0.1' });
    expectOneLine(r, new RegExp(`^decision-api did not start: port ${portOf(taken)} on 127\\.0\\.0\\.1 is already in use \\(PORT, HOST\\)`));
  } finally {
    taken.close();
  }
});

it('database refused (nothing listening): one line naming where', async () => {
  // A port that was free a moment ago: nothing listens there now.
  const probe = await listening();
  const port = portOf(probe);
  await new Promise((r) => probe.close(r));
  const r = await start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/decisions` });
  expectOneLine(r, new RegExp(`^decision-api did not start: PostgreSQL refused the connection at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL names database "decisions" on 127\\.0\\.0\\.1:${port}\\)`));
});

it('content root missing, or not a folder: one line naming CONTENT_ROOT', async () => {
  const missing = join(tmpdir(), `no-content-root-${process.pid}`);
  expectOneLine(await start({ CONTENT_ROOT: missing }), new RegExp(`^decision-api did not start: ${missing}/releases does not exist; CONTENT_ROOT is "${missing}"`));
  const file = join(tmpdir(), `content-root-file-${process.pid}`);
  await writeFile(file, 'not a folder');
  expectOneLine(await start({ CONTENT_ROOT: file }), new RegExp(`^decision-api did not start: ${file}/releases is not a folder; CONTENT_ROOT is "${file}"`));
});

it('bad configuration: one line per bad variable, no stack', async () => {
  const r = await start({ RATE_LIMIT_PER_KEY: 'lots', REDIS_URL: 'http://cache:6379' });
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr.trimEnd().split('\n')).toEqual([
    'Invalid configuration:',
    '  - REDIS_URL must be redis://host:port or rediss://host:port (got "http://cache:6379")',
    '  - RATE_LIMIT_PER_KEY must be an integer from 0 to 1000000 (got "lots")',
  ]);
});

it('LOG_LEVEL=debug: the same line, then the stack trace', async () => {
  const r = await start({ CONTENT_ROOT: join(tmpdir(), `no-content-root-${process.pid}`), LOG_LEVEL: 'debug' });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^decision-api did not start: .*releases does not exist/);
  expect(r.stderr).toContain('    at ');
});

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
onPostgres('a database that does not exist (TEST_DATABASE_URL\'s server)', () => {
  it('is not created: one line saying how to create it', async () => {
    const url = new URL(process.env.TEST_DATABASE_URL!);
    const name = `dp_missing_${process.pid}_${Date.now().toString(36)}`;
    url.pathname = `/${name}`;
    const r = await start({ DATABASE_URL: url.toString() });
    expectOneLine(r, new RegExp(`^decision-api did not start: database "${name}" does not exist on ${url.hostname}:${url.port || 5432}; create it with: createdb -h ${url.hostname} -p ${url.port || 5432}( -U \\S+)? ${name}$`));
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      expect((await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
