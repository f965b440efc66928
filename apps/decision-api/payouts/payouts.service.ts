/** The manual retry of a failed payout, and how a refund's payout stands (for the refund's view). */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DomainError } from '../../../libs/errors/index.js';
import { PayoutsRepository, type PayoutExecution, type Principal } from '../../../libs/persistence/index.js';
import { RefundsRepository } from '../../../libs/persistence/index.js';
import { done, transactional, type TransactionalCommand } from '../commands/command.js';
import { PayoutWorker } from './payout.worker.js';

export interface PayoutView {
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  providerRef: string | null;
}

/** The refund's payout and clawback as answered: the clawback as recorded with SUCCEEDED (posted, or refused). */
export function payoutView(e: PayoutExecution): { payout: PayoutView; clawback: Record<string, unknown> | null } {
  return {
    payout: { attempts: e.attempts, nextAttemptAt: e.nextAttemptAt?.toISOString() ?? null, lastError: e.lastError, providerRef: e.providerRef },
    clawback: e.clawback,
  };
}

export const refundNotFound = (refundId: string) => new DomainError('REFUND_NOT_FOUND', `No refund ${refundId}`, 'not_found');

@Injectable()
export class PayoutsService {
  constructor(
    private readonly payouts: PayoutsRepository,
    private readonly refunds: RefundsRepository,
    @Inject(PayoutWorker) private readonly worker: PayoutWorker,
  ) {}

  /** FAILED → PROCESSING (409 INVALID_TRANSITION otherwise), attempts reset, the worker woken after commit. */
  retry(p: Principal, refundId: string): TransactionalCommand<unknown> {
    return transactional(
      async ({ em, now }) => {
        const moved = await this.payouts.retry(em, { tenant: p.tenant, refundId, actor: { type: 'key', id: p.keyId, role: 'service' }, at: now });
        if (!moved) throw refundNotFound(refundId);
        return done(await this.view(em, p.tenant, refundId));
      },
      { afterCommit: () => this.worker.wake() },
    );
  }

  /** The refund with its history, payout and clawback. */
  async view(em: SqlEntityManager, tenant: string, refundId: string): Promise<Record<string, unknown>> {
    const r = await this.refunds.find(em, tenant, refundId);
    if (!r) throw refundNotFound(refundId);
    const history = await this.refunds.history(em, tenant, refundId);
    const exec = (await this.payouts.execution(em, tenant, refundId))!;
    return {
      refundId: r.refundId,
      orderId: r.orderId,
      state: r.state,
      requestedAmount: r.requestedAmount,
      approvedAmount: r.approvedAmount,
      currency: r.currency,
      reward: r.reward,
      ...payoutView(exec),
      history: history.map((h) => ({ from: h.from, to: h.to, actor: h.actor, at: h.at.toISOString(), reason: h.reason })),
    };
  }
}
