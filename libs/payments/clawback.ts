/**
 * The ledger clawback of a paid refund (api-contract.md section 8; seed paper 002, Algorithm 2): when a refund that
 * carries a reward reference reaches SUCCEEDED, the ledger's own refund operation is run for the approved amount on
 * that transaction, with the refund's id as the ledger refundId. The ledger computes the clawback from the immutable
 * original reward r0 and de-duplicates by refundId, so the same refund can never claw back twice.
 *
 * A ledger refusal (unknown account or transaction, another account, another currency, more than is left to refund,
 * the id already used with other data, …) never blocks the payout: the money has moved. It is returned as a
 * `refused` clawback, which the executor records on the refund and in its SUCCEEDED event. A refund paid before its
 * reward transaction settled is `deferred`: the settlement posts it (Refund Reward Consistency needs the clawback once
 * the reward exists).
 */
import { DomainError } from '../errors/index.js';
import type { Ledger, LedgerStore } from '../ledger/index.js';

export interface RewardReference {
  accountId: string;
  transactionId: string;
}

export interface PaidRefund {
  refundId: string;
  /** The approved amount (minor units). */
  amount: number;
  currency: string;
  /** Business time of the ledger refund: when the payout succeeded. */
  at: string;
}

export type Clawback =
  | {
      readonly status: 'posted';
      readonly accountId: string;
      readonly transactionId: string;
      readonly refundId: string;
      readonly amount: number;
      /**
       * The reward taken back from the transaction (minor units), or null when the program defers it to the next
       * statement close (the ledger records the refund now and claws back then).
       */
      readonly clawback: number | null;
      /** The reward the transaction keeps after it (r). */
      readonly rewardAfter: number;
      /** seq of the CLAWBACK ledger entry, or null when nothing was debited (deferred, 0, or a no-clawback program). */
      readonly entrySeq: number | null;
    }
  | {
      /**
       * The refund was paid before its reward transaction settled (the ledger has no reward to take back yet): the
       * clawback is posted when the transaction settles, in the settlement's transaction.
       */
      readonly status: 'deferred';
      readonly accountId: string;
      readonly transactionId: string;
      readonly refundId: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      readonly status: 'refused';
      readonly accountId: string;
      readonly transactionId: string;
      readonly refundId: string;
      readonly code: string;
      readonly message: string;
    };

/**
 * Posts the clawback through `ledger` (whose store works in the caller's transaction, so it commits or rolls back with
 * the SUCCEEDED transition). Domain refusals come back as `refused`; anything else (the database) is thrown.
 */
export async function postClawback(ledger: Ledger, store: LedgerStore, tenant: string, reward: RewardReference, refund: PaidRefund): Promise<Clawback> {
  const base = { accountId: reward.accountId, transactionId: reward.transactionId, refundId: refund.refundId };
  const refuse = (code: string, message: string): Clawback => ({ status: 'refused', ...base, code, message });
  try {
    const owner = await store.accountOfTransaction(tenant, reward.transactionId);
    if (owner === null) return refuse('TRANSACTION_NOT_FOUND', `no ledger transaction ${reward.transactionId}`);
    if (owner !== reward.accountId) {
      return refuse('REWARD_ACCOUNT_MISMATCH', `ledger transaction ${reward.transactionId} belongs to another account than ${reward.accountId}`);
    }
    const account = await store.withAccount(tenant, reward.accountId, (uow) => uow.getAccount(reward.accountId));
    if (account && account.currency !== refund.currency) {
      return refuse('REWARD_CURRENCY_MISMATCH', `reward account ${reward.accountId} is in ${account.currency}, the refund in ${refund.currency}`);
    }
    const r = await ledger.refund(tenant, reward.transactionId, { refundId: refund.refundId, amount: refund.amount, at: refund.at });
    return {
      status: 'posted',
      ...base,
      amount: refund.amount,
      clawback: r.adjustment.clawback,
      rewardAfter: r.transaction.reward,
      entrySeq: r.adjustment.entrySeq,
    };
  } catch (e) {
    if (e instanceof DomainError && e.code === 'TRANSACTION_NOT_SETTLED') return { status: 'deferred', ...base, code: e.code, message: e.message };
    if (e instanceof DomainError) return refuse(e.code, e.message);
    throw e;
  }
}
