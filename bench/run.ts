/**
 * `npm run bench`: in-process throughput and latency of the refund release and of the engines under it, then the
 * built HTTP service with persistence (PostgreSQL, and PGlite for information). Prints a table and writes
 * bench/results/latest.json with the machine it ran on. See docs/benchmarks.md.
 *
 * Knobs (environment): BENCH_CASES, BENCH_WARMUP, BENCH_SEED, BENCH_OVERLAP, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_SECONDS,
 * BENCH_WARMUP_SECONDS, BENCH_QUIET_WAIT, BENCH_DATABASE_URL, BENCH_ONLY=in-process|http|opa-server|soak|ledger|simulation|whatif|review-queue|events|payouts|features|features-mixed|compare|wasm-budget|tracing|console, BENCH_PGLITE=0,
 * BENCH_LOADGEN=wrk|node (the HTTP and ledger rows' load generator: wrk, installed with apt-get when missing, or a loop in this process),
 * BENCH_IDLE_SECONDS (seconds the service is left alone after start before its idle RSS is read, default 5),
 * BENCH_OPA_ROUNDS (opa-server: service/OPA pairs, default 2), BENCH_SOAK_SECONDS (soak: seconds of HTTP load, default 600;
 * not part of a full run), BENCH_SOAK_SAMPLE_SECONDS (RSS sampling period, default 5),
 * BENCH_FEATURES_ROUNDS (features off/on pairs, default 2), BENCH_FEATURES_PACED_SHARE (features: the paced rows' rate as a
 * share of the first off row's throughput, default 0.5; 0 for none), BENCH_FEATURES_SYNCHRONOUS_COMMIT=on|off (features: off
 * runs both sides with synchronous_commit = off, the disk's flush stalls out of the comparison; default on),
 * BENCH_DISK_PROBE_SECONDS (features: the disk flush probe before and after the rows, default 10; 0 for none),
 * BENCH_FEATURES_MIXED_RATE, BENCH_FEATURES_MIXED_SECONDS, BENCH_FEATURES_PAIRS, BENCH_FEATURES_BLOCK_SECONDS (features-mixed,
 * not part of a full run: the open-loop rate, default 150/s; the mixed stretch, default 60 s; single-side block pairs,
 * default 6, of 8 s each; BENCH_FEATURES_PAYOUTS=0 runs it without the payout worker), BENCH_TRACING_ROUNDS (tracing: off/on pairs, default 2; not part of a
 * full run),
 * BENCH_PAYOUT_REFUNDS, BENCH_PAYOUT_CONCURRENCY,
 * BENCH_PROFILE=1, BENCH_SERVICE_NODE_ARGS, BENCH_BASELINE=<git revision> (with BENCH_BASELINE_ROUNDS, BENCH_COMPARE_BLOCKS,
 * BENCH_COMPARE_BLOCK_SIZE, BENCH_COMPARE_RELEASE=builtin, BENCH_COMPARE_HTTP=0): the refund decision in-process and over HTTP against that revision's build, interleaved.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareBaseline, type Baseline } from './baseline.js';
import { runCompare, type CompareResult } from './compare.js';
import { runHttp, stopAll, type CpuShare, type HttpRow } from './http.js';
import { slopeMbPerMin } from './memory.js';
import { ensureOpa, riskInputs, runOpaRow, type OpaRow } from './opa-server.js';
import { runInProcess, type InProcessResult, type Quiet } from './in-process.js';
import { runLedgerBench, type LedgerBenchResult } from './ledger.js';
import { runSimulationBench, type SimulationBenchResult } from './simulation.js';
import { runWasmBudgetBench, type WasmBudgetResult } from './wasm-budget.js';
import { runWhatIfBench, type WhatIfBenchResult } from './whatif.js';
import { runReviewQueueBench, type ReviewQueueBenchResult } from './review-queue.js';
import { runEventsBench, type EventsBenchResult } from './events.js';
import { runFeaturesBench, runFeaturesMixed, type FeaturesBenchResult, type FeaturesMixedResult } from './features.js';
import { runTracingBench, type TracingBenchResult } from './tracing.js';
import { runConsoleBench, type ConsoleBenchResult } from './console.js';
import { runPayoutBench, type PayoutBenchRow } from './payouts.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './profile.js';
import { backgroundLoad, formatRate, formatUs, machineInfo, table } from './stats.js';

const TARGET_IN_PROCESS_PER_S = 20_000;
const TARGET_HTTP_PER_S = 2_000;
const TARGET_HTTP_P99_MS = 50;
/** Issue 11: replayed cases/s for 100,000 stored decisions. */
const TARGET_REPLAY_PER_S = 25_000;
/** Issue 9: an event reaches a webhook receiver within this long (p99) while decisions run at load. */
const TARGET_EVENT_LAG_P99_MS = 1_000;
const QUIET_CORES = 0.25;
/** The issue's bound on what the generic decision-type pipeline may cost over the hand-written refund decider. */
const BASELINE_TOLERANCE = 0.05;

/** A share between 0 and 1 (0: off). */
function share(name: string, def: number): number {
  const n = num(name, def);
  if (n > 1) throw new Error(`${name} must be between 0 and 1 (got ${n})`);
  return n;
}

function synchronousCommitOf(raw: string | undefined): 'on' | 'off' {
  if (raw === undefined || raw === '' || raw === 'on') return 'on';
  if (raw === 'off') return 'off';
  throw new Error(`BENCH_FEATURES_SYNCHRONOUS_COMMIT must be on or off (got "${raw}")`);
}

function num(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number (got "${raw}")`);
  return n;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const only = process.env.BENCH_ONLY;
const profiling = process.env.BENCH_PROFILE === '1';
const config = {
  cases: num('BENCH_CASES', 20_000),
  warmup: num('BENCH_WARMUP', 5_000),
  seed: num('BENCH_SEED', 42),
  overlap: num('BENCH_OVERLAP', 16),
  rounds: Math.max(1, num('BENCH_ROUNDS', 3)),
  connections: num('BENCH_CONNECTIONS', 50),
  seconds: num('BENCH_SECONDS', 20),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 3),
  serverUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  pglite: process.env.BENCH_PGLITE !== '0',
  profile: profiling,
  quietWaitSeconds: num('BENCH_QUIET_WAIT', 90),
  serviceNodeArgs: (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean),
  baseline: process.env.BENCH_BASELINE || undefined,
  baselineRounds: Math.max(1, num('BENCH_BASELINE_ROUNDS', 3)),
  compareBlocks: Math.max(2, num('BENCH_COMPARE_BLOCKS', 20)),
  compareBlockSize: Math.max(1, num('BENCH_COMPARE_BLOCK_SIZE', 2_000)),
  idleSeconds: num('BENCH_IDLE_SECONDS', 5),
  opaRounds: Math.max(1, num('BENCH_OPA_ROUNDS', 2)),
  soakSeconds: Math.max(60, num('BENCH_SOAK_SECONDS', 600)),
  soakSampleSeconds: Math.max(1, num('BENCH_SOAK_SAMPLE_SECONDS', 5)),
};
if (only === 'compare' && !config.baseline) {
  console.error('BENCH_ONLY=compare needs BENCH_BASELINE=<git revision> (e.g. BENCH_BASELINE=f7c6200)');
  process.exit(2);
}
// A comparison adds a build, the in-process pairs and 2 × BENCH_BASELINE_ROUNDS HTTP runs.
// The features row seeds a million events per run and runs 2 × BENCH_FEATURES_ROUNDS services.
const featureRounds = Math.max(1, num('BENCH_FEATURES_ROUNDS', 2));
// The tracing row runs 2 × BENCH_TRACING_ROUNDS services.
const tracingRounds = Math.max(1, num('BENCH_TRACING_ROUNDS', 2));
// The opa-server row may first build the OPA CLI (go install: minutes) and runs 2 × BENCH_OPA_ROUNDS rows.
const TIME_LIMIT_MS =
  (15 +
    (config.baseline ? 3 + config.baselineRounds * 2 : 0) +
    (only === undefined || only === 'features' ? featureRounds * 2 : 0) +
    (only === undefined || only === 'opa-server' ? 10 + config.opaRounds * 2 : 0) +
    (only === 'soak' ? Math.ceil(config.soakSeconds / 60) + 2 : 0) +
    (only === 'tracing' ? tracingRounds * 2 : 0) +
    (only === 'features-mixed' ? 10 : 0)) *
  60_000;
let baseline: Baseline | undefined;

const log = (line: string) => console.log(line);

/** Cores that processes other than the bench, the service and its PostgreSQL backends kept busy. */
function othersCores(c: CpuShare): number {
  return Math.max(0, c.machineBusy - c.loadGenerator - c.service - c.postgres) / c.windowSeconds;
}

/** Average cores each party used over the measured window; "others" is the rest of the machine's busy time. */
function cores(c: CpuShare): string {
  const per = (seconds: number) => (seconds / c.windowSeconds).toFixed(2);
  return `${per(c.loadGenerator)} / ${per(c.service)} / ${per(c.postgres)} / ${othersCores(c).toFixed(2)}`;
}

function pct(value: number, target: number): string {
  const d = ((value - target) / target) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(0)}%`;
}

interface Comparison {
  baseline: { rev: string; commit: string };
  /** One in-process A/B process per round (bench/compare.ts). */
  inProcess: CompareResult[];
  /** POST /v1/decisions/refund on PostgreSQL, the baseline's build and this one's, alternating. */
  http: { before: HttpRow[]; after: HttpRow[] };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The refund decision against the baseline's build, interleaved: BENCH_BASELINE_ROUNDS in-process A/B processes, then
 * BENCH_BASELINE_ROUNDS pairs of HTTP runs (baseline, this tree, baseline, this tree…) on PostgreSQL.
 */
async function compareWithBaseline(b: Baseline, waitQuiet: (what: string) => Promise<unknown>): Promise<Comparison> {
  const rounds = config.baselineRounds;
  log(`\nAgainst baseline ${b.rev} (${b.commit.slice(0, 12)}): ${rounds} in-process A/B processes (${config.compareBlocks} blocks of ${config.compareBlockSize} decisions per side), then ${rounds} HTTP pairs`);
  const inProcess: CompareResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    await waitQuiet(`comparison round ${round}`);
    const r = await runCompare({ root, baselineRoot: b.root, cases: config.cases, warmup: config.warmup, seed: config.seed, blocks: config.compareBlocks, blockSize: config.compareBlockSize });
    log(`  in-process ${round}: before (${r.api.before}) ${formatRate(r.before.perSecond)}/s, after (${r.api.after}) ${formatRate(r.after.perSecond)}/s, paired after/before ${r.ratio.wall.toFixed(3)} (per CPU-s ${r.ratio.cpu.toFixed(3)}); ÷ raw opa-wasm ${r.anchor.before.toFixed(3)} / ${r.anchor.after.toFixed(3)}; other processes ${r.otherCoresBusy ?? '?'} cores`);
    inProcess.push(r);
  }
  const http: Comparison['http'] = { before: [], after: [] };
  // BENCH_COMPARE_HTTP=0: the in-process rounds alone (a change that cannot move the HTTP row).
  for (let round = 1; round <= (process.env.BENCH_COMPARE_HTTP === '0' ? 0 : rounds); round++) {
    for (const side of ['before', 'after'] as const) {
      await waitQuiet(`HTTP comparison round ${round} (${side})`);
      const row = await runHttp(
        { root: side === 'before' ? b.root : root, store: 'postgresql', serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs },
        (line) => log(`  ${side}:${line}`),
      );
      http[side].push({ ...row, name: `${row.name} (${side === 'before' ? b.rev : 'this tree'})` });
    }
  }
  return { baseline: { rev: b.rev, commit: b.commit }, inProcess, http };
}

/**
 * The service's CPU per decision relative to PostgreSQL's, after over before. PostgreSQL does the same work per decision
 * for both builds (one insert statement), so its CPU per decision moves only with the machine: this ratio is the HTTP
 * row's in-run anchor, as raw opa-wasm is the in-process one. Above 1: the service costs more per decision.
 */
function serviceOverPostgres(after: CpuShare, before: CpuShare): number {
  return after.service / after.postgres / (before.service / before.postgres);
}

function logComparison(c: Comparison): void {
  const base = `${c.baseline.rev} (${c.baseline.commit.slice(0, 12)})`;
  log(`\nRefund decision, this tree against ${base}, interleaved in this run:`);
  log(
    table(
      ['In-process A/B round', 'before/s', 'after/s', 'after/before (paired)', 'per CPU-s', 'before ÷ opa', 'after ÷ opa', 'others'],
      c.inProcess.map((r, i) => [
        `${i + 1}: ${r.api.before} vs ${r.api.after}`,
        formatRate(r.before.perSecond),
        formatRate(r.after.perSecond),
        r.ratio.wall.toFixed(3),
        r.ratio.cpu.toFixed(3),
        r.anchor.before.toFixed(3),
        r.anchor.after.toFixed(3),
        r.otherCoresBusy === undefined ? '-' : r.otherCoresBusy.toFixed(2),
      ]),
    ),
  );
  const pairs = c.http.before.map((b, i) => [b, c.http.after[i]!] as const);
  log(
    table(
      ['HTTP PostgreSQL round', 'before req/s', 'after req/s', 'after/before', 'p99 before / after', 'service CPU ms/req before / after', 'service ÷ PostgreSQL CPU, after/before', 'others before / after', 'RSS MB idle / peak, before → after'],
      pairs.map(([b, a], i) => [
        String(i + 1),
        formatRate(b.perSecond),
        formatRate(a.perSecond),
        (a.perSecond / b.perSecond).toFixed(3),
        `${formatUs(b.p99Us)} / ${formatUs(a.p99Us)}`,
        b.cpu && a.cpu ? `${b.cpu.msPerRequest.service.toFixed(2)} / ${a.cpu.msPerRequest.service.toFixed(2)}` : '-',
        b.cpu && a.cpu ? serviceOverPostgres(a.cpu, b.cpu).toFixed(3) : '-',
        b.cpu && a.cpu ? `${othersCores(b.cpu).toFixed(2)} / ${othersCores(a.cpu).toFixed(2)}` : '-',
        `${mb(b.memory)} → ${mb(a.memory)}`,
      ]),
    ),
  );
  // Both medians are of paired ratios: each "after" run against the "before" run next to it.
  const inProcessRatio = median(c.inProcess.map((r) => r.ratio.wall));
  const httpRatio = median(pairs.map(([b, a]) => a.perSecond / b.perSecond));
  const verdict = (ratio: number) => `${ratio.toFixed(3)} (${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%) — ${ratio >= 1 - BASELINE_TOLERANCE ? 'within' : 'OUTSIDE'} ${BASELINE_TOLERANCE * 100}%`;
  const anchored = median(pairs.flatMap(([b, a]) => (a.cpu && b.cpu ? [serviceOverPostgres(a.cpu, b.cpu)] : [])));
  log(`  medians: in-process after/before ${verdict(inProcessRatio)}; HTTP after/before ${Number.isFinite(httpRatio) ? verdict(httpRatio) : '-'}${Number.isFinite(anchored) ? `, service ÷ PostgreSQL CPU per decision ${anchored.toFixed(3)}` : ''}`);
  log(`  (a shared machine moves single runs by far more than 5%: trust the paired in-process ratio and repeat HTTP rounds)`);
}

const mb = (m: { idleMb?: number; peakMb?: number }) => `${m.idleMb?.toFixed(0) ?? '-'} / ${m.peakMb?.toFixed(0) ?? '-'}`;

/** Issue 11's memory targets for the service, in MiB of RSS. */
const TARGET_RSS_IDLE_MB = 150;
const TARGET_RSS_PEAK_MB = 250;

interface OpaServerResult {
  /** The release, decision type and policy whose risk step the OPA inputs reproduce. */
  release: string;
  /** Each round: the service's row, then OPA's. */
  pairs: { service: HttpRow; opa: OpaRow }[];
}

interface SoakResult {
  row: HttpRow;
  /** Seconds of load before the trend is counted. */
  fromS: number;
  slopeMbPerMin: number;
  firstMb?: number;
  lastMb?: number;
  minMb?: number;
  maxMb?: number;
}

/** Cores that processes other than wrk and OPA kept busy during OPA's row. */
function opaOthersCores(c: NonNullable<OpaRow['cpu']>): number {
  return Math.max(0, c.machineBusy - c.loadGenerator - c.opa) / c.windowSeconds;
}

function logOpaServer(r: OpaServerResult): void {
  log(`Service (every decision stored) against opa run --server (the risk policy alone, nothing stored), same wrk load, alternating:`);
  log(
    table(
      ['Round', 'service req/s', 'OPA req/s', 'service ÷ OPA', 'p50 service / OPA', 'p99 service / OPA', 'CPU ms/req: service + PostgreSQL / OPA', 'non-2xx service / OPA', 'wrk cores service / OPA row', 'others service / OPA row', 'RSS MB idle / peak: service, OPA'],
      r.pairs.map(({ service: s, opa: o }, i) => [
        String(i + 1),
        formatRate(s.perSecond),
        formatRate(o.perSecond),
        (s.perSecond / o.perSecond).toFixed(3),
        `${formatUs(s.p50Us)} / ${formatUs(o.p50Us)}`,
        `${formatUs(s.p99Us)} / ${formatUs(o.p99Us)}`,
        s.cpu && o.cpu ? `${s.cpu.msPerRequest.service.toFixed(2)} + ${s.cpu.msPerRequest.postgres.toFixed(2)} / ${o.cpu.msPerRequest.opa.toFixed(2)}` : '-',
        `${s.non2xx + s.errors} / ${o.non2xx + o.errors}`,
        s.cpu && o.cpu ? `${(s.cpu.loadGenerator / s.cpu.windowSeconds).toFixed(3)} / ${(o.cpu.loadGenerator / o.cpu.windowSeconds).toFixed(3)}` : '-',
        s.cpu && o.cpu ? `${othersCores(s.cpu).toFixed(2)} / ${opaOthersCores(o.cpu).toFixed(2)}` : '-',
        `${mb(s.memory)}, ${mb(o.memory)}`,
      ]),
    ),
  );
  const ratio = median(r.pairs.map(({ service: s, opa: o }) => s.perSecond / o.perSecond));
  const p99 = median(r.pairs.map(({ service: s, opa: o }) => s.p99Us / o.p99Us));
  const cpu = median(r.pairs.flatMap(({ service: s, opa: o }) => (s.cpu && o.cpu ? [(s.cpu.msPerRequest.service + s.cpu.msPerRequest.postgres) / o.cpu.msPerRequest.opa] : [])));
  const ratios = r.pairs.map(({ service: s, opa: o }) => (s.perSecond / o.perSecond).toFixed(3)).join(', ');
  log(`  median service ÷ OPA ${ratio.toFixed(3)}× (pairs ${ratios}), p99 service ÷ OPA ${p99.toFixed(2)}×, CPU per request (service + PostgreSQL) ÷ OPA ${cpu.toFixed(2)}×`);
  log(`  target ≥ 1.0× with p99 no worse than OPA's: ${ratio >= 1 && p99 <= 1 ? 'met' : 'MISSED'}\n`);
}

function logSoak(s: SoakResult): void {
  const r = s.row;
  log(`Soak: ${formatRate(r.perSecond)}/s for ${r.seconds} s, p99 ${formatUs(r.p99Us)}, non-2xx ${r.non2xx}, errors ${r.errors}; RSS idle ${r.memory.idleMb?.toFixed(0) ?? '?'} MB, peak ${r.memory.peakMb?.toFixed(0) ?? '?'} MB`);
  log(`  after ${s.fromS} s: RSS ${s.firstMb?.toFixed(0) ?? '?'} → ${s.lastMb?.toFixed(0) ?? '?'} MB (min ${s.minMb?.toFixed(0) ?? '?'}, max ${s.maxMb?.toFixed(0) ?? '?'}), least-squares slope ${s.slopeMbPerMin.toFixed(2)} MB/min over ${r.memory.samples.filter((x) => x.atS >= s.fromS).length} samples\n`);
}

async function main(): Promise<void> {
  const machine = machineInfo();
  log(`decision-platform bench — ${machine.date}`);
  log(`${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, ${machine.os}`);
  if (machine.git) log(`Working tree: ${machine.git.commit.slice(0, 12)}${machine.git.modifiedFiles.length ? ` + ${machine.git.modifiedFiles.length} modified tracked files` : ''}`);
  // On a shared machine, give other jobs (test runs, builds) time to finish: before the bench and before each row,
  // wait while other processes keep more than QUIET_CORES busy, up to BENCH_QUIET_WAIT seconds in all.
  let quietBudgetMs = config.quietWaitSeconds * 1000;
  const waitQuiet = async (what: string): Promise<number | undefined> => {
    let background = await backgroundLoad(1_000);
    while (background !== undefined && background > QUIET_CORES && quietBudgetMs > 0) {
      log(`  waiting for a quiet machine before ${what}: other processes keep ${background.toFixed(2)} cores busy`);
      const started = Date.now();
      background = await backgroundLoad(3_000);
      quietBudgetMs -= Date.now() - started;
    }
    return background;
  };
  const quiet: Quiet = {
    before: waitQuiet,
    retry: async (what, otherCores) => {
      if (profiling || otherCores === undefined || otherCores <= QUIET_CORES || quietBudgetMs <= 0) return false;
      log(`  other processes kept ${otherCores.toFixed(2)} cores busy during ${what}: measuring it again`);
      await waitQuiet(what);
      return true;
    },
  };
  const background = await waitQuiet('starting');
  if (background !== undefined) {
    machine.backgroundBusyCores = Math.round(background * 100) / 100;
    log(`Before starting, other processes kept ${background.toFixed(2)} of ${machine.cpuCount} cores busy (load average ${machine.loadAverage.join(' ')})${background > QUIET_CORES ? ': figures will be lower than on an idle machine' : ''}`);
  }

  if (config.baseline) baseline = prepareBaseline(root, config.baseline, log);

  const profiles: ProfileSummary[] = [];
  let inProcess: InProcessResult | undefined;
  if (only === undefined || only === 'in-process') {
    log(`\nIn-process (one JS thread, a fresh process per row): ${config.rounds} × ${config.cases} cases after ${config.warmup} warm-up cases, seed ${config.seed}`);
    const profileDir = profiling ? join(root, 'bench/results/profiles', `${machine.date.replace(/[:.]/g, '-')}-in-process`) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    inProcess = await runInProcess({ root, cases: config.cases, warmup: config.warmup, seed: config.seed, overlap: config.overlap, rounds: config.rounds, ...(profileDir && { profileDir }) }, log, quiet);
    const file = profileDir && readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    const release = inProcess.rows[0];
    if (profileDir && file && release) profiles.push(summariseProfile(join(profileDir, file), 25, release.windowUs));
  }

  const http: HttpRow[] = [];
  if (only === undefined || only === 'http') {
    log(`\nHTTP with persistence: built service as a child process, load from ${process.env.BENCH_LOADGEN === 'node' ? 'this process' : 'wrk'}`);
    const stores = config.pglite ? (['postgresql', 'pglite'] as const) : (['postgresql'] as const);
    for (const store of stores) {
      await waitQuiet(`the ${store} run`);
      const profileDir = profiling ? join(root, 'bench/results/profiles', `${machine.date.replace(/[:.]/g, '-')}-${store}`) : undefined;
      if (profileDir) mkdirSync(profileDir, { recursive: true });
      const options = { root, store, serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs, idleSeconds: config.idleSeconds, ...(profileDir && { profileDir }) };
      let row = await runHttp(options, log);
      if (await quiet.retry(`the ${store} run`, row.cpu && othersCores(row.cpu))) {
        const again = await runHttp(options, log);
        // Of two attempts, keep the one other processes disturbed less.
        row = (again.cpu ? othersCores(again.cpu) : 0) < (row.cpu ? othersCores(row.cpu) : 0) ? { ...again, attempts: 2 } : { ...row, attempts: 2 };
      }
      if (profileDir) {
        const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          const summary = summariseProfile(join(profileDir, file), 25, row.windowUs);
          row.profile = summary.file;
          profiles.push(summary);
        }
      }
      http.push(row);
    }
  }

  let opaServer: OpaServerResult | undefined;
  if (only === undefined || only === 'opa-server') {
    log(`\nopa-server: POST /v1/decisions/refund (PostgreSQL, every decision stored) against opa run --server answering the risk policy alone; the same wrk load (${config.connections} connections, the same 4,096 cases), alternating, ${config.opaRounds} pairs`);
    const opa = ensureOpa(root, log);
    const inputs = await riskInputs(root, config.seed);
    log(`  OPA's input per case: what the risk policy step of ${inputs.release} receives for it (pseudonymized, feature values of an empty history)`);
    const pairs: OpaServerResult['pairs'] = [];
    for (let round = 1; round <= config.opaRounds; round++) {
      await waitQuiet(`opa-server round ${round} (service)`);
      const service = await runHttp(
        { root, store: 'postgresql', serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs, idleSeconds: config.idleSeconds },
        (line) => log(`  service ${round}:${line}`),
      );
      await waitQuiet(`opa-server round ${round} (OPA)`);
      const opaRow = await runOpaRow({ root, opa, inputs, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, verify: round === 1 }, (line) => log(`  opa ${round}:${line}`));
      pairs.push({ service, opa: opaRow });
    }
    opaServer = { release: inputs.release, pairs };
  }

  let soak: SoakResult | undefined;
  if (only === 'soak') {
    await waitQuiet('the soak');
    log(`\nSoak: ${config.soakSeconds} s of the HTTP row's load (PostgreSQL), the service's RSS every ${config.soakSampleSeconds} s`);
    const row = await runHttp(
      { root, store: 'postgresql', serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.soakSeconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs, idleSeconds: config.idleSeconds, rssEveryMs: config.soakSampleSeconds * 1000 },
      log,
    );
    // The heap and the pools grow to their working size first: the trend counts from the end of the first fifth (at most 2 minutes).
    const fromS = Math.min(120, config.soakSeconds / 5);
    const samples = row.memory.samples;
    const after = samples.filter((x) => x.atS >= fromS);
    soak = {
      row,
      fromS,
      slopeMbPerMin: slopeMbPerMin(samples, fromS),
      firstMb: after[0]?.mb,
      lastMb: after.at(-1)?.mb,
      minMb: after.length ? Math.min(...after.map((x) => x.mb)) : undefined,
      maxMb: after.length ? Math.max(...after.map((x) => x.mb)) : undefined,
    };
  }

  const comparison = baseline && (only === undefined || only === 'compare') ? await compareWithBaseline(baseline, waitQuiet) : undefined;

  log('');
  if (inProcess) {
    log(
      table(
        ['In-process (one JS thread)', 'in flight', 'evals/s', `${config.rounds} rounds, min–max`, 'per CPU-s', 'p50', 'p99', 'max', 'others'],
        inProcess.rows.map((r) => [
          r.name,
          String(r.concurrency),
          formatRate(r.perSecond),
          `${formatRate(Math.min(...r.rounds))}–${formatRate(Math.max(...r.rounds))}`,
          formatRate(r.perCpuSecond),
          formatUs(r.p50Us),
          formatUs(r.p99Us),
          formatUs(r.maxUs),
          r.otherCoresBusy === undefined ? '-' : r.otherCoresBusy.toFixed(2),
        ]),
      ),
    );
    log(`Outcome mix of the measured cases: ${Object.entries(inProcess.mix).map(([k, v]) => `${k} ${((v / config.cases) * 100).toFixed(1)}%`).join(', ')}`);
    log('');
  }
  if (http.length) {
    log(
      table(
        ['HTTP + persistence', 'conns', 'req/s', 'p50', 'p90', 'p99', 'non-2xx', 'errors', 'cores: loadgen / service / postgres / others', 'CPU ms/req: service / postgres', 'RSS MB idle / peak'],
        http.map((r) => [
          r.name,
          String(r.connections),
          formatRate(r.perSecond),
          formatUs(r.p50Us),
          formatUs(r.p90Us),
          formatUs(r.p99Us),
          String(r.non2xx),
          String(r.errors),
          r.cpu ? cores(r.cpu) : '-',
          r.cpu ? `${r.cpu.msPerRequest.service.toFixed(2)} / ${r.cpu.msPerRequest.postgres.toFixed(2)}` : '-',
          mb(r.memory),
        ]),
      ),
    );
    log('');
  }
  if (opaServer) logOpaServer(opaServer);
  if (soak) logSoak(soak);

  if (comparison) logComparison(comparison);
  const release = inProcess?.rows[0];
  const pgRow = http.find((r) => r.store === 'postgresql');
  if (release || pgRow || opaServer) log(`${comparison ? '\n' : ''}Targets:`);
  if (release) {
    const met = release.perSecond >= TARGET_IN_PROCESS_PER_S;
    log(`  in-process >= ${formatRate(TARGET_IN_PROCESS_PER_S)} refund decisions/s: ${formatRate(release.perSecond)}/s sequential (${pct(release.perSecond, TARGET_IN_PROCESS_PER_S)}) — ${met ? 'met' : 'MISSED'}`);
  }
  if (pgRow) {
    const rateOk = pgRow.perSecond >= TARGET_HTTP_PER_S;
    const p99Ok = pgRow.p99Us / 1e3 <= TARGET_HTTP_P99_MS;
    log(
      `  HTTP + PostgreSQL >= ${formatRate(TARGET_HTTP_PER_S)}/s at p99 <= ${TARGET_HTTP_P99_MS} ms: ${formatRate(pgRow.perSecond)}/s (${pct(pgRow.perSecond, TARGET_HTTP_PER_S)}), p99 ${formatUs(pgRow.p99Us)} — ${rateOk && p99Ok ? 'met' : 'MISSED'}${profiling ? ' (profiled run: figures are not representative)' : ''}`,
    );
  }
  const memoryRow = pgRow ?? opaServer?.pairs[0]?.service;
  if (memoryRow && (memoryRow.memory.idleMb !== undefined || memoryRow.memory.peakMb !== undefined)) {
    const idle = memoryRow.memory.idleMb ?? NaN;
    const peak = memoryRow.memory.peakMb ?? NaN;
    log(`  service RSS <= ${TARGET_RSS_IDLE_MB} MB idle, <= ${TARGET_RSS_PEAK_MB} MB at the HTTP row's peak: ${idle.toFixed(0)} / ${peak.toFixed(0)} MB — ${idle <= TARGET_RSS_IDLE_MB && peak <= TARGET_RSS_PEAK_MB ? 'met' : 'MISSED'}`);
  }
  for (const p of profiles) log(`\n${formatProfile(p)}`);

  let ledger: LedgerBenchResult | undefined;
  if (only === undefined || only === 'ledger') {
    await waitQuiet('the ledger run');
    ledger = await runLedgerBench({ root, serverUrl: config.serverUrl, connections: config.connections, seconds: config.seconds, log });
  }
  let simulation: SimulationBenchResult | undefined;
  if (only === undefined || only === 'simulation') {
    await waitQuiet('the simulation run');
    simulation = await runSimulationBench({ root, decisions: Number(process.env.BENCH_SIM_DECISIONS ?? 100_000), seed: config.seed, databaseUrl: config.serverUrl, log, ...(process.env.BENCH_SIM_RELEASE && { release: process.env.BENCH_SIM_RELEASE }) });
    log(`\nSimulation: ${formatRate(simulation.casesPerSecond)} replayed cases/s for ${formatRate(simulation.decisions)} stored decisions on ${simulation.workers} worker threads (${simulation.store}, a candidate made from ${simulation.release}); in the service's thread ${formatRate(simulation.inThreadCasesPerSecond)}/s; workers ÷ thread per round ${simulation.workerRatio.map((x) => x.toFixed(2)).join(', ')}`);
    log(`  replay >= ${formatRate(TARGET_REPLAY_PER_S)} cases/s: ${simulation.casesPerSecond >= TARGET_REPLAY_PER_S ? 'met' : 'MISSED'}`);
  }

  let wasmBudget: WasmBudgetResult | undefined;
  if (only === undefined || only === 'wasm-budget') {
    await waitQuiet('the policy budget run');
    wasmBudget = await runWasmBudgetBench({ root, log });
  }

  let whatIf: WhatIfBenchResult | undefined;
  if (only === undefined || only === 'whatif') {
    await waitQuiet('the what-if run');
    whatIf = await runWhatIfBench({ root, serverUrl: config.serverUrl, sizes: [1_000, 4_000, 10_000], log });
  }

  let reviewQueue: ReviewQueueBenchResult | undefined;
  if (only === undefined || only === 'review-queue') {
    await waitQuiet('the review queue run');
    reviewQueue = await runReviewQueueBench({ root, serverUrl: config.serverUrl, open: num('BENCH_REVIEWS_OPEN', 100_000), requests: num('BENCH_REVIEWS_REQUESTS', 2_000), log });
  }

  let events: EventsBenchResult | undefined;
  if (only === undefined || only === 'events') {
    await waitQuiet('the events run');
    events = await runEventsBench({ root, serverUrl: config.serverUrl, connections: config.connections, seconds: config.seconds, seed: config.seed, log });
    const met = events.decisionLag.p99Us / 1e3 <= TARGET_EVENT_LAG_P99_MS && events.decisionsMissing === 0;
    log(
      `  outbox delivery lag p99 <= ${TARGET_EVENT_LAG_P99_MS} ms under decision load (decision.created): ${formatUs(events.decisionLag.p99Us)}${events.decisionsMissing ? `, ${events.decisionsMissing} never received` : ''} — ${met ? 'met' : 'MISSED'}`,
    );
  }

  let payouts: PayoutBenchRow[] | undefined;
  if (only === undefined || only === 'payouts') {
    await waitQuiet('the payout run');
    payouts = await runPayoutBench({ root, serverUrl: config.serverUrl, refunds: num('BENCH_PAYOUT_REFUNDS', 5_000), concurrency: num('BENCH_PAYOUT_CONCURRENCY', 32), log });
  }

  // The console (issue 13): its initial JavaScript and page loads in Chromium over 100,000 stored decisions. Part of a
  // full run: it needs Debian's chromium (.ci/run installs it) and ~1 min of seeding.
  let consoleRow: ConsoleBenchResult | undefined;
  if (only === undefined || only === 'console') {
    await waitQuiet('the console run');
    log('\nConsole: initial JavaScript, and page loads in Chromium with stored decisions (BENCH_CONSOLE_DECISIONS)');
    consoleRow = await runConsoleBench({ root, serverUrl: config.serverUrl, decisions: num('BENCH_CONSOLE_DECISIONS', 100_000), loads: num('BENCH_CONSOLE_LOADS', 10), log });
  }

  let features: FeaturesBenchResult | undefined;
  if (only === undefined || only === 'features') {
    features = await runFeaturesBench(
      { root, serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs, rounds: featureRounds, pacedShare: share('BENCH_FEATURES_PACED_SHARE', 0.5), log,
        synchronousCommit: synchronousCommitOf(process.env.BENCH_FEATURES_SYNCHRONOUS_COMMIT), diskProbeSeconds: num('BENCH_DISK_PROBE_SECONDS', 10),
        ...(profiling && { profileDir: join(root, 'bench/results/profiles', `${machine.date.replace(/[:.]/g, '-')}-features`) }) },
      waitQuiet,
    );
  }

  let featuresMixed: FeaturesMixedResult | undefined;
  if (only === 'features-mixed') {
    await waitQuiet('features, mixed');
    featuresMixed = await runFeaturesMixed({
      root,
      serverUrl: config.serverUrl,
      connections: config.connections,
      seed: config.seed,
      serviceNodeArgs: config.serviceNodeArgs,
      rate: Math.max(1, num('BENCH_FEATURES_MIXED_RATE', 150)),
      mixedSeconds: Math.max(1, num('BENCH_FEATURES_MIXED_SECONDS', 60)),
      warmupSeconds: config.warmupSeconds,
      pairs: Math.max(1, num('BENCH_FEATURES_PAIRS', 6)),
      blockSeconds: Math.max(1, num('BENCH_FEATURES_BLOCK_SECONDS', 8)),
      synchronousCommit: synchronousCommitOf(process.env.BENCH_FEATURES_SYNCHRONOUS_COMMIT),
      payouts: process.env.BENCH_FEATURES_PAYOUTS !== '0',
      log,
    });
  }

  let tracing: TracingBenchResult | undefined;
  if (only === 'tracing') {
    tracing = await runTracingBench(
      { root, serverUrl: config.serverUrl, connections: config.connections, warmupSeconds: config.warmupSeconds, seconds: config.seconds, seed: config.seed, serviceNodeArgs: config.serviceNodeArgs, rounds: tracingRounds, log },
      waitQuiet,
    );
  }

  // Only a full, unprofiled run is the record; partial and profiled runs go to files of their own.
  const out = join(root, 'bench/results', profiling ? 'profile.json' : only ? `partial-${only}.json` : 'latest.json');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ machine, config, inProcess, http, opaServer, soak, ledger, simulation, wasmBudget, whatIf, reviewQueue, events, payouts, features, featuresMixed, tracing, console: consoleRow, comparison, profiles: profiling ? profiles : undefined }, null, 2)}\n`);
  log(`\nWrote ${out}`);
}

let stopping = false;
const abort = (why: string, code: number) => {
  if (stopping) return;
  stopping = true;
  console.error(why);
  void stopAll().finally(() => {
    baseline?.remove();
    process.exit(code);
  });
};
process.once('SIGINT', () => abort('interrupted: stopping the service and dropping the bench database', 130));
process.once('SIGTERM', () => abort('terminated: stopping the service and dropping the bench database', 143));
setTimeout(() => abort(`bench took longer than ${TIME_LIMIT_MS / 60_000} minutes; giving up`, 1), TIME_LIMIT_MS).unref();

main().then(
  () => {
    baseline?.remove();
    process.exit(0);
  },
  (e: unknown) => abort(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 1),
);
