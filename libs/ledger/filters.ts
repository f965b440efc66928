/** What TransactionFilter and AdjustmentFilter select, record by record: every store answers exactly these. */
import type { AdjustmentFilter, LedgerAdjustment, LedgerTransaction, TransactionFilter } from './types.js';

export function transactionPredicate(f: TransactionFilter = {}): (t: LedgerTransaction) => boolean {
  const ids = f.transactionIds === undefined ? undefined : new Set(f.transactionIds);
  const beforeMs = f.unrewardedBefore === undefined ? undefined : Date.parse(f.unrewardedBefore);
  return (t) =>
    (ids === undefined || ids.has(t.transactionId)) &&
    (beforeMs === undefined || (t.rewardedAt === null && Date.parse(t.settledAt ?? t.occurredAt) < beforeMs));
}

/** The predicate takes the adjustment and its own transaction, as the same unit of work sees it. */
export function adjustmentPredicate(f: AdjustmentFilter = {}): (a: LedgerAdjustment, transaction: LedgerTransaction | null) => boolean {
  const ids = f.transactionIds === undefined ? undefined : new Set(f.transactionIds);
  const beforeMs = f.before === undefined ? undefined : Date.parse(f.before);
  return (a, transaction) =>
    (!f.unprocessedOnly || a.clawback === null) &&
    (ids === undefined || ids.has(a.transactionId)) &&
    (!f.ofRewardedTransactions || transaction?.rewardedAt != null) &&
    (beforeMs === undefined || Date.parse(a.at) < beforeMs);
}
