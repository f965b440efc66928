/** One stored decision as a simulation item; the same in this thread and in a replay worker (replay-worker.ts). */
import { simulatedFrom, storedPlatformValues, type SimulationItem } from '../../../libs/decisions/index.js';
import type { ReplayRow } from '../../../libs/persistence/index.js';
import { replayEnrichment } from '../../../libs/refunds/index.js';

export function replayItem(r: ReplayRow, outputNames: readonly string[]): SimulationItem {
  const output: Record<string, unknown> = {};
  for (const [i, n] of outputNames.entries()) {
    const v = r.outputJson[i];
    output[n] = v === null || v === undefined ? null : (JSON.parse(v) as unknown);
  }
  const reasons = (r.reasonsJson === null ? null : (JSON.parse(r.reasonsJson) as { code: string }[] | null)) ?? [];
  const features: unknown = r.featuresJson === null ? null : JSON.parse(r.featuresJson);
  const stored = JSON.parse(r.caseJson) as Record<string, unknown>;
  // The refunded total the platform knew when it decided (a refund lifecycle's), as a replay of one decision applies it.
  const input = r.firstTraceJson === null ? stored : replayEnrichment(stored, [JSON.parse(r.firstTraceJson) as unknown]).input;
  return {
    caseRef: r.id,
    input,
    baseline: simulatedFrom({ outcome: r.outcome, reasons, ...output }, outputNames),
    ...(r.refundId !== null ? { refundId: r.refundId } : {}),
    ...(features !== null && { platform: storedPlatformValues(features)! }),
  };
}
