/** Refunds as the platform keeps them (api-contract.md section 8): read one with its decisions and history, list, cancel. */
import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DecisionsRepository, PayoutsRepository, RefundsRepository, ReviewsRepository, type Database, type Principal, type RefundFilter, type RefundRow } from '../../../libs/persistence/index.js';
import { payoutView } from '../payouts/payout-view.js';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { done, transactional, type TransactionalCommand } from '../commands/command.js';
import { encodeCursor } from '../http/cursor.js';
import { DATABASE } from '../tokens.js';
import { Pseudonyms } from '../decisions/pseudonyms.js';

export const REFUND_NOT_FOUND = 'REFUND_NOT_FOUND';

/** POST /v1/refunds/{id}/cancel's optional body; the OpenAPI document's RefundCancelRequest is this schema. */
export const cancelRequestSchema = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } as const;
const cancelRequest = new SchemaValidator<{ reason?: string }>(cancelRequestSchema, 'Cancel request');

export function notFound(refundId: string): DomainError {
  return new DomainError(REFUND_NOT_FOUND, `No refund ${refundId}`, 'not_found');
}

/**
 * Path parameters reach SQL: an id no refund can have (a NUL, which a stored body never holds and PostgreSQL text
 * cannot) is simply not found, instead of the driver's error (a 500).
 */
export function assertPossibleId(refundId: string): void {
  if (refundId.includes('\u0000')) throw notFound(refundId);
}

/** The list's summary of a refund. */
function summary(r: RefundRow): Record<string, unknown> {
  return {
    refundId: r.refundId,
    orderId: r.orderId,
    customerId: r.customerId,
    type: r.type,
    state: r.state,
    requestedAmount: r.requestedAmount,
    approvedAmount: r.approvedAmount,
    currency: r.currency,
    ...(r.reward ? { reward: r.reward } : {}),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

@Injectable()
export class RefundsService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly refunds: RefundsRepository,
    private readonly reviews: ReviewsRepository,
    private readonly decisions: DecisionsRepository,
    private readonly payouts: PayoutsRepository,
    private readonly pseudonyms: Pseudonyms,
  ) {}

  /**
   * The refund, the decisions about it (the engine's and reviewers') and every transition, oldest first, with its
   * payout (attempts, last error, provider reference) and ledger clawback. `em`: a command's transaction, to answer
   * from inside it (on PGlite a read through another EntityManager would wait for that transaction).
   */
  async get(principal: Principal, refundId: string, em: SqlEntityManager = this.db.em()): Promise<Record<string, unknown>> {
    assertPossibleId(refundId);
    const refund = await this.refunds.find(em, principal.tenant, refundId);
    if (!refund) throw notFound(refundId);
    const [view] = await this.withDecisionsAndHistory(em, principal.tenant, [refund]);
    return {
      ...view,
      capturedAmount: refund.capturedAmount,
      ...payoutView((await this.payouts.execution(em, principal.tenant, refundId))!),
    };
  }

  /**
   * Each refund as api-contract.md section 8 shows it: its fields, the decisions about it (the engine's and the
   * reviewers') and its transitions. Two queries for the whole page, whatever its size.
   */
  private async withDecisionsAndHistory(em: SqlEntityManager, tenant: string, refunds: readonly RefundRow[]): Promise<Record<string, unknown>[]> {
    const histories = await this.refunds.histories(em, tenant, refunds.map((r) => r.refundId));
    const ids = [...new Set(refunds.flatMap((r) => [r.decisionId, ...(histories.get(r.refundId) ?? []).flatMap((h) => (h.decisionId ? [h.decisionId] : []))]))];
    const decisions = new Map((await this.decisions.summaries(em, tenant, ids)).map((d) => [d.id, d]));
    return refunds.map((r) => {
      const history = histories.get(r.refundId) ?? [];
      const mine = [...new Set([r.decisionId, ...history.flatMap((h) => (h.decisionId ? [h.decisionId] : []))])]
        .flatMap((id) => (decisions.has(id) ? [decisions.get(id)!] : []))
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
      return {
        ...summary(r),
        decisions: mine.map((d) => ({ id: d.id, type: d.type, outcome: d.outcome, createdAt: d.createdAt.toISOString(), ...(d.overrides ? { overrides: d.overrides } : {}) })),
        history: history.map((h) => ({ from: h.from, to: h.to, actor: h.actor, at: h.at.toISOString(), reason: h.reason, decisionId: h.decisionId })),
      };
    });
  }

  async list(principal: Principal, f: RefundFilter & { limit: number; after?: { createdAt: Date; refundId: string } }): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    const em = this.db.em();
    // The caller names the customer as they know them; the store may hold the tenant's pseudonym of it.
    const filter = f.customerId === undefined ? f : { ...f, customerPseudonym: this.pseudonyms.forTenant(principal.tenant)(f.customerId) };
    const rows = await this.refunds.list(em, principal.tenant, filter, f.limit + 1, f.after);
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: await this.withDecisionsAndHistory(em, principal.tenant, page),
      nextCursor: rows.length > f.limit && last ? encodeCursor({ at: last.createdAt.toISOString(), id: last.refundId }) : null,
    };
  }

  /**
   * Cancels a refund before processing starts (IN_REVIEW or APPROVED; anything else is 409 INVALID_TRANSITION). Its
   * open review items close with it, and its amount no longer counts against the order.
   */
  cancel(principal: Principal, refundId: string, body: unknown): TransactionalCommand<Record<string, unknown>> {
    assertPossibleId(refundId);
    const { reason } = cancelRequest.validate(body ?? {});
    return transactional(async ({ em, now }) => {
      const moved = await this.refunds.transition(em, {
        tenant: principal.tenant,
        refundId,
        to: 'CANCELED',
        actor: { type: 'key', id: principal.keyId, role: 'service' },
        at: now,
        reason: reason ?? 'canceled by the service',
      });
      if (!moved) throw notFound(refundId);
      await this.reviews.closeReviewsOfRefund(em, principal.tenant, refundId, now);
      return done(summary(moved));
    });
  }
}
