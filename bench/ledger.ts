/**
 * Reward ledger benchmark (issue 3): the in-process cost of Algorithms 1–4 on the in-memory store, and
 * settle + refund + redeem operations/s over HTTP with persistence (the built service on a throwaway database).
 *
 * Standalone: `node dist/bench/ledger.js` after the bench build, with BENCH_LEDGER_DATABASE_URL (a PostgreSQL server
 * URL; default postgres://postgres@127.0.0.1:5432/test), BENCH_LEDGER_SECONDS (20), BENCH_LEDGER_CONNECTIONS (50).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  InMemoryLedgerStore,
  Ledger,
  OpaRedemptionGate,
  programFromPack,
  StaticProgramResolver,
} from '../libs/ledger/index.js';
import { validatePack } from '../libs/rules/index.js';
import { cpuShare, cpuSnapshot, loadGeneratorOf, startNodeFlags, type CpuShare } from './http.js';
import { CLK_TCK, ensureWrk, type WrkOutput } from './loadgen.js';
import { formatRate, formatUs, summarise, table, type Summary } from './stats.js';

export interface LedgerBenchOptions {
  root: string;
  serverUrl: string;
  connections: number;
  seconds: number;
  log?: (line: string) => void;
}

export interface LedgerBenchResult {
  inProcess: { name: string; count: number; perSecond: number; p50Us: number; p99Us: number }[];
  http: (Summary & { name: string; count: number; non2xx: number; byOp: Record<string, { count: number; p50Us: number; p99Us: number }>; cpu: CpuShare | undefined }) | null;
}

const ADMIN_TOKEN = 'bench-ledger-admin-token-0123456789';

async function loadLedger(root: string, programName: string): Promise<Ledger> {
  const pack = validatePack(JSON.parse(await readFile(join(root, 'rule-packs', programName, '1.0.0.json'), 'utf8')));
  const gate = await OpaRedemptionGate.load(await readFile(join(root, 'policies/bundles/redemption-gate/1.0.0.tar.gz')));
  return new Ledger(new InMemoryLedgerStore(), new StaticProgramResolver([programFromPack(pack)]), gate);
}

async function timeOps(name: string, n: number, op: (i: number) => Promise<unknown>) {
  const lat = new Float64Array(n);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await op(i);
    lat[i] = Number(process.hrtime.bigint() - s);
  }
  const s = summarise(lat, Number(process.hrtime.bigint() - t0));
  return { name, count: n, perSecond: s.perSecond, p50Us: s.p50Us, p99Us: s.p99Us };
}

/** Algorithms 1–3 on cashback-default and 4 on issuer-d, one operation at a time on the in-memory store. */
export async function runLedgerInProcess(root: string, n = 5000): Promise<LedgerBenchResult['inProcess']> {
  const ledger = await loadLedger(root, 'cashback-default');
  const t = 'bench';
  const rows = [];
  for (let i = 0; i < n; i++) {
    await ledger.openAccount(t, `a${i}`, { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase(t, `a${i}`, { transactionId: `t${i}`, amount: 10_000 + i, category: i % 2 ? 'GROCERY' : 'BOOKS', occurredAt: '2026-03-02T10:00:00Z' });
  }
  rows.push(await timeOps('Algorithm 1: settle (reward, cap)', n, (i) => ledger.settle(t, `t${i}`, { settledAt: '2026-03-03T10:00:00Z' })));
  rows.push(await timeOps('Algorithm 2: partial refund (clawback)', n, (i) => ledger.refund(t, `t${i}`, { refundId: `r${i}`, amount: 3_333, at: '2026-04-02T10:00:00Z' })));
  rows.push(await timeOps('Algorithm 3: redemption (OPA gate + debit)', n, (i) => ledger.redeem(t, `a${i}`, { redemptionId: `d${i}`, amount: 1, at: '2026-04-03T10:00:00Z' })));

  const statement = await loadLedger(root, 'issuer-d');
  for (let i = 0; i < n; i++) {
    await statement.openAccount(t, `s${i}`, { program: 'issuer-d', currency: 'EUR', cycleAnchorDay: 1 });
    for (let k = 0; k < 4; k++) {
      await statement.recordPurchase(t, `s${i}`, { transactionId: `s${i}-${k}`, amount: 5_000 + k, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
      await statement.settle(t, `s${i}-${k}`, { settledAt: '2026-03-03T10:00:00Z' });
    }
    await statement.refund(t, `s${i}-0`, { refundId: `sr${i}`, amount: 1_000, at: '2026-03-10T10:00:00Z' });
  }
  rows.push(await timeOps('Algorithm 4: statement close (4 transactions, 1 refund)', n, (i) => statement.closeStatement(t, `s${i}`, { periodEnd: '2026-04-01T00:00:00Z' })));
  return rows;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export function request(agent: http.Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * A service of this tree's build on a database of its own (dropped afterwards), ready, with an API key of `roles`;
 * `env` is added to its environment, and `run` gets the database's URL too (to arrange rows the API cannot).
 */
export async function withBenchService<T>(
  o: { serverUrl: string; root: string; env?: Record<string, string> },
  label: string,
  maxSockets: number,
  roles: string[],
  run: (svc: { agent: http.Agent; port: number; key: string; databaseUrl: string; pid: number | undefined }) => Promise<T>,
): Promise<T> {
  const name = `dp_bench_${label}_${process.pid}`;
  const admin = new pg.Client({ connectionString: o.serverUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.query(`create database "${name}"`);
  const url = new URL(o.serverUrl);
  url.pathname = `/${name}`;
  const port = await freePort();
  // `npm start`'s node flags (young generation, heap growth, the preload), as every HTTP row starts the service.
  const child: ChildProcess = spawn(process.execPath, [...startNodeFlags(o.root), join(o.root, 'dist/apps/decision-api/main.js')], {
    cwd: o.root,
    env: { ...process.env, DATABASE_URL: url.toString(), ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_KEY: '0', CONTENT_ROOT: o.root, ...o.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  try {
    for (let i = 0; ; i++) {
      if (i > 600) throw new Error('service did not become ready');
      try {
        if ((await request(agent, port, 'GET', '/readyz', {})).status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const issued = await request(agent, port, 'POST', '/v1/admin/api-keys', { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, JSON.stringify({ tenant: 'bench', roles, name: `${label}-bench` }));
    const key = (JSON.parse(issued.body) as { key: string }).key;
    return await run({ agent, port, key, databaseUrl: url.toString(), pid: child.pid });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    agent.destroy();
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** bench/wrk/ledger.lua, from dist/bench/ or bench/ (as loadgen.ts finds cycle.lua). */
const LEDGER_SCRIPT = [new URL('../../bench/wrk/ledger.lua', import.meta.url), new URL('./wrk/ledger.lua', import.meta.url)].map((u) => fileURLToPath(u)).find((f) => existsSync(f));

/** bench/wrk/ledger.lua's summary: its statuses are keyed "<operation> <status>"; it counts no outcomes. */
type WrkLedgerOutput = Omit<WrkOutput, 'outcomes'>;

/**
 * Each connection loops over its own account: purchase → settle → refund part → redeem part. Driven by wrk (one
 * connection per thread, bench/wrk/ledger.lua) unless BENCH_LOADGEN=node: the Node loop below costs 0.3–0.4 ms of CPU
 * per operation on the same cores the service and PostgreSQL share (docs/benchmarks.md), wrk a few µs. wrk reports one
 * latency distribution; the Node loop times each operation.
 */
export async function runLedgerHttp(o: LedgerBenchOptions): Promise<LedgerBenchResult['http']> {
  return loadGeneratorOf(process.env.BENCH_LOADGEN) === 'wrk' ? runLedgerWrk(o) : runLedgerNode(o);
}

async function runLedgerWrk(o: LedgerBenchOptions): Promise<LedgerBenchResult['http']> {
  const wrk = ensureWrk(o.log ?? console.log);
  if (!LEDGER_SCRIPT) throw new Error('bench/wrk/ledger.lua not found next to the bench');
  return withBenchService(o, 'ledger', 1, ['service'], async ({ port, key, databaseUrl, pid }) => {
    const dir = await mkdtemp(join(tmpdir(), 'dp-bench-ledger-'));
    try {
      const resultFile = join(dir, 'result.json');
      const run = Date.now().toString(36);
      const database = new URL(databaseUrl).pathname.slice(1);
      const args = [`-t${o.connections}`, `-c${o.connections}`, `-d${Math.max(1, Math.round(o.seconds))}s`, '--timeout', '60s', '-s', LEDGER_SCRIPT, `http://127.0.0.1:${port}`, '--', resultFile, run, `Bearer ${key}`];
      const cpu0 = pid === undefined ? undefined : cpuSnapshot(pid, database);
      const child = spawn(wrk, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2_000)));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', resolve);
      });
      const cpu1 = pid === undefined ? undefined : cpuSnapshot(pid, database);
      let r: WrkLedgerOutput;
      try {
        r = JSON.parse(await readFile(resultFile, 'utf8')) as WrkLedgerOutput;
      } catch {
        throw new Error(`wrk exited with ${code} and wrote no result: ${stderr}`);
      }
      const byOp: Record<string, { count: number; p50Us: number; p99Us: number }> = {};
      let count = 0;
      let non2xx = 0;
      const refusals: Record<string, number> = {};
      for (const [k, n] of Object.entries(r.statuses)) {
        const [op, status] = k.split(' ') as [string, string];
        if (Number(status) >= 300) {
          non2xx += n;
          refusals[k] = n;
        }
        if (op === 'open') {
          if (Number(status) >= 300) throw new Error(`opening an account answered ${status}: ${r.firstFailure}`);
          continue;
        }
        count += n;
        byOp[op] = { count: (byOp[op]?.count ?? 0) + n, p50Us: NaN, p99Us: NaN };
      }
      if (non2xx > 0) o.log?.(`  non-2xx answers by operation and status: ${JSON.stringify(refusals)}; first: ${r.firstFailure}`);
      // Socket errors and timeouts (an answer slower than 60 s is in no latency): a row with any is no clean figure.
      const e = r.errors;
      if (e.connect + e.read + e.write + e.timeout > 0) o.log?.(`  wrk socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`);
      const seconds = r.durationUs / 1e6;
      const cpu = cpuShare(cpu0, cpu1, count, seconds, r.cpuTicks / CLK_TCK);
      const l = r.latencyUs;
      return { count, perSecond: count / seconds, p50Us: l.p50, p90Us: l.p90, p99Us: l.p99, maxUs: l.max, name: `ledger over HTTP (PostgreSQL, ${o.connections} connections, wrk)`, non2xx, byOp, cpu };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** The same loop in this process (BENCH_LOADGEN=node): every operation timed on its own. */
async function runLedgerNode(o: LedgerBenchOptions): Promise<LedgerBenchResult['http']> {
  return withBenchService(o, 'ledger', o.connections, ['service'], async ({ agent, port, key, databaseUrl, pid }) => {
    const headers = (k: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': k });
    const run = Date.now().toString(36);
    const lat: Record<string, number[]> = { purchase: [], settle: [], refund: [], redeem: [] };
    const all: number[] = [];
    let non2xx = 0;
    let seq = 0;
    const deadline = process.hrtime.bigint() + BigInt(o.seconds * 1e9);
    const timed = async (op: string, method: string, path: string, body: unknown) => {
      const s = process.hrtime.bigint();
      const r = await request(agent, port, method, path, headers(`${run}-${++seq}`), JSON.stringify(body));
      const ns = Number(process.hrtime.bigint() - s);
      lat[op]!.push(ns);
      all.push(ns);
      if (r.status >= 300) {
        non2xx++;
        const k = `${op} ${r.status}`;
        refusals[k] = (refusals[k] ?? 0) + 1;
      }
    };
    // What the non-2xx answers were (a row with failures is not a throughput figure).
    const refusals: Record<string, number> = {};
    const database = new URL(databaseUrl).pathname.slice(1);
    const t0 = process.hrtime.bigint();
    const cpu0 = pid === undefined ? undefined : cpuSnapshot(pid, database);
    await Promise.all(
      Array.from({ length: o.connections }, async (_, c) => {
        const account = `acct-${run}-${c}`;
        const opened = await request(agent, port, 'PUT', `/v1/ledger/accounts/${account}`, headers(`${run}-open-${c}`), JSON.stringify({ program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 }));
        // An account that failed to open would answer 404 to every operation after it, fast: the row would be wrong.
        if (opened.status >= 300) throw new Error(`opening ${account} answered ${opened.status}: ${opened.body.slice(0, 300)}`);
        for (let i = 0; process.hrtime.bigint() < deadline; i++) {
          const tx = `${account}-t${i}`;
          await timed('purchase', 'POST', `/v1/ledger/accounts/${account}/transactions`, { transactionId: tx, amount: 10_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
          await timed('settle', 'POST', `/v1/ledger/transactions/${tx}/settle`, { settledAt: '2026-03-02T10:00:00Z' });
          await timed('refund', 'POST', `/v1/ledger/transactions/${tx}/refunds`, { refundId: `${tx}-r`, amount: 2_000, at: '2026-03-05T10:00:00Z' });
          await timed('redeem', 'POST', `/v1/ledger/accounts/${account}/redemptions`, { redemptionId: `${tx}-d`, amount: 100, at: '2026-03-06T10:00:00Z' });
        }
      }),
    );
    const cpu1 = pid === undefined ? undefined : cpuSnapshot(pid, database);
    const elapsed = Number(process.hrtime.bigint() - t0);
    const summary = summarise(Float64Array.from(all), elapsed);
    const byOp: Record<string, { count: number; p50Us: number; p99Us: number }> = {};
    for (const [op, xs] of Object.entries(lat)) {
      const s = summarise(Float64Array.from(xs), elapsed);
      byOp[op] = { count: xs.length, p50Us: s.p50Us, p99Us: s.p99Us };
    }
    // The CPU window covers every operation (and the accounts' opening): no warm-up is left out of it.
    const cpu = cpuShare(cpu0, cpu1, all.length, elapsed / 1e9);
    if (non2xx > 0) o.log?.(`  non-2xx answers by operation and status: ${JSON.stringify(refusals)}`);
    return { ...summary, name: `ledger over HTTP (PostgreSQL, ${o.connections} connections)`, count: all.length, non2xx, byOp, cpu };
  });
}

export async function runLedgerBench(o: LedgerBenchOptions): Promise<LedgerBenchResult> {
  const log = o.log ?? console.log;
  const inProcess = await runLedgerInProcess(o.root);
  log('\nLedger, in-process (in-memory store, one operation at a time)');
  log(table(['operation', 'ops/s', 'p50', 'p99'], inProcess.map((r) => [r.name, formatRate(r.perSecond), formatUs(r.p50Us), formatUs(r.p99Us)])));
  const httpRow = await runLedgerHttp(o);
  if (httpRow) {
    log(`\nLedger over HTTP with persistence: ${formatRate(httpRow.perSecond)} ops/s, p50 ${formatUs(httpRow.p50Us)}, p99 ${formatUs(httpRow.p99Us)}, non-2xx ${httpRow.non2xx}`);
    if (httpRow.cpu) {
      const { msPerRequest: ms, machineBusy, windowSeconds } = httpRow.cpu;
      log(`CPU per operation: service ${ms.service} ms, PostgreSQL ${ms.postgres} ms, the load generator ${ms.loadGenerator} ms; machine busy ${(machineBusy / windowSeconds).toFixed(2)} of 2 cores`);
    }
    log(table(['operation', 'count', 'p50', 'p99'], Object.entries(httpRow.byOp).map(([op, s]) => [op, String(s.count), formatUs(s.p50Us), formatUs(s.p99Us)])));
  }
  return { inProcess, http: httpRow };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
  await runLedgerBench({
    root,
    serverUrl: process.env.BENCH_LEDGER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    connections: Number(process.env.BENCH_LEDGER_CONNECTIONS ?? 50),
    seconds: Number(process.env.BENCH_LEDGER_SECONDS ?? 20),
  });
}
