/** The ledger's records and the store contract a persistence layer implements (PostgreSQL, in-memory). */
import type { RedemptionGateInput, RedemptionGateResult } from './gate.js';
import type { IntegrityReport, IntegrityTotals } from './integrity.js';

export type TransactionStatus = 'PENDING' | 'SETTLED' | 'PART_REF' | 'REFUNDED' | 'CHARGEBACK';
export type AdjustmentKind = 'refund' | 'chargeback';
export type EntryType = 'REWARD' | 'CLAWBACK' | 'REDEMPTION' | 'AUTO_REDEMPTION';
export type EntryCauseKind = 'settlement' | 'refund' | 'chargeback' | 'redemption' | 'statement';

/** One reward account: the paper's user-level ledger B plus the per-period cap counters. Money in minor units. */
export interface LedgerAccount {
  tenant: string;
  accountId: string;
  /** `name@version` of the program, pinned when the account is opened. */
  programRef: string;
  currency: string;
  /** Day of month (1–28) at whose UTC midnight each billing period starts. */
  cycleAnchorDay: number;
  /** Current reward balance; negative while a clawback debt is outstanding. */
  balance: number;
  /** Everything redeemed so far (REDEMPTION and AUTO_REDEMPTION entries). */
  redeemed: number;
  /** Redemptions are refused while `at` < holdUntil (grace hold set by each statement close). */
  holdUntil: string | null;
  /** Starts of the periods whose statements are closed, ascending. */
  closedPeriods: string[];
  /** Period start → reward granted against that period's monthlyCap (net of same-period clawbacks). */
  capUsage: Record<string, number>;
  /** Incremented by every unit of work that changes the account (for optimistic checks by stores). */
  version: number;
}

/** One purchase and its reward record (the paper's r, r0 and refunded counter). Kept forever. */
export interface LedgerTransaction {
  tenant: string;
  transactionId: string;
  accountId: string;
  amount: number;
  category: string;
  occurredAt: string;
  /** Null while PENDING. A statement close settles pending purchases of its period with settledAt = period end. */
  settledAt: string | null;
  status: TransactionStatus;
  /** Total refunded and charged back so far (≤ amount). */
  refunded: number;
  /** Current reward r: originalReward minus every clawback applied. */
  reward: number;
  /** Immutable reward r0 granted by Algorithm 1 (0 until rewarded). */
  originalReward: number;
  rewardedAt: string | null;
  /** Start of the period whose cap the reward was charged to (the transaction's period when rewarded). */
  rewardPeriod: string | null;
  /** Proportional (non-final) clawbacks applied: each may leave one minor unit of rounding residue. */
  partialRefunds: number;
  /**
   * The eligible amount originalReward was computed on: amount minus the refunds recorded
   * before the reward (statement programs). Clawbacks are proportional to it. Null until rewarded.
   */
  rewardBase: number | null;
  /**
   * Who last wrote it, as the store read it back (a key's id and role, or `system`); null on rows written before actors
   * were recorded. Absent on rows being written: the store stamps them with its unit of work's actor.
   */
  actor?: { id: string; role: string } | null;
}

/** A refund or chargeback, with the clawback it caused once processed. */
export interface LedgerAdjustment {
  tenant: string;
  /** The refundId or chargebackId (unique per tenant across both kinds). */
  adjustmentId: string;
  kind: AdjustmentKind;
  transactionId: string;
  accountId: string;
  amount: number;
  at: string;
  /** Reduction of the transaction's reward r; null = not yet processed (deferred to a statement close). */
  clawback: number | null;
  processedAt: string | null;
  /** seq of the CLAWBACK entry it produced, if any (none when the clawback was 0 or fully floored). */
  entrySeq: number | null;
}

export interface EntryCause {
  kind: EntryCauseKind;
  /** transactionId, refundId, chargebackId, redemptionId, or the closed period's end. */
  id: string;
}

/** An append-only ledger line. The amounts of an account's entries always sum to its balance. */
export interface LedgerEntry {
  /** Position in the account's entry sequence, from 1, assigned by the store. */
  seq: number;
  accountId: string;
  transactionId: string | null;
  type: EntryType;
  /** Signed: credits positive, debits negative. Never 0 (nothing is appended for a zero effect). */
  amount: number;
  balanceAfter: number;
  cause: EntryCause;
  programRef: string;
  /** Business time of the effect (settlement, refund, redemption, or the closed period's end). */
  at: string;
  /**
   * Who wrote it, as the store read it back (a key's id and role, or `system`); null on entries written before actors
   * were recorded. Absent on entries being written: the store stamps them with its unit of work's actor.
   */
  actor?: { id: string; role: string } | null;
}

/** What the redemption gate was asked and answered; stored with the redemption and returned to callers. */
export interface GateDecision {
  ref: string;
  input: RedemptionGateInput;
  output: RedemptionGateResult;
}

/** An allowed redemption (refusals change nothing and are not stored here; the caller persists the gate decision). */
export interface RedemptionRecord {
  tenant: string;
  redemptionId: string;
  accountId: string;
  amount: number;
  at: string;
  entry: LedgerEntry;
  gate: GateDecision;
  /** The stored decision of the gate that allowed it, when its caller stores one (the service does; a simulation does not). */
  decisionId?: string;
}

/**
 * Which of an account's transactions to read; every condition given must hold. The ledger asks only for what an
 * operation touches, so a store with indexes answers a statement close without reading the account's whole history.
 */
export interface TransactionFilter {
  transactionIds?: readonly string[];
  /** Not rewarded yet, and settled (or, while pending, purchased) before this instant. */
  unrewardedBefore?: string;
}

/** Which of an account's adjustments to read; every condition given must hold. */
export interface AdjustmentFilter {
  /** Not processed yet (`clawback` null). */
  unprocessedOnly?: boolean;
  transactionIds?: readonly string[];
  /** Of transactions already rewarded. */
  ofRewardedTransactions?: boolean;
  /** Dated (`at`) before this instant. */
  before?: string;
}

/** One unit of work, already serialised per account by the store (row lock / mutex). */
export interface LedgerUnitOfWork {
  /** The account as this unit of work's own: the ledger changes it in place (its period lists too) and saves it. */
  getAccount(accountId: string): Promise<LedgerAccount | null>;
  /** Looks the id up across the whole tenant (ids are unique per tenant, whatever the account). */
  getTransaction(transactionId: string): Promise<LedgerTransaction | null>;
  /** The account's transactions (those `filter` selects), in the store's order. */
  transactionsOfAccount(accountId: string, filter?: TransactionFilter): Promise<LedgerTransaction[]>;
  /** The account's adjustments (those `filter` selects), in the store's order. */
  adjustmentsOfAccount(accountId: string, filter?: AdjustmentFilter): Promise<LedgerAdjustment[]>;
  /** How many unprocessed adjustments (`clawback` null) each of these transactions has; absent means none. */
  unprocessedCounts(accountId: string, transactionIds: readonly string[]): Promise<Map<string, number>>;
  /** Looks the id up across the whole tenant. */
  getAdjustment(adjustmentId: string): Promise<LedgerAdjustment | null>;
  /** Insert or update (optimistic `version` may be used by stores). */
  saveAccount(a: LedgerAccount): Promise<void>;
  saveTransaction(t: LedgerTransaction): Promise<void>;
  saveAdjustment(a: LedgerAdjustment): Promise<void>;
  appendEntry(e: Omit<LedgerEntry, 'seq'>): Promise<LedgerEntry>;
  /** Looks the id up across the whole tenant. */
  getRedemption(redemptionId: string): Promise<RedemptionRecord | null>;
  saveRedemption(r: RedemptionRecord): Promise<void>;
  /**
   * Optional: stores that report Reward Integrity get the account's verdict after every write that may move it
   * (settlement, refund, chargeback, redemption, statement close), in the same unit of work, with the transactions the
   * violations name and the write's business time. Stores without it (what-ifs, tests) pay nothing.
   */
  recordIntegrity?(verdict: IntegrityVerdict): Promise<void>;
  /**
   * Optional, with recordIntegrity: the totals the account's last verdict left (IntegrityVerdict.totals), read with the
   * account; null when it has none (never written since the store kept them, or sums past the exact range). With them a
   * write's verdict needs only the transactions it changed, not the account's whole history.
   */
  integrityTotals?(accountId: string): IntegrityTotals | null;
}

/** An account's Reward Integrity after a write. */
export interface IntegrityVerdict {
  account: LedgerAccount;
  report: IntegrityReport;
  /** The transactions the violations name (empty while the verdict holds). */
  violating: LedgerTransaction[];
  /** The write's business time. */
  at: string;
  /** The account's totals after the write, to keep for the next one (null: none; the next write reads every transaction). */
  totals: IntegrityTotals | null;
}

/**
 * What a unit of work is going to read besides the account, declared up front so a store with a round-trip cost can
 * fetch it all in one go under the account's lock. A hint only: anything read without being declared is still
 * answered, and a store may ignore it (the in-memory ones do).
 */
export interface LedgerReads {
  /** Lookups by id (tenant-wide, like getTransaction). */
  transactionIds?: readonly string[];
  adjustmentIds?: readonly string[];
  redemptionIds?: readonly string[];
  /** Every transaction of the account. */
  allTransactions?: boolean;
  /**
   * A write whose Reward Integrity verdict is recorded: the account's integrityTotals, and every transaction only where
   * the account has none (a store without totals reads them all).
   */
  integrity?: boolean;
  /** unprocessedCounts for these transactions. */
  unprocessedCountsOf?: readonly string[];
}

export interface LedgerStore {
  /** Runs fn serialised against every other unit of work on the same account of the same tenant, atomically. */
  withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>, reads?: LedgerReads): Promise<T>;
  /**
   * Optional: withAccount on the account a transaction belongs to, found and locked in one go (for stores that pay per
   * round trip). fn gets that account's id, or null when no account of the tenant holds the transaction (then nothing is
   * locked). Without it, the ledger calls accountOfTransaction, then withAccount.
   */
  withAccountOfTransaction?<T>(
    tenant: string,
    transactionId: string,
    fn: (uow: LedgerUnitOfWork, accountId: string | null) => Promise<T>,
    reads?: LedgerReads,
  ): Promise<T>;
  /** Resolves the account a transaction belongs to (no lock), or null. */
  accountOfTransaction(tenant: string, transactionId: string): Promise<string | null>;
  /** Entries with seq > afterSeq, ascending, at most limit. */
  entries(tenant: string, accountId: string, page: { limit: number; afterSeq?: number }): Promise<LedgerEntry[]>;
}
