/**
 * HTTP rows: the built service as a child process over its own database, driven by wrk (bench/loadgen.ts), or with
 * BENCH_LOADGEN=node by a keep-alive loop in this process. The service's RSS is reported idle and at the row's peak.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateCases } from './cases.js';
import { runWrk, type Template } from './loadgen.js';
import { idleRssMb, RssSampler, type RssSample } from './memory.js';
import { machineTicks, summarise, type Summary } from './stats.js';

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const TENANT = 'bench';
/** Distinct bodies cycled through; every request still gets its own Idempotency-Key. */
const BODIES = 4_096;

export type Store = 'postgresql' | 'pglite';

export interface HttpOptions {
  root: string;
  store: Store;
  /** Server URL (any database on it) where the bench creates and drops its own database. */
  serverUrl: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  seed: number;
  /** Directory for `node --cpu-prof` output of the service, or undefined to run without the profiler. */
  profileDir?: string;
  /** Extra node flags for the service (e.g. --perf-basic-prof to profile it with Linux perf). */
  serviceNodeArgs: string[];
  /** Extra environment for the service. */
  env?: Record<string, string>;
  /** Start the service without `npm start`'s `--import` preloads (the telemetry one): the tracing bench's baseline. */
  withoutPreload?: boolean;
  /** Every request a refund of an order of its own (refundBodies): the same decision mix at any rate. */
  freshOrders?: boolean;
  /** Row name (default: the route and store). */
  name?: string;
  /** Run once the service is ready and before the load (seed the database, activate a release…). */
  prepare?: (setup: HttpSetup) => Promise<void>;
  /** `wrk` (default) or `node` (the loop in this process); BENCH_LOADGEN when unset. */
  loadgen?: LoadGenerator;
  /** Seconds the service is left alone after start before its idle RSS is read (default 5). */
  idleSeconds?: number;
  /** How often the service's RSS is sampled during the load, in ms (default 250). */
  rssEveryMs?: number;
  /**
   * After the saturating load, a second one on the same service at a fixed arrival rate (open loop, this process):
   * `rate` gets the saturating load's summary and returns requests per second. The row's `paced` holds it.
   */
  paced?: { rate: (saturated: Summary) => number; warmupSeconds: number; seconds: number };
  /**
   * Settings of the row's PostgreSQL database (`ALTER DATABASE … SET`, before the service connects): e.g. the features
   * bench's `synchronous_commit = off` run, whose answers do not wait for the disk's flush.
   */
  databaseSettings?: Record<string, string>;
}

export type LoadGenerator = 'wrk' | 'node';

export function loadGeneratorOf(env: string | undefined): LoadGenerator {
  if (env === undefined || env === '' || env === 'wrk') return 'wrk';
  if (env === 'node') return 'node';
  throw new Error(`BENCH_LOADGEN must be wrk or node (got "${env}")`);
}

/** The service's resident memory: after start-up settled, and sampled through warm-up and measured load. */
export interface ServiceMemory {
  idleMb?: number;
  peakMb?: number;
  /** The samples of the measured stretch, seconds from its start. */
  samples: RssSample[];
}

/** What a row's `prepare` gets: the service's port and database, and a way to call it as the admin or a new key. */
export interface HttpSetup {
  port: number;
  databaseUrl: string;
  tenant: string;
  /** An API key with these roles, of the bench tenant unless another is named. */
  issueKey(roles: string[], tenant?: string): Promise<string>;
  request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }>;
}

/** CPU seconds spent during the measured window, by whom. Linux only (read from /proc); empty elsewhere. */
export interface CpuShare {
  windowSeconds: number;
  /** CPU milliseconds per measured request: independent of how busy the rest of the machine was. */
  msPerRequest: { loadGenerator: number; service: number; postgres: number };
  loadGenerator: number;
  service: number;
  postgres: number;
  /** All CPUs, busy time (user+system+irq…) from /proc/stat; capacity is windowSeconds × cores. */
  machineBusy: number;
}

export interface HttpRow extends Summary {
  name: string;
  store: Store;
  connections: number;
  seconds: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  outcomes: Record<string, number>;
  cpu?: CpuShare;
  /** The measured stretch in CLOCK_MONOTONIC microseconds, to cut the service's CPU profile to it. */
  windowUs: { fromUs: number; toUs: number };
  profile?: string;
  /** 2 when the first run saw other processes busy and the row was measured again. */
  attempts?: number;
  loadgen: LoadGenerator;
  memory: ServiceMemory;
  /** The fixed-rate load after the saturating one (HttpOptions.paced). */
  paced?: PacedRow;
}

/** Latency at a fixed arrival rate: each request's latency counts from when it was due, so queueing shows. */
export interface PacedRow extends Summary {
  rate: number;
  seconds: number;
  non2xx: number;
  errors: number;
  cpu?: CpuShare;
}

/** A port free on 127.0.0.1 now (the OS picks it), for a server the bench starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface Answer {
  status: number;
  body: string;
}

/** One request to a server on 127.0.0.1, its whole answer read as text. */
export function request(agent: http.Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const CLK_TCK = 100; // Linux USER_HZ, the unit of /proc/*/stat times

/** The sum of two time fields of /proc/<pid>/stat (indexes after the command's closing parenthesis) in seconds, or 0 when the process is gone. */
function statSeconds(pid: number, first: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[first]) + Number(fields[first + 1])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** utime+stime of a process in seconds, or 0 when it is gone. */
export function processCpu(pid: number): number {
  return statSeconds(pid, 11);
}

/** What a PostgreSQL process is (from /proc): its CPU seconds so far, its parent, and what it serves. */
interface PgProcess {
  cpu: number;
  ppid: number;
  /** A client backend (its title names a database and a client address). */
  client: boolean;
  /** A client backend of the bench database, or a shared helper (WAL writer, checkpointer…). */
  counted: boolean;
  /** CPU seconds of its children that exited and were reaped (cutime + cstime): for the postmaster, its backends. */
  reaped: number;
}

/**
 * The PostgreSQL server's processes as the bench counts them: the backends connected to the bench database plus the
 * shared helpers, by pid; the other databases' backends, by pid, to take out again when they exit; and the CPU of the
 * backends that exited, as the bench's postmaster has reaped it.
 */
interface PostgresCpu {
  byPid: Map<number, number>;
  others: Map<number, number>;
  reaped: number;
}

/** cutime+cstime of a process in seconds (its reaped children's CPU), or 0 when it is gone. */
function reapedCpu(pid: number): number {
  return statSeconds(pid, 13);
}

function pgProcesses(database: string | undefined): Map<number, PgProcess> {
  const all = new Map<number, PgProcess>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A client backend's title is "postgres: <cluster>: <user> <database> <host>(<port>) <state>".
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (title.trim() === '') continue; // exited, not yet reaped: its CPU is about to move to the postmaster's
      const client = /\(\d+\)|\[local\]/.test(title);
      all.set(Number(entry), {
        cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
        ppid: Number(fields[1]),
        client,
        counted: !client || (database !== undefined && title.includes(` ${database} `)),
        reaped: (Number(fields[13]) + Number(fields[14])) / CLK_TCK,
      });
    } catch {
      // the process exited while we looked
    }
  }
  return all;
}

function postgresCpu(database: string | undefined): PostgresCpu {
  // The postmaster is read before its backends (pid order): one that exits between would be in neither. Looked at
  // twice, the reaped total must not have moved; otherwise look again.
  for (let attempt = 0; ; attempt++) {
    const all = pgProcesses(database);
    // The bench's postmaster: the parent of its database's backends (else the server's root process).
    const parents = new Set([...all.values()].filter((p) => p.client && p.counted).map((p) => p.ppid));
    const postmasters = [...all.entries()].filter(([pid, p]) => (parents.size > 0 ? parents.has(pid) : !all.has(p.ppid))).map(([pid]) => pid);
    const reaped = postmasters.reduce((sum, pid) => sum + all.get(pid)!.reaped, 0);
    if (attempt < 3 && postmasters.reduce((sum, pid) => sum + reapedCpu(pid), 0) !== reaped) continue;
    const byPid = new Map<number, number>();
    const others = new Map<number, number>();
    for (const [pid, p] of all) (p.client && !p.counted ? others : byPid).set(pid, p.cpu);
    return { byPid, others, reaped };
  }
}

/**
 * CPU seconds PostgreSQL spent for the bench between two looks. A backend that exits in between (the service's pool
 * closing idle connections after a saturating load) takes its CPU out of /proc: summing the live ones made paced rows
 * negative. Its CPU is in the postmaster's reaped total instead, less what it had spent before the first look. Another
 * database's backend that exits is taken out the same way, except for what it spent during the window (unknowable).
 */
function postgresCpuBetween(a: PostgresCpu, b: PostgresCpu): number {
  let total = b.reaped - a.reaped;
  for (const [pid, cpu] of b.byPid) total += cpu - (a.byPid.get(pid) ?? 0);
  for (const [pid, cpu] of a.byPid) if (!b.byPid.has(pid)) total -= cpu;
  for (const [pid, cpu] of a.others) if (!b.others.has(pid)) total -= cpu;
  return total;
}

export function machineBusy(): number {
  return (machineTicks()?.busy ?? 0) / CLK_TCK;
}

interface CpuSnapshot {
  at: bigint;
  self: NodeJS.CpuUsage;
  service: number;
  postgres: PostgresCpu;
  machine: number;
}

export function cpuSnapshot(servicePid: number, database: string | undefined): CpuSnapshot | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  return { at: process.hrtime.bigint(), self: process.cpuUsage(), service: processCpu(servicePid), postgres: postgresCpu(database), machine: machineBusy() };
}

/** `generatorSeconds`: the load generator's CPU over the window when it is not this process (wrk). */
export function cpuShare(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined, requests: number, seconds: number, generatorSeconds?: number): CpuShare | undefined {
  if (!a || !b) return undefined;
  const self = process.cpuUsage(a.self);
  const windowSeconds = Number(b.at - a.at) / 1e9;
  const loadGenerator = generatorSeconds ?? (self.user + self.system) / 1e6;
  const service = b.service - a.service;
  const postgres = postgresCpuBetween(a.postgres, b.postgres);
  // The CPU window runs from the end of the warm-up until the last in-flight request returned.
  const perRequest = (cpuSeconds: number) => Math.round(((cpuSeconds * 1000) / ((requests * windowSeconds) / seconds)) * 100) / 100;
  return {
    windowSeconds,
    msPerRequest: { loadGenerator: perRequest(loadGenerator), service: perRequest(service), postgres: perRequest(postgres) },
    loadGenerator,
    service,
    postgres,
    machineBusy: b.machine - a.machine,
  };
}

class Service {
  private output = '';
  private exited = false;
  readonly exit: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString('utf8')).slice(-4_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exited = true;
        resolve(code);
      }),
    );
  }

  get log(): string {
    return this.output;
  }

  async waitReady(port: number, agent: http.Agent, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`service exited before it was ready:\n${this.output}`);
      try {
        const r = await request(agent, port, 'GET', '/readyz', {});
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`service not ready after ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM (the service closes the app and the database, and the profiler writes its file), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exit;
    clearTimeout(timer);
  }
}

interface BenchDatabase {
  url: string;
  /** The PostgreSQL database name; undefined for PGlite. */
  name?: string;
  drop(): Promise<void>;
}

export async function createDatabase(store: Store, serverUrl: string, settings: Record<string, string> = {}, name = `dp_bench_${process.pid}`): Promise<BenchDatabase> {
  if (store === 'pglite') {
    const dir = await mkdtemp(join(tmpdir(), 'dp-bench-pglite-'));
    return { url: `pglite://${dir}`, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`drop database if exists "${name}" with (force)`);
  await admin(`create database "${name}"`);
  for (const [setting, value] of Object.entries(settings)) {
    if (!/^[a-z_]+$/.test(setting)) throw new Error(`not a PostgreSQL setting name: ${setting}`);
    await admin(`alter database "${name}" set ${setting} = '${value.replaceAll("'", "''")}'`);
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

/**
 * The bench's refund requests: BODIES generated cases, each with the place of its refundId (`rf_` + a per-request id:
 * a refundId decided twice is 409 REFUND_EXISTS, so every request is a refund of its own). With `freshOrders` the
 * orderId gets the same id (`ord_` + id): otherwise the cases' orders are refunded again each time the bodies come
 * round, so the longer or faster a run, the more of its answers are cheap DENYs of an order already refunded, and
 * two runs at different rates decide different mixes.
 */
export function refundBodies(seed: number, o: { freshOrders?: boolean } = {}): Template[] {
  return generateCases(BODIES, seed).map((c) => {
    const json = JSON.stringify({ case: { ...c, refundId: '\u0000', ...(o.freshOrders && { orderId: '\u0001' }) } });
    // split with the marker captured: [text, marker, text, marker, …, text]; each marker becomes its field's prefix.
    const pieces = json.split(/\\u000([01])/);
    const parts: string[] = [];
    let current = pieces[0]!;
    for (let i = 1; i < pieces.length; i += 2) {
      parts.push(current + (pieces[i] === '0' ? 'rf_' : 'ord_'));
      current = pieces[i + 1]!;
    }
    parts.push(current);
    return parts;
  });
}

/** What a load run measured. */
export interface Load {
  summary: Summary;
  statuses: Record<string, number>;
  outcomes: Record<string, number>;
  errors: number;
  firstFailure: string;
  cpu?: CpuShare;
  windowUs: { fromUs: number; toUs: number };
}

/** wrk: a warm-up run, then the measured run with CPU snapshots around it (`measuring` is called as it starts). */
async function wrkLoad(o: HttpOptions, port: number, key: string, bodies: Template[], run: string, servicePid: number, database: string | undefined, log: (line: string) => void, measuring: () => void): Promise<Load> {
  const spec = { port, path: '/v1/decisions/refund', bodies, authorization: `Bearer ${key}`, marker: '"outcome":"', connections: o.connections };
  if (o.warmupSeconds > 0) await runWrk({ ...spec, seconds: o.warmupSeconds, runId: `${run}w` }, log);
  measuring();
  return saturatedLoad(port, key, bodies, `${run}m`, servicePid, database, o.connections, o.seconds, log);
}

/** wrk's closed loop of `connections` for `seconds`, with CPU snapshots around it (no warm-up). */
export async function saturatedLoad(port: number, key: string, bodies: Template[], run: string, servicePid: number, database: string | undefined, connections: number, seconds: number, log: (line: string) => void): Promise<Load> {
  const spec = { port, path: '/v1/decisions/refund', bodies, authorization: `Bearer ${key}`, marker: '"outcome":"', connections };
  const before = cpuSnapshot(servicePid, database);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await runWrk({ ...spec, seconds, runId: run }, log);
  const after = cpuSnapshot(servicePid, database);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpu = cpuShare(before, after, r.requests, r.durationSeconds, r.cpuSeconds);
  return {
    summary: { count: r.requests, perSecond: r.requests / r.durationSeconds, p50Us: r.p50Us, p90Us: r.p90Us, p99Us: r.p99Us, maxUs: r.maxUs },
    statuses: r.statuses,
    outcomes: r.outcomes,
    errors: r.errors,
    firstFailure: r.firstFailure,
    ...(cpu && { cpu }),
    windowUs: { fromUs, toUs },
  };
}

/** The keep-alive loop in this process (BENCH_LOADGEN=node): its CPU is this process's. */
async function nodeLoad(o: HttpOptions, agent: http.Agent, port: number, key: string, bodies: Template[], run: string, servicePid: number, database: string | undefined, measuring: () => void): Promise<Load> {
  let seq = 0;
  const statuses: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  let errors = 0;
  let lastError = '';

  const t0 = process.hrtime.bigint();
  const measureFrom = t0 + BigInt(Math.round(o.warmupSeconds * 1e9));
  const measureTo = measureFrom + BigInt(Math.round(o.seconds * 1e9));
  let before: CpuSnapshot | undefined;
  const snapshotAt = setTimeout(() => {
    measuring();
    before = cpuSnapshot(servicePid, database);
  }, o.warmupSeconds * 1000);

  const connection = async () => {
    for (;;) {
      const start = process.hrtime.bigint();
      if (start >= measureTo) return;
      const n = seq++;
      const body = Buffer.from(bodies[n % bodies.length]!.join(`${run}_${n}`));
      try {
        const r = await request(
          agent,
          port,
          'POST',
          '/v1/decisions/refund',
          {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'content-length': String(body.length),
            'idempotency-key': `bench-${run}-${n}`,
          },
          body,
        );
        const end = process.hrtime.bigint();
        if (end < measureFrom || end > measureTo) continue;
        latencies.push(Number(end - start));
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        // The outcome sits near the start of the document; no need to parse the whole trace.
        const at = r.body.indexOf('"outcome":"');
        if (at >= 0) {
          const outcome = r.body.slice(at + 11, r.body.indexOf('"', at + 11));
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        } else if (r.status >= 300 && lastError === '') lastError = `${r.status} ${r.body.slice(0, 300)}`;
      } catch (e) {
        const end = process.hrtime.bigint();
        if (end >= measureFrom && end <= measureTo) errors++;
        if (lastError === '') lastError = (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, connection));
  clearTimeout(snapshotAt);
  const after = cpuSnapshot(servicePid, database);
  const cpu = cpuShare(before, after, latencies.length, o.seconds);
  return {
    summary: summarise(Float64Array.from(latencies), o.seconds * 1e9),
    statuses,
    outcomes,
    errors,
    firstFailure: lastError,
    ...(cpu && { cpu }),
    windowUs: { fromUs: Number(measureFrom / 1000n), toUs: Number(measureTo / 1000n) },
  };
}

/**
 * Waits until the service's payout worker has paid every refund the saturating load approved (none APPROVED or
 * PROCESSING), at most `maxSeconds`. Otherwise the paced row measures that backlog's payouts, not its own load: the
 * saturating row approves faster than the worker pays, and the rest drains while the paced row runs.
 */
async function drainPayouts(url: string, log: (line: string) => void, maxSeconds = 180): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t0 = Date.now();
    let first: number | undefined;
    for (;;) {
      const { rows } = await c.query<{ n: string }>(`select count(*) as n from refunds where state in ('APPROVED', 'PROCESSING')`);
      const n = Number(rows[0]?.n ?? 0);
      first ??= n;
      const waited = (Date.now() - t0) / 1000;
      if (n === 0 || waited >= maxSeconds) {
        log(`  payouts left by the saturating load: ${first}; ${n === 0 ? 'paid' : `${n} still due`} after ${waited.toFixed(1)} s, then the paced row`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await c.end();
  }
}

/**
 * Open loop at `rate` requests per second for warm-up + `seconds` (BENCH_ONLY=features' paced rows): request n is due
 * at start + n / rate and sent then, whether or not earlier ones have returned (up to the agent's sockets, then
 * queued), and its latency counts from when it was due, so a slower service shows as queueing, not as fewer requests.
 */
export interface PacedSplit {
  /** The side (0 or 1) request n goes to, and each side's API key (e.g. two tenants on two releases). */
  sideOf(n: number): 0 | 1;
  keys: readonly [string, string];
}

/** A paced load's answers by side (PacedSplit): each side's latency summary over the same window. */
export interface SplitLoad extends Load {
  sides: [Summary, Summary];
  /** Each side's measured requests that got no 2xx answer or no answer at all (the answers' latencies are in its summary, the others' are not). */
  failedBySide: [number, number];
}

export async function pacedLoad(agent: http.Agent, port: number, key: string | PacedSplit, bodies: Template[], run: string, servicePid: number, database: string | undefined, rate: number, warmupSeconds: number, seconds: number): Promise<SplitLoad> {
  const statuses: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  const bySide: [number[], number[]] = [[], []];
  const failedBySide: [number, number] = [0, 0];
  let errors = 0;
  let lastError = '';
  const t0 = process.hrtime.bigint();
  const measureFrom = t0 + BigInt(Math.round(warmupSeconds * 1e9));
  const measureTo = measureFrom + BigInt(Math.round(seconds * 1e9));
  const total = Math.floor(rate * (warmupSeconds + seconds));
  const dueAt = (n: number) => t0 + BigInt(Math.round((n / rate) * 1e9));
  let before: CpuSnapshot | undefined;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (n: number) => {
    const due = dueAt(n);
    const body = Buffer.from(bodies[n % bodies.length]!.join(`${run}p_${n}`));
    const side = typeof key === 'string' ? 0 : key.sideOf(n);
    const bearer = typeof key === 'string' ? key : key.keys[side];
    const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'content-length': String(body.length), 'idempotency-key': `bench-${run}-p${n}` };
    const p = request(agent, port, 'POST', '/v1/decisions/refund', headers, body).then(
      (r) => {
        if (due < measureFrom || due >= measureTo) return;
        const latency = Number(process.hrtime.bigint() - due);
        latencies.push(latency);
        bySide[side].push(latency);
        if (r.status < 200 || r.status >= 300) failedBySide[side]++;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const at = r.body.indexOf('"outcome":"');
        if (at >= 0) {
          const outcome = r.body.slice(at + 11, r.body.indexOf('"', at + 11));
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        } else if (r.status >= 300 && lastError === '') lastError = `${r.status} ${r.body.slice(0, 300)}`;
      },
      (e: Error) => {
        if (due >= measureFrom && due < measureTo) {
          errors++;
          failedBySide[side]++;
        }
        if (lastError === '') lastError = e.message;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  while (sent < total) {
    const now = process.hrtime.bigint();
    if (before === undefined && now >= measureFrom) before = cpuSnapshot(servicePid, database);
    while (sent < total && dueAt(sent) <= now) send(sent++);
    const next = sent < total ? Number(dueAt(sent) - process.hrtime.bigint()) / 1e6 : 0;
    // setTimeout's 1 ms granularity: a request is sent at most ~1 ms late, and that lateness is counted in its latency.
    await new Promise((r) => setTimeout(r, Math.max(0, Math.floor(next))));
  }
  await Promise.all(inFlight);
  const after = cpuSnapshot(servicePid, database);
  const measured = latencies.length + errors;
  const cpu = cpuShare(before, after, measured, seconds);
  return {
    summary: summarise(Float64Array.from(latencies), seconds * 1e9),
    sides: [summarise(Float64Array.from(bySide[0]), seconds * 1e9), summarise(Float64Array.from(bySide[1]), seconds * 1e9)],
    failedBySide,
    statuses,
    outcomes,
    errors,
    firstFailure: lastError,
    ...(cpu && { cpu }),
    windowUs: { fromUs: Number(measureFrom / 1000n), toUs: Number(measureTo / 1000n) },
  };
}

/**
 * The node flags `npm start` runs the service with (package.json's start script), values included (`--import
 * ./dist/apps/decision-api/telemetry.js`, relative to the root the service runs in), so the bench runs it the same way.
 */
export function startNodeFlags(root: string): string[] {
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start ?? '';
  const words = start.split(/\s+/);
  const node = words.indexOf('node');
  const main = words.findIndex((w) => w.endsWith('main.js'));
  return node >= 0 && main > node ? words.slice(node + 1, main) : [];
}

/** startNodeFlags without `--import <module>` (and `--import=<module>`): the service with no preload at all. */
export function withoutImports(flags: string[]): string[] {
  return flags.filter((f, i) => !(f === '--import' || f.startsWith('--import=') || flags[i - 1] === '--import'));
}

/** What must be undone if the bench is interrupted (stop the child, drop the database); run by stopAll. */
const cleanups = new Set<() => Promise<void>>();

/** A running bench service on a database of its own (startService): what a row needs to load and measure it. */
export interface BenchService extends HttpSetup {
  agent: http.Agent;
  servicePid: number;
  /** The PostgreSQL database name; undefined for PGlite. */
  database: string | undefined;
  idleMb: number | undefined;
  /** A `service` key of the bench tenant. */
  key: string;
}

type ServiceOptions = Pick<HttpOptions, 'root' | 'store' | 'serverUrl' | 'connections' | 'profileDir' | 'withoutPreload' | 'serviceNodeArgs' | 'env' | 'idleSeconds' | 'databaseSettings'>;

/** Starts the built service as `npm start` runs it, on a fresh database, runs `fn`, then stops it and drops the database. */
export async function withService<T>(o: ServiceOptions, fn: (s: BenchService) => Promise<T>): Promise<T> {
  const port = await freePort();
  if (o.databaseSettings && o.store !== 'postgresql') throw new Error('databaseSettings needs the PostgreSQL store');
  const db = await createDatabase(o.store, o.serverUrl, o.databaseSettings);
  const running: { service?: Service } = {};
  // Registered before the service starts: an interrupted start still drops the database.
  const cleanup = async () => {
    await running.service?.stop();
    await db.drop();
  };
  cleanups.add(cleanup);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
  const execArgv = [...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []), ...(o.withoutPreload ? withoutImports(startNodeFlags(o.root)) : startNodeFlags(o.root)), ...o.serviceNodeArgs];
  const service = (running.service = new Service(
    spawn(process.execPath, [...execArgv, join(o.root, 'dist/apps/decision-api/main.js')], {
      cwd: o.root,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        ADMIN_TOKEN,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_KEY: '0',
        CONTENT_ROOT: o.root,
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ));
  try {
    await service.waitReady(port, agent, 60_000);
    const servicePid = service.child.pid!;
    const idleMb = await idleRssMb(servicePid, o.idleSeconds ?? 5);
    const issueKey = async (roles: string[], tenant = TENANT): Promise<string> => {
      const issued = await request(
        agent,
        port,
        'POST',
        '/v1/admin/api-keys',
        { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        JSON.stringify({ tenant, roles, name: 'bench' }),
      );
      if (issued.status !== 201) throw new Error(`issuing a key failed: ${issued.status} ${issued.body}`);
      return (JSON.parse(issued.body) as { key: string }).key;
    };
    const key = await issueKey(['service']);
    return await fn({
      port,
      databaseUrl: db.url,
      tenant: TENANT,
      issueKey,
      request: (method, path, headers, body) => request(agent, port, method, path, headers, body),
      agent,
      servicePid,
      database: db.name,
      idleMb,
      key,
    });
  } finally {
    agent.destroy();
    cleanups.delete(cleanup);
    await cleanup();
  }
}

export async function runHttp(o: HttpOptions, log: (line: string) => void): Promise<HttpRow> {
  return withService(o, async (s) => {
    const { port, agent, servicePid, idleMb, key } = s;
    const db = { url: s.databaseUrl, name: s.database };
    await o.prepare?.(s);

    const bodies = refundBodies(o.seed, { freshOrders: o.freshOrders });
    const run = `${process.pid}-${Date.now().toString(36)}`;
    const loadgen = o.loadgen ?? loadGeneratorOf(process.env.BENCH_LOADGEN);
    log(`  ${o.store}: ${o.connections} connections (${loadgen}), ${o.warmupSeconds} s warm-up + ${o.seconds} s measured${o.profileDir ? ' (service under --cpu-prof)' : ''}; idle RSS ${idleMb?.toFixed(0) ?? '?'} MB`);
    const warmRss = new RssSampler(servicePid, o.rssEveryMs ?? 250);
    let rss: RssSampler | undefined;
    let load: Load;
    try {
      load = loadgen === 'wrk' ? await wrkLoad(o, port, key, bodies, run, servicePid, db.name, log, () => (rss = new RssSampler(servicePid, o.rssEveryMs ?? 250))) : await nodeLoad(o, agent, port, key, bodies, run, servicePid, db.name, () => (rss = new RssSampler(servicePid, o.rssEveryMs ?? 250)));
    } finally {
      warmRss.stop();
      rss?.stop();
    }
    const samples = rss?.samples ?? [];
    const peaks = [warmRss.peakMb, rss?.peakMb].filter((x): x is number => x !== undefined);
    const { summary, statuses, outcomes, errors, firstFailure, cpu } = load;
    const non2xx = Object.entries(statuses).reduce((sum, [s, n]) => (Number(s) >= 200 && Number(s) < 300 ? sum : sum + n), 0);
    if (firstFailure) log(`  first failure: ${firstFailure}`);
    const row: HttpRow = {
      name: o.name ?? `POST /v1/decisions/refund, ${o.store === 'postgresql' ? 'PostgreSQL' : 'PGlite'}`,
      store: o.store,
      connections: o.connections,
      seconds: o.seconds,
      ...summary,
      non2xx,
      errors,
      statuses,
      outcomes,
      ...(cpu && { cpu }),
      windowUs: load.windowUs,
      loadgen,
      memory: { ...(idleMb !== undefined && { idleMb }), ...(peaks.length && { peakMb: Math.max(...peaks) }), samples },
    };
    if (o.paced) {
      const rate = o.paced.rate(summary);
      if (o.store === 'postgresql') await drainPayouts(db.url, log);
      const p = await pacedLoad(agent, port, key, bodies, run, servicePid, db.name, rate, o.paced.warmupSeconds, o.paced.seconds);
      const pacedNon2xx = Object.entries(p.statuses).reduce((sum, [s, n]) => (Number(s) >= 200 && Number(s) < 300 ? sum : sum + n), 0);
      row.paced = { rate, seconds: o.paced.seconds, ...p.summary, non2xx: pacedNon2xx, errors: p.errors, ...(p.cpu && { cpu: p.cpu }) };
      if (p.firstFailure) log(`  paced: first failure: ${p.firstFailure}`);
      log(`  ${row.name}, paced at ${rate}/s: ${Math.round(p.summary.perSecond)}/s p50 ${(p.summary.p50Us / 1e3).toFixed(1)} ms p99 ${(p.summary.p99Us / 1e3).toFixed(1)} ms non-2xx ${pacedNon2xx} errors ${p.errors}${p.cpu ? `, CPU ms/request service ${p.cpu.msPerRequest.service} postgres ${p.cpu.msPerRequest.postgres}, load generator ${(p.cpu.loadGenerator / p.cpu.windowSeconds).toFixed(3)} cores` : ''}`);
    }
    const generator = cpu ? `, load generator ${(cpu.loadGenerator / cpu.windowSeconds).toFixed(3)} cores` : '';
    log(`  ${row.name}: ${Math.round(row.perSecond)}/s p50 ${(row.p50Us / 1e3).toFixed(1)} ms p99 ${(row.p99Us / 1e3).toFixed(1)} ms non-2xx ${non2xx} errors ${errors}${generator}; RSS idle ${idleMb?.toFixed(0) ?? '?'} MB, peak ${row.memory.peakMb?.toFixed(0) ?? '?'} MB`);
    return row;
  });
}

/** Stops every child still running and drops its database (bench interrupted). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...cleanups].map((c) => c()));
}
