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
    if (t.status === 'PENDING') continue;
    const net = t.amount - t.refunded;
    netSpend += net;
    const share = applyRate(net, rateBpsOf(program, t.category));
    const period = transactionPeriod(t, account.cycleAnchorDay);
    sharesByPeriod.set(period, (sharesByPeriod.get(period) ?? 0) + share);
    const tolerance = net > 0 ? t.partialRefunds : 0;
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
