/**
 * What a replay reads of stored decisions, and how one batch of it is parsed. Imports nothing: a replay worker thread
 * loads this file alone, not the persistence package.
 */

/**
 * One page of stored decisions as a replay reads it: its rows in batches, each batch one JSON text (an array of
 * `[id, case, features, outcome, reasons, refundId, ...outputs]`, the type's output fields in the order asked for).
 * Text is what the page's reader hands on: a worker thread receives a batch as one string to copy and parses it where
 * the cases are decided, instead of this thread decoding every row and cloning its values. replayRecords parses one.
 */
export interface ReplayPage {
  batches: string[];
  /** Rows in the page (every batch's together). */
  rows: number;
  /** The page's last row, where the next page starts: its timestamp in ISO 8601 (UTC) to the microsecond, which a Date would round to the millisecond. */
  last: { createdAt: string; id: string } | null;
}

/** A stored decision as a replay needs it: the case as received and the answer as first given. */
export interface ReplayRecord {
  id: string;
  case: unknown;
  /** The feature values the decision was made with (null: a type without features). */
  features: unknown;
  outcome: string;
  /** `[{code, …}]` as answered (null when absent). */
  reasons: { code: string }[] | null;
  refundId: string | null;
  /** Each of the decision type's output fields as stored, in the order asked for (null when absent). */
  outputs: unknown[];
}

/** One batch of a ReplayPage as records. */
export function replayRecords(batch: string): ReplayRecord[] {
  return (JSON.parse(batch) as unknown[][]).map((r) => ({
    id: r[0] as string,
    case: r[1],
    features: r[2] ?? null,
    outcome: String(r[3]),
    reasons: (r[4] ?? null) as { code: string }[] | null,
    refundId: typeof r[5] === 'string' ? r[5] : null,
    outputs: r.slice(6).map((v) => v ?? null),
  }));
}

/** A batch's text from records, as replayPage's query writes it (the inverse of replayRecords; tests and benches use it). */
export function replayBatch(records: readonly ReplayRecord[]): string {
  return JSON.stringify(records.map((r) => [r.id, r.case, r.features, r.outcome, r.reasons, r.refundId, ...r.outputs]));
}
