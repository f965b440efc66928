/**
 * The store floor (issue 11's HTTP row, "why"): how fast can anything on this machine answer the refund risk policy
 * and store each decision in PostgreSQL? Measured in one run against `opa run --server` (the anchor) and the service,
 * with the same wrk load and the same 4,096 policy inputs as the `opa-server` row. A comparison floor only, not
 * product code: it checks nothing, enriches nothing, keeps no idempotency record, no audit, no events.
 *
 * The floor servers are this file run as `node dist/bench/store-floor.js serve` (node:http, one process):
 *   evaluate  parse the body, evaluate the policy with opa-wasm (the service's Wasm), answer: OPA's job in Node.
 *   store     and insert the decision (id, input, result) with one named prepared INSERT in its own transaction
 *             (autocommit) before answering: the least a design that stores every decision before it answers does.
 *   group     the same rows, but the rows of requests that arrive while INSERTs are out wait and go out together in
 *             the next one (group commit, at most GROUP_IN_FLIGHT INSERTs out, GROUP_MAX_ROWS rows each); every
 *             request is still answered only after its row committed.
 *
 * Standalone: `node dist/bench/store-floor.js` after the bench build (`npm run bench` builds it), with
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_FLOOR_ROUNDS (2), BENCH_SECONDS (20),
 * BENCH_WARMUP_SECONDS (3), BENCH_CONNECTIONS (50), BENCH_FLOOR_SERVICE=0 to leave out the service's row.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import pg from 'pg';
import { readBundle } from '../libs/policies/index.js';
import { cpuShare, cpuSnapshot, createDatabase, freePort, request, runHttp, startNodeFlags, stopAll, withoutImports, type CpuShare, type HttpRow } from './http.js';
import { runWrk } from './loadgen.js';
import { canonical, ensureOpa, riskInputs, runOpaRow, type OpaRow, type RiskInputs } from './opa-server.js';
import { table } from './stats.js';

const MODES = ['evaluate', 'store', 'group'] as const;
type Mode = (typeof MODES)[number];

const GROUP_IN_FLIGHT = 2;
const GROUP_MAX_ROWS = 500;
const POOL_SIZE = 20; // the service's default pool
const TABLE = 'create table if not exists floor_decisions (id text primary key, input json not null, result json not null, created_at timestamptz not null default now())';

type Row = [id: string, input: string, result: string];

/** Group commit: rows wait while GROUP_IN_FLIGHT INSERTs are out, then go out together; each resolves once its INSERT committed. */
function groupedWriter(pool: pg.Pool): (row: Row) => Promise<void> {
  const waiting: { row: Row; done: () => void; failed: (e: unknown) => void }[] = [];
  let out = 0;
  const flush = (): void => {
    while (out < GROUP_IN_FLIGHT && waiting.length > 0) {
      const batch = waiting.splice(0, GROUP_MAX_ROWS);
      out++;
      pool
        .query({
          name: 'floor_many',
          text: 'insert into floor_decisions (id, input, result) select * from unnest($1::text[], $2::json[], $3::json[])',
          values: [batch.map((b) => b.row[0]), batch.map((b) => b.row[1]), batch.map((b) => b.row[2])],
        })
        .then(
          () => batch.forEach((b) => b.done()),
          (e: unknown) => batch.forEach((b) => b.failed(e)),
        )
        .finally(() => {
          out--;
          flush();
        });
    }
  };
  return (row) =>
    new Promise<void>((done, failed) => {
      waiting.push({ row, done, failed });
      flush();
    });
}

async function serve(): Promise<void> {
  const mode = process.env.FLOOR_MODE as Mode;
  if (!MODES.includes(mode)) throw new Error(`FLOOR_MODE must be one of ${MODES.join(', ')}`);
  const entrypoint = process.env.FLOOR_ENTRYPOINT!;
  const bundle = readBundle(readFileSync(process.env.FLOOR_BUNDLE!));
  const opa = await loadPolicy(bundle.wasm);
  opa.setData(bundle.data as object);
  const pool = mode === 'evaluate' ? undefined : new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: POOL_SIZE });
  // An idle client's error (the server restarted) fails the requests that use it, not the process.
  pool?.on('error', (e) => console.error(`floor pool: ${e.message}`));
  const write =
    pool === undefined
      ? undefined
      : mode === 'group'
        ? groupedWriter(pool)
        : (row: Row) => pool.query({ name: 'floor_one', text: 'insert into floor_decisions (id, input, result) values ($1, $2, $3)', values: row }).then(() => undefined);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200).end();
        return;
      }
      let input: unknown;
      try {
        input = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: unknown }).input;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const result = (opa.evaluate(input, entrypoint) as { result: unknown }[])[0]?.result;
      const id = randomUUID();
      const answer = JSON.stringify({ id, result });
      const send = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      };
      if (!write) return send();
      write([id, JSON.stringify(input), JSON.stringify(result)]).then(send, (e: unknown) => {
        res.writeHead(500).end(String(e));
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(Number(process.env.FLOOR_PORT), '127.0.0.1');
}

export interface FloorRow {
  mode: Mode;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  non2xx: number;
  errors: number;
  cpu?: CpuShare;
  stored?: number;
}

/** One floor server: started, checked against the service's Wasm on every body, warmed up, loaded, stopped. */
async function runFloor(o: { root: string; mode: Mode; inputs: RiskInputs; db: { url: string; name?: string }; connections: number; warmupSeconds: number; seconds: number }, log: (line: string) => void): Promise<FloorRow> {
  const port = await freePort();
  await resetStore(o.db.url);
  // With npm start's node flags (its young-generation size among them), without its preloads: like for like with the service.
  const child = spawn(process.execPath, [...withoutImports(startNodeFlags(o.root)), fileURLToPath(import.meta.url), 'serve'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      FLOOR_MODE: o.mode,
      FLOOR_PORT: String(port),
      FLOOR_ENTRYPOINT: o.inputs.entrypoint,
      FLOOR_BUNDLE: bundlePath(o.root, o.inputs.policy),
      FLOOR_DATABASE_URL: o.db.url,
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  process.once('exit', killOnExit);
  try {
    for (const until = Date.now() + 30_000; ; ) {
      if (child.exitCode !== null) throw new Error(`the ${o.mode} floor exited before it was ready`);
      if (await request(agent, port, 'GET', '/', {}).then((r) => r.status === 200, () => false)) break;
      if (Date.now() > until) throw new Error(`the ${o.mode} floor was not ready after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Every body once: the floor answers as the service's Wasm does (and its rows are written) before it is timed.
    for (let i = 0; i < o.inputs.bodies.length; i++) {
      const r = await request(agent, port, 'POST', '/', { 'content-type': 'application/json' }, o.inputs.bodies[i]!.join(`verify_${i}`));
      if (r.status !== 200 || canonical((JSON.parse(r.body) as { result?: unknown }).result) !== canonical(o.inputs.expected[i])) {
        throw new Error(`the ${o.mode} floor answers case ${i} differently from the service's Wasm: ${r.status} ${r.body.slice(0, 300)}`);
      }
    }
    if (o.mode !== 'evaluate' && (await countRows(o.db.url)) !== o.inputs.bodies.length) throw new Error(`the ${o.mode} floor did not store a row for each checked case`);
    const spec = { port, path: '/', bodies: o.inputs.bodies, marker: '"band":"', connections: o.connections };
    const run = `${process.pid}-${Date.now().toString(36)}`;
    if (o.warmupSeconds > 0) await runWrk({ ...spec, seconds: o.warmupSeconds, runId: `${run}w` }, log);
    const count = async () => (o.mode === 'evaluate' ? 0 : await countRows(o.db.url));
    const before = await count();
    const a = cpuSnapshot(child.pid!, o.db.name);
    const r = await runWrk({ ...spec, seconds: o.seconds, runId: `${run}m` }, log);
    const b = cpuSnapshot(child.pid!, o.db.name);
    const stored = (await count()) - before;
    const non2xx = Object.entries(r.statuses).reduce((sum, [s, n]) => (Number(s) >= 200 && Number(s) < 300 ? sum : sum + n), 0);
    // A floor never refuses: a failed answer (a 500 from the pool, a socket error) would count as a fast one.
    if (non2xx + r.errors > 0) throw new Error(`the ${o.mode} floor failed ${non2xx} requests (${JSON.stringify(r.statuses)}) with ${r.errors} socket errors: ${r.firstFailure}`);
    // Rows are counted before and after the window; up to one request per connection straddles each end.
    if (o.mode !== 'evaluate' && stored < r.requests - o.connections) throw new Error(`the ${o.mode} floor answered ${r.requests} requests but stored ${stored} rows`);
    const row: FloorRow = { mode: o.mode, perSecond: r.requests / r.durationSeconds, p50Us: r.p50Us, p99Us: r.p99Us, non2xx, errors: r.errors, cpu: cpuShare(a, b, r.requests, r.durationSeconds, r.cpuSeconds), ...(o.mode !== 'evaluate' && { stored }) };
    log(`  ${o.mode} floor: ${Math.round(row.perSecond)}/s p50 ${(row.p50Us / 1e3).toFixed(1)} ms p99 ${(row.p99Us / 1e3).toFixed(1)} ms non-2xx ${non2xx} errors ${r.errors}${row.stored !== undefined ? `, ${row.stored} rows stored in the window` : ''}`);
    return row;
  } finally {
    process.off('exit', killOnExit);
    agent.destroy();
    child.kill('SIGTERM');
    await exited;
  }
}

/** Every row starts from an empty table and a fresh checkpoint: no row pays for the WAL and dirty pages of the one before. */
async function resetStore(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('truncate floor_decisions');
    await c.query('checkpoint');
  } finally {
    await c.end();
  }
}

function bundlePath(root: string, ref: string): string {
  const at = ref.lastIndexOf('@');
  return join(root, 'policies/bundles', ref.slice(0, at), `${ref.slice(at + 1)}.tar.gz`);
}

async function countRows(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>('select count(*) as n from floor_decisions')).rows[0]!.n);
  } finally {
    await c.end();
  }
}

let floorDatabase: { drop(): Promise<void> } | undefined;

async function main(): Promise<void> {
  const root = join(fileURLToPath(import.meta.url), '../../..');
  const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const rounds = Number(process.env.BENCH_FLOOR_ROUNDS ?? 2);
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const withService = process.env.BENCH_FLOOR_SERVICE !== '0';
  const log = (line: string) => console.log(line);
  log(`store floor: opa run --server, the floors (${MODES.join(', ')}) and ${withService ? 'the service' : 'not the service'}; wrk, ${connections} connections, ${warmupSeconds} s warm-up + ${seconds} s, ${rounds} rounds (${new Date().toISOString()})`);
  const opa = ensureOpa(root, log);
  const inputs = await riskInputs(root, 42);
  // Not the service row's database (dp_bench_<pid>, dropped after each of its rows).
  const db = await createDatabase('postgresql', serverUrl, {}, `dp_floor_${process.pid}`);
  floorDatabase = db;
  const rows: { round: number; opa: OpaRow; floors: FloorRow[]; service?: HttpRow }[] = [];
  try {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(TABLE);
    await c.end();
    for (let round = 1; round <= rounds; round++) {
      await resetStore(db.url);
      const opaRow = await runOpaRow({ root, opa, inputs, connections, warmupSeconds, seconds, verify: round === 1 }, (line) => log(`  opa ${round}:${line}`));
      const floors: FloorRow[] = [];
      for (const mode of MODES) floors.push(await runFloor({ root, mode, inputs, db, connections, warmupSeconds, seconds }, (line) => log(`  ${round}:${line}`)));
      if (withService) await resetStore(db.url);
      const service = withService
        ? await runHttp({ root, store: 'postgresql', serverUrl, connections, warmupSeconds, seconds, seed: 42, serviceNodeArgs: [] }, (line) => log(`  service ${round}:${line}`))
        : undefined;
      rows.push({ round, opa: opaRow, floors, ...(service && { service }) });
    }
  } finally {
    await db.drop();
  }
  const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
  const lines: string[][] = [];
  for (const r of rows) {
    const anchor = r.opa.perSecond;
    lines.push([String(r.round), 'opa run --server (nothing stored)', String(Math.round(anchor)), '1.000', (r.opa.p99Us / 1e3).toFixed(1), `${ms(r.opa.cpu?.msPerRequest.opa)} + 0`]);
    for (const f of r.floors) {
      lines.push([String(r.round), `floor: ${f.mode}`, String(Math.round(f.perSecond)), (f.perSecond / anchor).toFixed(3), (f.p99Us / 1e3).toFixed(1), `${ms(f.cpu?.msPerRequest.service)} + ${f.mode === 'evaluate' ? '0' : ms(f.cpu?.msPerRequest.postgres)}`]);
    }
    if (r.service) lines.push([String(r.round), 'the service (POST /v1/decisions/refund)', String(Math.round(r.service.perSecond)), (r.service.perSecond / anchor).toFixed(3), (r.service.p99Us / 1e3).toFixed(1), `${ms(r.service.cpu?.msPerRequest.service)} + ${ms(r.service.cpu?.msPerRequest.postgres)}`]);
  }
  log('');
  log(table(['Round', 'Server', 'req/s', '÷ OPA', 'p99 ms', 'CPU ms/req: server + PostgreSQL'], lines));
}

if (process.argv[2] === 'serve') await serve();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Interrupted: the service (runHttp's cleanups) and the floor's database go too (if made yet); a floor child is killed by
  // its 'exit' hook. The exit must not depend on the database existing: an interrupt during setup still ends the run.
  const abort = (code: number) => void stopAll().finally(() => void Promise.resolve(floorDatabase?.drop()).finally(() => process.exit(code)));
  process.once('SIGINT', () => abort(130));
  process.once('SIGTERM', () => abort(143));
  await main();
}
