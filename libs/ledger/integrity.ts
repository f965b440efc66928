/** The paper's invariants (section 4): net spend, net reward, the reward bound R, and Reward Integrity (netReward ≤ R). */
import { applyRate } from './money.js';
import { periodOf } from './periods.js';
import { rateBpsOf, type RewardProgramParameters } from './program.js';
import type { LedgerAccount, LedgerTransaction } from './types.js';

export interface IntegrityViolation {
  /** REWARD_EXCEEDS_SHARE: a transaction keeps more than its share; DEBT_DISCARDED: the balance was floored instead of going negative. */
  code: 'REWARD_EXCEEDS_SHARE' | 'DEBT_DISCARDED';
  /** Null for DEBT_DISCARDED (an account-level gap). */
  transactionId: string | null;
  /** Reward retained (r), or for DEBT_DISCARDED the net reward. */
  reward: number;
  /** What the rules allow on the net amount: roundHalfEven((amount − refunded) × bps, 10000); for DEBT_DISCARDED the sum of every r. */
  share: number;
  /** Rounding allowance: one minor unit per proportional clawback (0 for DEBT_DISCARDED). */
  tolerance: number;
  /** reward − share − tolerance (> 0). */
  excess: number;
  amount?: number;
  refunded?: number;
  message: string;
}

export interface IntegrityReport {
  /** Σ (amount − refunded) over transactions that reached SETTLED (incl. PART_REF, REFUNDED, CHARGEBACK). */
  netSpend: number;
  /** balance + redeemed: all reward value the user has derived. */
  netReward: number;
  /** R(netSpend): Σ over periods of min(monthlyCap, Σ of that period's shares), plus the rounding tolerance. */
  rewardBound: number;
  /** The rounding tolerance included in rewardBound: one minor unit per proportional clawback of a transaction not fully refunded. */
  roundingTolerance: number;
  rewardIntegrity: boolean;
  /** Empty while rewardIntegrity holds; otherwise what makes the net reward exceed the bound. */
  violations: IntegrityViolation[];
}

/** The period a transaction's reward (or future reward) is charged to: its reward period once rewarded, else the period of its settlement (or purchase while pending). */
export function transactionPeriod(t: LedgerTransaction, anchorDay: number): string {
  return t.rewardPeriod ?? periodOf(t.settledAt ?? t.occurredAt, anchorDay).start;
}

/**
 * Checks Reward Integrity for one account against its program.
 *
 * The bound follows equation (3) with the program's per-category rates and per-period cap:
 * R = Σ_periods min(monthlyCap, Σ_{t in period} rhe((amount_t − refunded_t) × bps_t / 10000)) + tolerance.
 * The tolerance is the paper's residual rounding bound: each proportional clawback rounds once
 * (half-even, at most half a unit) against the immutable r0, so a transaction that is not fully
 * refunded may keep up to one minor unit per partial-refund event above its exact share; a full
 * refund claws back the remaining r exactly, so fully refunded transactions contribute none.
 */
export function integrity(account: LedgerAccount, transactions: readonly LedgerTransaction[], program: RewardProgramParameters): IntegrityReport {
  let netSpend = 0;
  let roundingTolerance = 0;
  let retained = 0;
  const sharesByPeriod = new Map<string, number>();
  const candidates: IntegrityViolation[] = [];

  for (const t of transactions) {
    retained += t.reward;
    const c = contributionOf(t, account.cycleAnchorDay, program);
    if (c === null) continue;
    const { net, share, period, tolerance } = c;
    netSpend += net;
    sharesByPeriod.set(period, (sharesByPeriod.get(period) ?? 0) + share);
    roundingTolerance += tolerance;
    if (t.reward > share + tolerance) {
      candidates.push({
        code: 'REWARD_EXCEEDS_SHARE',
        transactionId: t.transactionId,
        reward: t.reward,
        share,
        tolerance,
        excess: t.reward - share - tolerance,
        amount: t.amount,
        refunded: t.refunded,
        message: `transaction ${t.transactionId} keeps a reward of ${t.reward} on a net spend of ${net} that earns at most ${share + tolerance}`,
      });
    }
  }

  let capped = 0;
  for (const share of sharesByPeriod.values()) capped += Math.min(program.monthlyCap, share);
  const rewardBound = capped + roundingTolerance;
  const netReward = account.balance + account.redeemed;
  const rewardIntegrity = netReward <= rewardBound;
  const violations: IntegrityViolation[] = [];
  if (!rewardIntegrity) {
    violations.push(...candidates);
    if (netReward > retained) {
      violations.push({
        code: 'DEBT_DISCARDED',
        transactionId: null,
        reward: netReward,
        share: retained,
        tolerance: 0,
        excess: netReward - retained,
        message: `net reward ${netReward} exceeds the ${retained} still attributed to transactions: clawback debt of ${netReward - retained} was discarded by flooring the balance at 0`,
      });
    }
  }
  return { netSpend, netReward, rewardBound, roundingTolerance, rewardIntegrity, violations };
}

/** What one transaction adds to netSpend, its period's shares and the rounding tolerance; null while PENDING (nothing). */
export interface Contribution {
  net: number;
  share: number;
  period: string;
  tolerance: number;
}

export function contributionOf(t: LedgerTransaction, anchorDay: number, program: RewardProgramParameters): Contribution | null {
  if (t.status === 'PENDING') return null;
  const net = t.amount - t.refunded;
  return { net, share: applyRate(net, rateBpsOf(program, t.category)), period: transactionPeriod(t, anchorDay), tolerance: net > 0 ? t.partialRefunds : 0 };
}

/** The figures of an IntegrityReport without the violations, which only a full integrity() lists. */
export type IntegrityFigures = Omit<IntegrityReport, 'violations'>;

/**
 * integrity()'s figures kept up to date one changed transaction at a time, so a what-if can report them after every
 * step without going over the whole account again. Every sum is of non-negative integers: while the totals stay within
 * Number.MAX_SAFE_INTEGER every addition is exact, so the running sums equal integrity()'s whatever the order. Beyond
 * that, float rounding depends on the order of the additions, and the figures are summed again in integrity()'s order.
 */
export class IntegrityTally {
  /** Each transaction's contribution, in the order the transactions were first seen (the store's creation order). */
  private readonly contributions = new Map<string, Contribution | null>();
  private readonly sharesByPeriod = new Map<string, number>();
  private netSpend = 0;
  private shares = 0;
  private capped = 0;
  private roundingTolerance = 0;
  /** The running sums are exact (and so equal to integrity()'s). */
  private exact = true;

  constructor(
    private readonly anchorDay: number,
    private readonly program: RewardProgramParameters,
  ) {}

  /** Records the transaction as it is now (first seen, or changed). */
  set(t: LedgerTransaction): void {
    const before = this.contributions.get(t.transactionId);
    const after = contributionOf(t, this.anchorDay, this.program);
    this.contributions.set(t.transactionId, after);
    if (!this.exact) return;
    if (before) this.add(before, -1);
    if (after) this.add(after, 1);
    this.exact = this.fitsExactly();
  }

  figures(account: Pick<LedgerAccount, 'balance' | 'redeemed'>): IntegrityFigures {
    if (!this.exact) this.sumAgain();
    const rewardBound = this.capped + this.roundingTolerance;
    const netReward = account.balance + account.redeemed;
    return { netSpend: this.netSpend, netReward, rewardBound, roundingTolerance: this.roundingTolerance, rewardIntegrity: netReward <= rewardBound };
  }

  private add(c: Contribution, sign: 1 | -1): void {
    const before = this.sharesByPeriod.get(c.period) ?? 0;
    const after = before + sign * c.share;
    this.sharesByPeriod.set(c.period, after);
    this.capped += Math.min(this.program.monthlyCap, after) - Math.min(this.program.monthlyCap, before);
    this.shares += sign * c.share;
    this.netSpend += sign * c.net;
    this.roundingTolerance += sign * c.tolerance;
  }

  /**
   * Every partial sum of integrity() is at most netSpend or shares + roundingTolerance, so when those fit, all of them
   * are exact. (A float sum of non-negative integers whose exact value is 2^53 or more is itself 2^53 or more, so the
   * test cannot pass on rounded sums.)
   */
  private fitsExactly(): boolean {
    return this.netSpend <= Number.MAX_SAFE_INTEGER && this.shares + this.roundingTolerance <= Number.MAX_SAFE_INTEGER;
  }

  /** The sums again, in integrity()'s order; back to running sums once they fit again. */
  private sumAgain(): void {
    this.sharesByPeriod.clear();
    this.netSpend = 0;
    this.shares = 0;
    this.roundingTolerance = 0;
    for (const c of this.contributions.values()) {
      if (c === null) continue;
      this.netSpend += c.net;
      this.sharesByPeriod.set(c.period, (this.sharesByPeriod.get(c.period) ?? 0) + c.share);
      this.shares += c.share;
      this.roundingTolerance += c.tolerance;
    }
    this.capped = 0;
    for (const share of this.sharesByPeriod.values()) this.capped += Math.min(this.program.monthlyCap, share);
    this.exact = this.fitsExactly();
  }
}

/**
 * An account's integrity() figures as running sums, kept with the account so that a write's verdict costs the
 * transactions it changed instead of the account's whole history. Only exact sums are kept: each is of non-negative
 * integers and fits in Number.MAX_SAFE_INTEGER (see IntegrityTally), so the figures equal integrity()'s whatever the
 * order of the additions. `program` is the account's pinned `name@version`: the shares were computed at its rates.
 */
export interface IntegrityTotals {
  program: string;
  netSpend: number;
  roundingTolerance: number;
  /** Period start → Σ of its transactions' shares (before the cap). */
  shares: Record<string, number>;
}

/** A transaction's contribution (contributionOf), null for none. */
export type TransactionContribution = Contribution | null;

/** The totals of the account's transactions, or null when a sum would not be exact. */
export function totalsOf(programRef: string, transactions: readonly LedgerTransaction[], anchorDay: number, program: RewardProgramParameters): IntegrityTotals | null {
  return withChanges({ program: programRef, netSpend: 0, roundingTolerance: 0, shares: {} }, transactions.map((t) => [null, contributionOf(t, anchorDay, program)]));
}

/**
 * `totals` after each [before, after] change of one transaction's contribution (null: it contributes nothing, as a
 * PENDING or a new one), or null when a sum would leave the exact range. A new object: `totals` is left as it was.
 */
export function withChanges(totals: IntegrityTotals, changes: Iterable<readonly [TransactionContribution, TransactionContribution]>): IntegrityTotals | null {
  const shares = { ...totals.shares };
  let { netSpend, roundingTolerance } = totals;
  for (const [before, after] of changes) {
    for (const [c, sign] of [[before, -1], [after, 1]] as const) {
      if (c === null) continue;
      netSpend += sign * c.net;
      roundingTolerance += sign * c.tolerance;
      const share = (shares[c.period] ?? 0) + sign * c.share;
      if (share === 0) delete shares[c.period];
      else shares[c.period] = share;
    }
  }
  let sharesTotal = 0;
  for (const s of Object.values(shares)) {
    // Only totals that do not match the transactions (a store's bug) can go below zero: start again from them.
    if (s < 0) return null;
    sharesTotal += s;
  }
  if (netSpend < 0 || roundingTolerance < 0) return null;
  // Each partial sum integrity() makes is at most netSpend or sharesTotal + roundingTolerance: when those fit, all are exact.
  if (netSpend > Number.MAX_SAFE_INTEGER || sharesTotal + roundingTolerance > Number.MAX_SAFE_INTEGER) return null;
  return { program: totals.program, netSpend, roundingTolerance, shares };
}

/** integrity()'s figures from the totals (no violations: a false verdict is listed by integrity() itself). */
export function figuresOf(totals: IntegrityTotals, account: Pick<LedgerAccount, 'balance' | 'redeemed'>, program: Pick<RewardProgramParameters, 'monthlyCap'>): IntegrityFigures {
  let capped = 0;
  for (const share of Object.values(totals.shares)) capped += Math.min(program.monthlyCap, share);
  const rewardBound = capped + totals.roundingTolerance;
  const netReward = account.balance + account.redeemed;
  return { netSpend: totals.netSpend, netReward, rewardBound, roundingTolerance: totals.roundingTolerance, rewardIntegrity: netReward <= rewardBound };
}

/** Totals as read back from a store (JSON): null unless every field has the shape withChanges keeps. */
export function parseIntegrityTotals(value: unknown): IntegrityTotals | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (typeof v.program !== 'string' || !count(v.netSpend) || !count(v.roundingTolerance)) return null;
  if (v.shares === null || typeof v.shares !== 'object' || Array.isArray(v.shares)) return null;
  const shares: Record<string, number> = {};
  for (const [period, share] of Object.entries(v.shares)) {
    if (!count(share)) return null;
    shares[period] = share;
  }
  return { program: v.program, netSpend: v.netSpend, roundingTolerance: v.roundingTolerance, shares };
}
