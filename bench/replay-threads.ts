/**
 * A replay without a database: BENCH_THREADS_ROWS (default 100,000) stored refund decisions held in memory as a replay
 * reads them, re-decided by the built-in release in the service's thread (runSimulation) and on BENCH_THREADS_WORKERS
 * worker threads (runReplayInWorkers, default 2), alternating for BENCH_THREADS_ROUNDS rounds (default 2). What the
 * replay path costs around the evaluation itself, and what workers add, with no PostgreSQL time in it.
 *
 * Standalone: `node dist/bench/replay-threads.js` after `npm run bench` compiled it (or `swc bench -d dist`).
 */
import { fileURLToPath } from 'node:url';
import { replayItem } from '../apps/decision-api/simulations/replay-item.js';
import { replayWorkerFile, runReplayInWorkers } from '../apps/decision-api/simulations/replay-workers.js';
import { FileComponentSource, ReleaseCompiler, runSimulation, type BoundDecisionType, type SimulationRun } from '../libs/decisions/index.js';
import type { ReplayRow } from '../libs/persistence/index.js';
import { generateCases } from './cases.js';
import { runIfMain } from './stats.js';

/** The refund type of the built-in `default@<release>` under `root`, and `n` of its decisions as stored rows (storedReplayRows). */
export async function builtInRefundRows(root: string, release: string, n: number): Promise<{ type: BoundDecisionType; rows: ReplayRow[] }> {
  const files = new FileComponentSource(root);
  const manifest = await files.release('default', release);
  if (!manifest) throw new Error(`no built-in release default@${release}`);
  const type = (await new ReleaseCompiler(files).compile(manifest)).decisionType('refund');
  return { type, rows: await storedReplayRows(type, n) };
}

/** `n` generated refund cases decided by `type`, as a replay reads them from the decisions table (no database here). */
export async function storedReplayRows(type: BoundDecisionType, n: number): Promise<ReplayRow[]> {
  const rows: ReplayRow[] = [];
  for (const [i, c] of generateCases(n, 42).entries()) {
    const d = await type.decide(c);
    rows.push({
      id: String(i),
      createdAt: new Date(i).toISOString(),
      caseJson: JSON.stringify(c),
      featuresJson: d.features ? JSON.stringify(d.features) : null,
      outcome: d.outcome,
      reasonsJson: JSON.stringify(d.reasons),
      outputJson: type.outputNames.map((name) => (d.output[name] === undefined ? null : JSON.stringify(d.output[name]))),
      refundId: String(c.refundId),
      firstTraceJson: null, // decided here without a lifecycle: no platform total
    });
  }
  return rows;
}

export async function runReplayThreads(o: { root: string; rows: number; workers: number; rounds: number; log: (line: string) => void }): Promise<void> {
  const file = replayWorkerFile();
  if (!file) throw new Error('no built replay worker: run the build first');
  const files = new FileComponentSource(o.root);
  const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
  const type = release.refund();
  const rows = await storedReplayRows(type, o.rows);
  function* pages(): Generator<ReplayRow[]> {
    for (let i = 0; i < rows.length; i += 2_000) yield rows.slice(i, i + 2_000);
  }
  // As the database hands pages out: each one a read away (runReplayInWorkers takes an async iterable).
  async function* readPages(): AsyncGenerator<ReplayRow[]> {
    for (const page of pages()) yield await Promise.resolve(page);
  }
  const measure = async (label: string, run: () => Promise<SimulationRun>) => {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const r = await run();
    const s = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuS = (used.user + used.system) / 1e6;
    o.log(`  ${label}: ${Math.round(o.rows / s).toLocaleString('en-US')} cases/s, ${cpuS.toFixed(2)} CPU-s (${Math.round((cpuS / o.rows) * 1e6)} µs per case), ${r.tally.done} done, ${r.tally.summary().changed} changed`);
  };
  const inThread = () =>
    measure('in the service thread', () =>
      runSimulation(
        (function* () {
          for (const p of pages()) yield p.map((r) => replayItem(r, type.outputNames));
        })(),
        { candidate: type, keep: (r) => r.changed, maxKept: 1_000 },
      ),
    );
  const onWorkers = () =>
    measure(`on ${o.workers} workers`, () =>
      runReplayInWorkers({ rows: readPages(), release: release.portable(), type: 'refund' }, { file, workers: o.workers, keep: 'changed', maxKept: 1_000 }),
    );
  for (let round = 1; round <= o.rounds; round++) {
    o.log(`replay threads, round ${round} (${o.rows.toLocaleString('en-US')} rows):`);
    if (round % 2 === 1) {
      await inThread();
      await onWorkers();
    } else {
      await onWorkers();
      await inThread();
    }
  }
}

runIfMain(import.meta.url, () =>
  runReplayThreads({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    rows: Number(process.env.BENCH_THREADS_ROWS ?? 100_000),
    workers: Number(process.env.BENCH_THREADS_WORKERS ?? 2),
    rounds: Number(process.env.BENCH_THREADS_ROUNDS ?? 2),
    log: (line) => console.log(line),
  }),
);
