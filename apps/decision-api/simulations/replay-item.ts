/** One stored decision as a simulation item; the same in this thread and in a replay worker (replay-worker.ts). */
import { simulatedFrom, storedPlatformValues, type SimulationItem } from '../../../libs/decisions/index.js';
import type { ReplayRecord } from '../../../libs/persistence/replay-records.js';

export function replayItem(r: ReplayRecord, outputNames: readonly string[]): SimulationItem {
  const output: Record<string, unknown> = {};
  for (const [i, n] of outputNames.entries()) output[n] = r.outputs[i] ?? null;
  return {
    caseRef: r.id,
    input: r.case,
    baseline: simulatedFrom({ outcome: r.outcome, reasons: r.reasons ?? [], ...output }, outputNames),
    ...(r.refundId !== null ? { refundId: r.refundId } : {}),
    ...(r.features !== null && { platform: storedPlatformValues(r.features)! }),
  };
}
