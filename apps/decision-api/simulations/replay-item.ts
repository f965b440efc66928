/** One stored decision as a simulation item; the same in this thread and in a replay worker (replay-worker.ts). */
import { simulatedFrom, storedPlatformValues, type SimulationItem } from '../../../libs/decisions/index.js';
import type { ReplayRow } from '../../../libs/persistence/index.js';

/** A document field read as SQL's json_to_record reads it into a text column: a string as is, null or absent as null, anything else as its JSON. */
function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function replayItem(r: ReplayRow, outputNames: readonly string[]): SimulationItem {
  const doc = JSON.parse(r.documentJson) as Record<string, unknown>;
  const output: Record<string, unknown> = {};
  for (const n of outputNames) output[n] = Object.hasOwn(doc, n) ? (doc[n] ?? null) : null;
  const reasons = (Object.hasOwn(doc, 'reasons') ? (doc.reasons as { code: string }[] | null) : null) ?? [];
  const refundId = Object.hasOwn(doc, 'refundId') ? text(doc.refundId) : null;
  const features: unknown = r.featuresJson === null ? null : JSON.parse(r.featuresJson);
  return {
    caseRef: r.id,
    input: JSON.parse(r.caseJson) as unknown,
    baseline: simulatedFrom({ outcome: String(text(doc.outcome)), reasons, ...output }, outputNames),
    ...(refundId !== null ? { refundId } : {}),
    ...(features !== null && { platform: storedPlatformValues(features)! }),
  };
}
