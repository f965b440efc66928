/**
 * Simulation throughput: a replay of N stored refund decisions through the path a background `POST /v1/simulations`
 * job takes (replayItems pages from the database → runSimulation in time slices → SimulationJobs writing progress,
 * summary and kept results), in this process, on PGlite or on a fresh PostgreSQL database. The decisions are real:
 * the N generated cases decided by the built-in release, stored as the service stores them (trace included).
 *
 * Standalone: `node dist/bench/simulation.js` (after `npm run bench` compiled it, or `swc bench -d dist`), with
 * BENCH_SIM_DECISIONS (default 100000), BENCH_SIM_DATABASE_URL (default pglite://memory; a postgres:// server URL
 * gets a throwaway database), BENCH_SEED, BENCH_SIM_WORKERS (worker threads of the parallel runs, default 2) and
 * BENCH_SIM_ROUNDS (pairs of runs in the service's thread and on workers, alternating, default 2) and BENCH_SIM_RELEASE
 * (the release the stored decisions are decided by and the candidate is made from: a `releases/default` version,
 * default `1.0.0`, or `builtin` for the newest, the one the product ships).
 */
import 'reflect-metadata';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { SimulationJobs } from '../apps/decision-api/simulations/simulation-jobs.js';
import { replayItems, replayRows } from '../apps/decision-api/simulations/replay-source.js';
import {
  FileComponentSource,
  ReleaseCompiler,
  SimulationTally,
  type ComponentSource,
  type ReleaseManifest,
} from '../libs/decisions/index.js';
import { decisionDocument } from '../apps/decision-api/decisions/decisions.service.js';
import { answerJson, openDatabase, SimulationsRepository, systemClock, uuidv7, type Database } from '../libs/persistence/index.js';
import { generateCases, type RefundCase } from './cases.js';
import { refundedTotal, refundedTotalTrace } from '../libs/refunds/index.js';

export interface SimulationBenchOptions {
  /** Repository root (rule-packs/, policies/bundles/, releases/). */
  root: string;
  /** Stored decisions to replay. */
  decisions: number;
  seed: number;
  /** `pglite://memory`, `pglite://<dir>`, or a PostgreSQL server URL (a throwaway database is created and dropped there). */
  databaseUrl: string;
  /** Worker threads of the parallel runs (default 2). */
  workers?: number;
  /** Rounds of (in this thread, on workers) runs, alternating which goes first (default 2). */
  rounds?: number;
  /** The `releases/default` version that decides the stored decisions and that the candidate is made from (default `1.0.0`), or `builtin`: the newest. */
  release?: string;
  log?: (line: string) => void;
}

interface ReplayRun {
  workers: number;
  seconds: number;
  casesPerSecond: number;
  cpuSeconds: number;
  /** The job's summary and kept results as JSON, compared across runs. */
  summary: string;
  results: string;
  changed: number;
  transitions: Record<string, number>;
  window: { fromUs: number; toUs: number };
}

export interface SimulationBenchResult {
  store: 'pglite' | 'postgresql';
  /** The release the candidate was made from (`default@…`). */
  release: string;
  decisions: number;
  /** Deciding and storing the N decisions (setup, not measured). */
  seedSeconds: number;
  /** The replay (on worker threads; the median run), from the job's start to its final write. */
  seconds: number;
  casesPerSecond: number;
  /** Worker threads of that run (0: in the service's thread). */
  workers: number;
  /** The same replay in the service's thread (median run). */
  inThreadCasesPerSecond: number;
  /** On workers ÷ in this thread, per round (each pair run back to back). */
  workerRatio: number[];
  /** CPU seconds this process used during the replay (all threads; PostgreSQL's own work is not in it). */
  cpuSeconds: number;
  changed: number;
  transitions: Record<string, number>;
  /** The replay's stretch of CLOCK_MONOTONIC time (µs), to summarise a --cpu-prof profile of it (bench/profile.ts). */
  window: { fromUs: number; toUs: number };
}

const TENANT = 'bench';
const BATCH = 500;

/**
 * The candidate: a built-in release whose refund-policy (version `<its version>-bench`) has autoApproveLimit 20000
 * instead of 50000 (some approvals become reviews), everything else as shipped.
 */
function withCandidatePack(files: FileComponentSource): ComponentSource {
  return {
    pack: async (name, version) => {
      if (name !== 'refund-policy' || !version.endsWith('-bench')) return files.pack(name, version);
      const pack = (await files.pack('refund-policy', version.slice(0, -'-bench'.length))) as { parameters: Record<string, unknown>; tests: { defaults: Record<string, unknown>; cases: unknown[] } };
      return { ...pack, version, parameters: { ...pack.parameters, autoApproveLimit: 20_000 }, tests: { ...pack.tests, cases: pack.tests.cases.slice(0, 1) } };
    },
    bundle: (name, version) => files.bundle(name, version),
    type: (name, version) => files.type(name, version),
  };
}

async function throwawayDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `dp_bench_sim_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

/**
 * Decides `cases` on the built-in release `manifest` and stores them as DecisionsService does (the refund lifecycle's
 * trace entry first), the feature values the
 * decision used included (the caller's: the bench keeps no history; and the case's personal fields in clear, where the
 * service would store pseudonyms: the same shape and a few bytes' difference); answers the replay window.
 */
async function seed(db: Database, root: string, manifest: ReleaseManifest, cases: RefundCase[]): Promise<{ from: Date; to: Date }> {
  const release = await new ReleaseCompiler(new FileComponentSource(root)).compile(manifest);
  const type = release.refund();
  const start = Date.parse('2026-03-01T00:00:00Z');
  for (let i = 0; i < cases.length; i += BATCH) {
    const rows: unknown[][] = [];
    for (const [j, c] of cases.slice(i, i + BATCH).entries()) {
      const at = new Date(start + (i + j) * 10);
      const id = uuidv7(at.getTime());
      const d = await type.decide(c);
      // As the refund lifecycle stores it: the trace starts with the refunded total the rules saw (none refunded before).
      const trace = [refundedTotalTrace(refundedTotal(c.order.refundedAmount, 0)), ...d.trace] as typeof d.trace;
      const document = decisionDocument({ id, tenant: TENANT, createdAt: at.toISOString() }, type, c as unknown as Record<string, unknown>, { ...d, trace }, release.ref);
      rows.push([id, TENANT, 'refund', d.outcome, d.output.riskScore, release.ref.name, release.ref.version, JSON.stringify(release.ref.components), JSON.stringify(c), d.features ? JSON.stringify(d.features) : null, JSON.stringify(document), answerJson(document), at, at]);
    }
    await db.em().execute(
      `insert into decisions (id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, features, document, answer, evaluated_at, created_at)
       values ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?::json, ?::json, ?, ?)').join(', ')}`,
      rows.flat(),
    );
  }
  return { from: new Date(start), to: new Date(start + cases.length * 10) };
}

export async function runSimulationBench(o: SimulationBenchOptions): Promise<SimulationBenchResult> {
  const log = o.log ?? (() => {});
  const server = /^postgres(ql)?:\/\//.test(o.databaseUrl) ? await throwawayDatabase(o.databaseUrl) : undefined;
  const db = await openDatabase(server?.url ?? o.databaseUrl, { migrate: true, poolSize: 4 });
  try {
    // The stored decisions and the candidate come from the same built-in release.
    const files = new FileComponentSource(o.root);
    const shipped = o.release === 'builtin' ? await files.newestRelease('default') : await files.release('default', o.release ?? '1.0.0');
    if (!shipped) throw new Error(`bench simulation: no built-in release ${o.release ?? '1.0.0'}`);
    const version = shipped.version;
    log(`simulation: deciding and storing ${o.decisions.toLocaleString('en-US')} refund decisions of default@${version} (${db.kind})…`);
    const seedStart = performance.now();
    const window = await seed(db, o.root, shipped, generateCases(o.decisions, o.seed));
    const seedSeconds = (performance.now() - seedStart) / 1000;
    const candidateManifest = { name: 'bench-candidate', version: '1.0.0', components: { ...shipped.components, 'refund-policy': `${shipped.components['refund-policy']}-bench` } };
    const candidateRelease = await new ReleaseCompiler(withCandidatePack(new FileComponentSource(o.root))).compile(candidateManifest);
    const candidate = candidateRelease.refund();
    const repo = new SimulationsRepository();

    /** One replay as a background `POST /v1/simulations` runs it: the job row, then the same runner, on `workers` threads (0: this one). */
    const replay = async (workers: number): Promise<ReplayRun> => {
      const now = new Date();
      const id = uuidv7(now.getTime());
      await repo.insert(db.em(), {
        id,
        tenant: TENANT,
        domain: 'refund',
        mode: 'replay',
        status: 'running',
        candidate: candidateManifest,
        baseline: { kind: 'stored-decisions', from: window.from.toISOString(), to: window.to.toISOString(), limit: o.decisions, windowHasMore: false },
        total: o.decisions,
        done: 0,
        summary: new SimulationTally().summary(),
        results: [],
        resultsKept: 'changed',
        resultsTruncated: false,
        error: null,
        createdBy: 'bench',
        createdAt: now,
        heartbeatAt: now,
        finishedAt: null,
      });
      const jobs = new SimulationJobs(db, systemClock, repo);
      jobs.replayWorkers = workers;
      const cpu = process.cpuUsage();
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const t0 = performance.now();
      jobs.start({
        id,
        pages: replayItems(db, repo, TENANT, candidate, window, o.decisions),
        candidate,
        parallel: { rows: replayRows(db, repo, TENANT, candidate, window, o.decisions), release: candidateRelease.portable(), type: 'refund' },
      });
      await jobs.finished(id);
      const seconds = (performance.now() - t0) / 1000;
      const toUs = Number(process.hrtime.bigint() / 1000n);
      const used = process.cpuUsage(cpu);
      const job = await repo.get(db.em(), TENANT, id);
      if (job?.status !== 'completed' || job.done !== o.decisions) throw new Error(`bench simulation ended ${job?.status} after ${job?.done} cases: ${JSON.stringify(job?.error)}`);
      const summary = job.summary as { changed: number; transitions: Record<string, number> };
      return { workers, seconds, casesPerSecond: o.decisions / seconds, cpuSeconds: (used.user + used.system) / 1e6, summary: JSON.stringify(job.summary), results: JSON.stringify(job.results), changed: summary.changed, transitions: summary.transitions, window: { fromUs, toUs } };
    };

    // In this thread and on worker threads, alternating (A/B/A/B): the machine's background load moves both alike.
    const workers = o.workers ?? 2;
    const runs: ReplayRun[] = [];
    for (let round = 1; round <= (o.rounds ?? 2); round++) {
      for (const w of round % 2 === 1 ? [0, workers] : [workers, 0]) {
        log(`simulation: replaying them on a candidate release, ${w === 0 ? 'in this thread' : `on ${w} worker threads`} (round ${round})…`);
        const r = await replay(w);
        log(`  ${Math.round(r.casesPerSecond).toLocaleString('en-US')} cases/s in ${r.seconds.toFixed(1)} s (${r.cpuSeconds.toFixed(1)} CPU-s in this process, threads included)`);
        runs.push(r);
      }
    }
    // Faithful whatever runs it: every run's summary and kept results must be the same.
    for (const r of runs) {
      if (r.summary !== runs[0]!.summary || r.results !== runs[0]!.results) throw new Error(`bench simulation: the run on ${r.workers} worker threads answered another summary or other results than the run on ${runs[0]!.workers}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const inThread = runs.filter((r) => r.workers === 0);
    const onWorkers = runs.filter((r) => r.workers !== 0);
    const best = onWorkers.length > 0 ? onWorkers : inThread;
    const pick = best.find((r) => r.casesPerSecond === median(best.map((x) => x.casesPerSecond)))!;
    return {
      store: db.kind,
      release: `default@${version}`,
      decisions: o.decisions,
      seedSeconds,
      seconds: pick.seconds,
      casesPerSecond: pick.casesPerSecond,
      cpuSeconds: pick.cpuSeconds,
      workers: pick.workers,
      inThreadCasesPerSecond: median(inThread.map((r) => r.casesPerSecond)),
      workerRatio: onWorkers.length > 0 ? onWorkers.map((r, i) => r.casesPerSecond / inThread[i]!.casesPerSecond) : [],
      changed: pick.changed,
      transitions: pick.transitions,
      window: pick.window,
    };
  } finally {
    await db.close();
    await server?.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const options = {
    root,
    decisions: Number(process.env.BENCH_SIM_DECISIONS ?? 100_000),
    workers: Number(process.env.BENCH_SIM_WORKERS ?? 2),
    rounds: Number(process.env.BENCH_SIM_ROUNDS ?? 2),
    seed: Number(process.env.BENCH_SEED ?? 42),
    databaseUrl: process.env.BENCH_SIM_DATABASE_URL ?? 'pglite://memory',
    ...(process.env.BENCH_SIM_RELEASE && { release: process.env.BENCH_SIM_RELEASE }),
    log: (line: string) => console.log(line),
  };
  runSimulationBench(options).then(
    (r) => {
      console.log(
        `simulation (${r.store}, a candidate made from ${r.release}): ${r.decisions.toLocaleString('en-US')} stored decisions replayed in ${r.seconds.toFixed(1)} s = ${Math.round(r.casesPerSecond).toLocaleString('en-US')} cases/s on ${r.workers} worker threads ` +
          `(in the service's thread ${Math.round(r.inThreadCasesPerSecond).toLocaleString('en-US')} cases/s; workers ÷ thread per round ${r.workerRatio.map((x) => x.toFixed(2)).join(', ')}) ` +
          `(${r.cpuSeconds.toFixed(1)} CPU-s here; seeding took ${r.seedSeconds.toFixed(1)} s); ${r.changed.toLocaleString('en-US')} changed: ${JSON.stringify(r.transitions)}; replay window (µs, for profile.js) ${r.window.fromUs} ${r.window.toUs}`,
      );
      process.exit(0);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
