/**
 * The review queue: one item per decision whose outcome asks for a review (any decision type), with its SLA deadline,
 * the claim lease and how many approvals it needs, all fixed when it opens from the release's parameters.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { uuidv7Ids, type IdFactory } from './clock.js';
import { OutboxRepository } from './outbox.repository.js';

export type ReviewState = 'OPEN' | 'APPROVED' | 'DENIED' | 'CANCELED';

export interface NewReview {
  tenant: string;
  type: string;
  decisionId: string;
  refundId: string | null;
  amount: number | null;
  currency: string | null;
  riskBand: string | null;
  deadline: Date;
  leaseMinutes: number;
  requiredApprovals: number;
  /** The API key that asked for the decision (it may not approve it). */
  requestedBy: string;
  createdAt: Date;
}

export class ReviewsRepository {
  private readonly outbox: OutboxRepository;

  constructor(private readonly ids: IdFactory = uuidv7Ids) {
    this.outbox = new OutboxRepository(ids);
  }

  /** Opens the item and writes `review.created`, in the caller's transaction. */
  async open(em: SqlEntityManager, r: NewReview): Promise<string> {
    const id = this.ids.next(r.createdAt);
    await em.execute(
      `insert into reviews (id, tenant, type, decision_id, refund_id, amount, currency, risk_band, state, deadline, lease_minutes,
                            required_approvals, requested_by, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, ?, ?, ?, ?)`,
      [id, r.tenant, r.type, r.decisionId, r.refundId, r.amount, r.currency, r.riskBand, r.deadline, r.leaseMinutes, r.requiredApprovals, r.requestedBy, r.createdAt],
    );
    await this.outbox.append(em, {
      tenant: r.tenant,
      type: 'review.created',
      occurredAt: r.createdAt,
      data: {
        reviewId: id,
        type: r.type,
        decisionId: r.decisionId,
        refundId: r.refundId,
        amount: r.amount,
        currency: r.currency,
        deadline: r.deadline.toISOString(),
        requiredApprovals: r.requiredApprovals,
      },
    });
    return id;
  }

  /** Closes the refund's open review items as CANCELED (the refund was canceled while in review). */
  async closeReviewsOfRefund(em: SqlEntityManager, tenant: string, refundId: string, at: Date): Promise<number> {
    const rows = await em.execute<{ id: string }[]>(
      `update reviews set state = 'CANCELED', resolved_at = ?, assignee = null, lease_until = null
        where tenant = ? and refund_id = ? and state = 'OPEN' returning id`,
      [at, tenant, refundId],
    );
    return rows.length;
  }
}
