/**
 * A replay's worker thread (replay-workers.ts starts it): compiles the candidate release from its portable content, then
 * decides batches of stored decisions as runSimulation does in the service's thread, answering each batch's tally and
 * the results it keeps. It reads no database and writes nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { releaseFromPortable, simulateDecision, SimulationTally, type PortableRelease, type SimulationResult, type SimulationSummary } from '../../../libs/decisions/index.js';
import type { ReplayRow } from '../../../libs/persistence/index.js';
import { replayItem } from './replay-item.js';

export interface ReplayWorkerData {
  release: PortableRelease;
  /** The decision type (its component name) the cases are decided by. */
  type: string;
  /** Which results to send back: every one, or the changed ones; at most `maxKept` + 1 per batch (one more says "truncated"). */
  keep: 'all' | 'changed';
  maxKept: number;
}

export interface ReplayBatch {
  seq: number;
  rows: ReplayRow[];
}

export type ReplayWorkerMessage =
  | { ready: true }
  | { seq: number; summary: SimulationSummary; kept: SimulationResult[] }
  | { seq: number; error: string }
  | { failed: string };

const port = parentPort!;
const d = workerData as ReplayWorkerData;

async function decide(type: Awaited<ReturnType<typeof bind>>, b: ReplayBatch): Promise<void> {
  try {
    const tally = new SimulationTally();
    const kept: SimulationResult[] = [];
    for (const row of b.rows) {
      const item = replayItem(row, type.outputNames);
      const candidate = await simulateDecision(item.input, type, { stored: true, ...(item.platform && { platform: item.platform }) });
      const result = tally.add(item.caseRef, item.baseline!, candidate, item.refundId);
      if ((d.keep === 'all' || result.changed) && kept.length <= d.maxKept) kept.push(result);
    }
    port.postMessage({ seq: b.seq, summary: tally.summary(), kept } satisfies ReplayWorkerMessage);
  } catch (e) {
    port.postMessage({ seq: b.seq, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies ReplayWorkerMessage);
  }
}

async function bind() {
  return (await releaseFromPortable(d.release)).decisionType(d.type);
}

try {
  const type = await bind();
  // One batch at a time: the next waits for the one before (a pack's evaluation awaits), so results stay in case order.
  let queue = Promise.resolve();
  port.on('message', (b: ReplayBatch) => {
    queue = queue.then(() => decide(type, b));
  });
  port.postMessage({ ready: true } satisfies ReplayWorkerMessage);
} catch (e) {
  port.postMessage({ failed: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies ReplayWorkerMessage);
}
