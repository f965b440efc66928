/**
 * A replay on worker threads answers exactly what the same replay answers in the service's thread: the same tally, the
 * same kept results in the same order, truncated at the same case. Needs the build (the worker runs dist/'s copy).
 */
import { resolve } from 'node:path';
import { runSimulation, type TypedDecision } from '../../../libs/decisions/index.js';
import type { ReplayRow } from '../../../libs/persistence/index.js';
import { refundCase } from '../../../test/support/refund-cases.js';
import { replayItem } from './replay-item.js';
import { replayWorkerFile, runReplayInWorkers } from './replay-workers.js';
import { compiler, files } from './replay.test-support.js';

const root = resolve(import.meta.dirname, '../../..');

/** Case `c` stored as a replay reads it, decided as `d`; `firstTrace`: the platform's refunded-total entry, if it fired. */
function storedRow(id: string, createdAt: Date, c: Record<string, unknown>, d: TypedDecision, outputNames: readonly string[], firstTrace?: Record<string, unknown>): ReplayRow {
  return {
    id,
    createdAt: createdAt.toISOString(),
    caseJson: JSON.stringify(c),
    featuresJson: null,
    outcome: d.outcome,
    reasonsJson: JSON.stringify(d.reasons),
    outputJson: outputNames.map((o) => (d.output[o] === undefined ? null : JSON.stringify(d.output[o]))),
    refundId: String(c.refundId),
    firstTraceJson: firstTrace === undefined ? null : JSON.stringify(firstTrace),
  };
}

/** Decisions of the built-in release, stored as a replay reads them. */
async function storedRows(n: number): Promise<ReplayRow[]> {
  const type = (await compiler.compile((await files.release('default', '1.0.0'))!)).refund();
  const rows: ReplayRow[] = [];
  for (let i = 0; i < n; i++) {
    const c = refundCase({ requestedAmount: 500 + ((i * 977) % 12_000), customer: { refundCount30d: i % 7, accountAgeDays: (i * 13) % 500 }, signals: { ipRisk: i % 11 === 0 ? 'high' : 'low' } });
    // Decided here without a lifecycle: no platform total.
    rows.push(storedRow(`d${String(i).padStart(5, '0')}`, new Date(Date.UTC(2026, 2, 1) + i), c, await type.decide(c), type.outputNames));
  }
  return rows;
}

function* pagesOf<T>(rows: T[], size: number): Generator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** Pages as the database hands them out: each one a read away. */
async function* readPages<T>(rows: T[], size: number): AsyncGenerator<T[]> {
  for (const page of pagesOf(rows, size)) yield await Promise.resolve(page);
}

describe('runReplayInWorkers', () => {
  const file = replayWorkerFile();

  it('finds the built worker', () => {
    expect(file).toBeDefined();
  });

  it('answers the tally, kept results and truncation of the same replay in this thread', async () => {
    const rows = await storedRows(1_200);
    const release = await compiler.compile({ name: 'lower-limit', version: '1.0.0', components: { 'refund-policy': '1.1.0-lower', 'refund-risk': '1.0.0' } });
    const type = release.refund();
    const here = await runSimulation(
      [...pagesOf(rows, 700)].map((p) => p.map((r) => replayItem(r, type.outputNames))),
      { candidate: type, keep: (r) => r.changed, maxKept: 100 },
    );
    let slices = 0;
    const there = await runReplayInWorkers(
      { rows: readPages(rows, 700), release: release.portable(), type: 'refund' },
      { file: file!, workers: 2, keep: 'changed', maxKept: 100, onSlice: () => void slices++ },
    );
    expect(here.tally.summary().changed).toBeGreaterThan(100);
    expect(there.tally.summary()).toEqual(here.tally.summary());
    expect(there.results).toEqual(here.results);
    expect([there.truncated, there.aborted]).toEqual([true, false]);
    expect(slices).toBeGreaterThan(1);
  });

  it('stops between batches when asked, counting what it folded in', async () => {
    const rows = await storedRows(600);
    const release = await compiler.compile((await files.release('default', '1.0.0'))!);
    const controller = new AbortController();
    const run = await runReplayInWorkers(
      { rows: readPages(rows, 600), release: release.portable(), type: 'refund' },
      { file: file!, workers: 2, keep: 'all', signal: controller.signal, onSlice: () => controller.abort() },
    );
    expect(run.aborted).toBe(true);
    expect(run.tally.done).toBeGreaterThan(0);
    expect(run.tally.done).toBeLessThan(600);
    // The default release decides each stored case as it was decided: nothing changes.
    expect(run.tally.summary().changed).toBe(0);
  });

  it('re-applies the refunded total a stored refund decision saw, on workers as in this thread', async () => {
    // Stored as the platform decided them: the order had been refunded in full before, which the case did not say.
    const release = await compiler.compile((await files.release('default', '1.0.0'))!);
    const type = release.refund();
    const rows: ReplayRow[] = [];
    for (let i = 0; i < 40; i++) {
      const c = refundCase({ requestedAmount: 1000 });
      const captured = (c.order as { capturedAmount: number }).capturedAmount;
      const d = await type.decide({ ...c, order: { ...c.order, refundedAmount: captured } });
      const entry = { source: 'platform@refunds', rule: 'order.refundedAmount', fired: true, callerRefundedAmount: 0, platformRefundedAmount: captured, used: captured };
      rows.push(storedRow(`p${String(i).padStart(3, '0')}`, new Date(Date.UTC(2026, 2, 2) + i), c, d, type.outputNames, entry));
    }
    expect(rows.every((r) => r.outcome === 'DENY')).toBe(true);
    const here = await runSimulation([rows.map((r) => replayItem(r, type.outputNames))], { candidate: type, keep: () => true, maxKept: 100 });
    const there = await runReplayInWorkers({ rows: readPages(rows, 15), release: release.portable(), type: 'refund' }, { file: file!, workers: 2, keep: 'all' });
    // The same release over what it decided: nothing changes (with the case's own total, all 40 would be approved).
    expect(here.tally.summary()).toMatchObject({ total: 40, changed: 0 });
    expect(there.tally.summary()).toEqual(here.tally.summary());
  });

  it('asks for the first page before the workers are ready, and stops reading when a worker cannot start', async () => {
    const rows = await storedRows(10);
    const release = await compiler.compile((await files.release('default', '1.0.0'))!);
    let asked = 0;
    let closed = false;
    async function* reader(): AsyncGenerator<ReplayRow[]> {
      try {
        asked++;
        yield await Promise.resolve(rows.slice(0, 5));
        asked++;
        yield rows.slice(5);
      } finally {
        closed = true;
      }
    }
    const run = runReplayInWorkers({ rows: reader(), release: release.portable(), type: 'refund' }, { file: resolve(root, 'no-such-replay-worker.js'), workers: 2, keep: 'all' });
    // Synchronously, before any worker could have loaded: the read has started.
    expect(asked).toBe(1);
    await expect(run).rejects.toThrow(/replay worker|Cannot find module|no-such-replay-worker/);
    for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect([asked, closed]).toEqual([1, true]);
  });
});
