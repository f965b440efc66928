/** The manual retry of a failed payout (api-contract.md section 8). */
import { Injectable } from '@nestjs/common';
import { PayoutsRepository, type Principal } from '../../../libs/persistence/index.js';
import { done, transactional, type TransactionalCommand } from '../commands/command.js';
import { assertPossibleId, notFound, RefundsService } from '../refunds/refunds.service.js';
import { PayoutWorker } from './payout.worker.js';

@Injectable()
export class PayoutsService {
  constructor(
    private readonly payouts: PayoutsRepository,
    private readonly refunds: RefundsService,
    private readonly worker: PayoutWorker,
  ) {}

  /** FAILED → PROCESSING (409 INVALID_TRANSITION otherwise), attempts reset, the worker woken after commit. Answers the refund. */
  retry(p: Principal, refundId: string): TransactionalCommand<unknown> {
    assertPossibleId(refundId);
    return transactional(
      async ({ em, now }) => {
        const moved = await this.payouts.retry(em, { tenant: p.tenant, refundId, actor: { type: 'key', id: p.keyId, role: 'service' }, at: now });
        if (!moved) throw notFound(refundId);
        return done(await this.refunds.get(p, refundId, em));
      },
      { afterCommit: () => this.worker.wake() },
    );
  }
}
