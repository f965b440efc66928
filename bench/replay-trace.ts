/**
 * What a what-if saves by building no trace: BENCH_TRACE_ROWS (default 20,000) stored refund decisions of
 * `default@<BENCH_TRACE_RELEASE>` (default 1.0.0), each replayed as a replay worker does (replayItem, the case check,
 * decideValid), traced and untraced in BENCH_TRACE_PASSES interleaved passes (default 6, the order swapped every pass)
 * in this one process, after a warm-up pass of each. Prints the CPU per case of every pass and untraced ÷ traced.
 *
 * Standalone: `node dist/bench/replay-trace.js` after `npm run bench` compiled it (or `swc bench -d dist`).
 */
import { fileURLToPath } from 'node:url';
import { replayItem } from '../apps/decision-api/simulations/replay-item.js';
import type { BoundDecisionType } from '../libs/decisions/index.js';
import type { ReplayRow } from '../libs/persistence/index.js';
import { builtInRefundRows } from './replay-threads.js';
import { runIfMain } from './stats.js';

/** One pass over `rows`: µs of this process's CPU per case. */
async function pass(type: BoundDecisionType, rows: readonly ReplayRow[], trace: boolean): Promise<number> {
  const cpu = process.cpuUsage();
  for (const r of rows) {
    const item = replayItem(r, type.outputNames);
    if (type.inputErrors(item.input, '').length > 0) throw new Error(`stored case ${item.caseRef} does not fit ${type.ref}`);
    await type.decideValid(item.input as Record<string, unknown>, item.platform ?? {}, undefined, { trace });
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / rows.length;
}

export async function runReplayTrace(o: { root: string; rows: number; release: string; passes: number; log: (line: string) => void }): Promise<void> {
  const { type, rows } = await builtInRefundRows(o.root, o.release, o.rows);
  await pass(type, rows, true);
  await pass(type, rows, false);
  const traced: number[] = [];
  const untraced: number[] = [];
  for (let i = 0; i < o.passes; i++) {
    for (const trace of i % 2 === 0 ? [true, false] : [false, true]) (trace ? traced : untraced).push(await pass(type, rows, trace));
  }
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
  };
  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
  o.log(
    `replay trace (default@${o.release}, ${o.rows.toLocaleString('en-US')} cases, same process): traced ${f(traced)} µs of CPU per case, ` +
      `untraced ${f(untraced)}; untraced ÷ traced per pass ${traced.map((t, i) => (untraced[i]! / t).toFixed(3)).join(' / ')} (medians ${(median(untraced) / median(traced)).toFixed(3)})`,
  );
}

runIfMain(import.meta.url, () =>
  runReplayTrace({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    rows: Number(process.env.BENCH_TRACE_ROWS ?? 20_000),
    release: process.env.BENCH_TRACE_RELEASE ?? '1.0.0',
    passes: Number(process.env.BENCH_TRACE_PASSES ?? 6),
    log: (line) => console.log(line),
  }),
);
