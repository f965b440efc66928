/**
 * The review queue over HTTP (api-contract.md section 8): list and read items, claim and release them, resolve them.
 * The rules are libs/reviews; this wires them to the rows, under the locks that make concurrent reviewers safe, and
 * leaves behind, on closing, the resolution decision and the refund's transition in the same transaction.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { isUuid, UPPER_SNAKE_PATTERN } from '../../../libs/names/index.js';
import {
  ApiKeysRepository,
  AuditRepository,
  OutboxRepository,
  DecisionsRepository,
  RefundsRepository,
  ReviewsRepository,
  type Clock,
  type Database,
  type IdFactory,
  type Principal,
  type RefundRow,
  type ReviewFilter,
  type ReviewPosition,
} from '../../../libs/persistence/index.js';
import { claim, holder, isOverdue, release, resolve, resolutionDocument, type EngineReason, type ResolveInput, type Review } from '../../../libs/reviews/index.js';
import { auditEntry } from '../audit/audit-entry.js';
import { done, transactional } from '../commands/command.js';
import { CLOCK, DATABASE, ID_FACTORY } from '../tokens.js';

export const resolveSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['resolution', 'reasonCode'],
  properties: {
    resolution: { type: 'string', enum: ['APPROVE', 'DENY'] },
    amount: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units; APPROVE only; at most the requested amount (default: all of it).' },
    reasonCode: { type: 'string', pattern: UPPER_SNAKE_PATTERN, maxLength: 100 },
    note: { type: 'string', maxLength: 2000 },
  },
} as const;

const validator = new SchemaValidator<ResolveInput>(resolveSchema, 'Resolution');

export const REVIEW_NOT_FOUND = 'REVIEW_NOT_FOUND';
export const AMOUNT_EXCEEDS_REFUNDABLE = 'AMOUNT_EXCEEDS_REFUNDABLE';

const notFound = (id: string) => new DomainError(REVIEW_NOT_FOUND, `No review ${id}`, 'not_found', [{ path: 'path:id', message: 'no such review' }]);

/** An item as answered: the live claim only (an expired lease shows nobody), and whether it is overdue now. */
export function reviewView(r: Review, now: Date) {
  const open = r.state === 'OPEN';
  const assignee = open ? holder(r, now) : null;
  return {
    id: r.id,
    type: r.type,
    decisionId: r.decisionId,
    refundId: r.refundId,
    amount: r.amount,
    currency: r.currency,
    riskBand: r.riskBand,
    state: r.state,
    deadline: r.deadline.toISOString(),
    overdue: isOverdue(r, now),
    overdueAt: r.overdueAt?.toISOString() ?? null,
    assignee,
    leaseUntil: assignee === null ? null : r.leaseUntil!.toISOString(),
    requiredApprovals: r.requiredApprovals,
    approvals: r.approvals.map((a) => ({ keyId: a.keyId, amount: a.amount, reasonCode: a.reasonCode, note: a.note, at: a.at.toISOString() })),
    requestedBy: r.requestedBy,
    resolution: r.resolution,
    resolvedBy: open ? null : r.assignee,
    resolvedAt: r.resolvedAt?.toISOString() ?? null,
    resolutionDecisionId: r.resolutionDecisionId,
    createdAt: r.createdAt.toISOString(),
  };
}

export type ReviewView = ReturnType<typeof reviewView>;

@Injectable()
export class ReviewsService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly reviews: ReviewsRepository,
    private readonly refunds: RefundsRepository,
    private readonly decisions: DecisionsRepository,
    private readonly keys: ApiKeysRepository,
    private readonly outbox: OutboxRepository,
    private readonly audit: AuditRepository,
  ) {}

  /** The caller as four-eyes sees it: its key and every key of the same rotation chain. */
  private async reviewer(em: SqlEntityManager, p: Principal): Promise<Principal & { sameAs: string[] }> {
    return { ...p, sameAs: await this.keys.lineage(em, p.tenant, p.keyId) };
  }

  async list(p: Principal, filter: ReviewFilter, limit: number, after: ReviewPosition | undefined) {
    const now = this.clock.now();
    // One transaction: every query of the call shares its connection (PGlite has only one).
    const page = await this.db.em().transactional((em) => this.reviews.list(em, p.tenant, filter, limit, now, after));
    return { items: page.items.map((r) => reviewView(r, now)), next: page.next };
  }

  async get(p: Principal, id: string): Promise<ReviewView> {
    const now = this.clock.now();
    const r = isUuid(id) ? await this.db.em().transactional((em) => this.reviews.find(em, p.tenant, id)) : null;
    if (!r) throw notFound(id);
    return reviewView(r, now);
  }

  private async locked(em: SqlEntityManager, p: Principal, id: string): Promise<Review> {
    const r = isUuid(id) ? await this.reviews.find(em, p.tenant, id, { forUpdate: true }) : null;
    if (!r) throw notFound(id);
    return r;
  }

  /** The caller holds the item for its lease; two reviewers claiming at once queue on the row lock, the second sees the first's claim. */
  claim(p: Principal, id: string) {
    return transactional(async ({ em, now }) => {
      const r = await this.locked(em, p, id);
      const c = claim(r, await this.reviewer(em, p), now);
      await this.reviews.claim(em, p.tenant, id, p.keyId, c.leaseUntil);
      await this.audit.append(em, auditEntry(p, 'reviewer', now, 'review.claimed', 'review', id, { leaseUntil: c.leaseUntil.toISOString() }));
      return done(reviewView({ ...r, assignee: p.keyId, leaseUntil: c.leaseUntil }, now));
    });
  }

  release(p: Principal, id: string) {
    return transactional(async ({ em, now }) => {
      const r = await this.locked(em, p, id);
      release(r, p, now);
      await this.reviews.release(em, p.tenant, id);
      await this.audit.append(em, auditEntry(p, 'reviewer', now, 'review.released', 'review', id, {}));
      return done(reviewView({ ...r, assignee: null, leaseUntil: null }, now));
    });
  }

  /**
   * Records an approval, or closes the item: the resolution decision, the review's close and its event, and the
   * refund's transition, all in the command's transaction. Lock order (the refund cancel route takes the same):
   * the order, the refund's row, then the review's row.
   */
  resolve(p: Principal, id: string, body: unknown) {
    const input = validator.validate(body);
    return transactional(async ({ em, now, key }) => {
      const seen = isUuid(id) ? await this.reviews.find(em, p.tenant, id) : null;
      if (!seen) throw notFound(id);
      let refund: RefundRow | null = null;
      if (seen.refundId !== null) {
        const unlocked = await this.refunds.find(em, p.tenant, seen.refundId);
        if (unlocked) {
          await this.refunds.lockOrder(em, p.tenant, unlocked.orderId);
          refund = await this.refunds.find(em, p.tenant, seen.refundId, { forUpdate: true });
        }
      }
      const r = await this.locked(em, p, id);
      const effect = resolve(r, await this.reviewer(em, p), input, now);
      const approving = effect.kind === 'approval' ? effect.approval.amount : effect.state === 'APPROVED' ? effect.approvedAmount : null;
      if (refund && approving !== null) await this.assertRefundable(em, refund, approving);
      if (effect.kind === 'approval') {
        // The first of several approvals: recorded, and the item goes back to the queue for another reviewer.
        await this.reviews.addApproval(em, p.tenant, id, effect.approval);
        await this.reviews.release(em, p.tenant, id);
        await this.audit.append(em, auditEntry(p, 'reviewer', now, 'review.approved', 'review', id, { amount: effect.approval.amount, approvals: r.approvals.length + 1 }));
        return done(reviewView({ ...r, assignee: null, leaseUntil: null, approvals: [...r.approvals, effect.approval] }, now));
      }
      if (effect.approval) await this.reviews.addApproval(em, p.tenant, id, effect.approval);
      const approvals = effect.approval ? [...r.approvals, effect.approval] : r.approvals;
      const decisionId = await this.recordResolution(em, { review: { ...r, approvals }, closedBy: p.keyId, input, approvedAmount: effect.approvedAmount, reviewers: effect.reviewers, now, key });
      const outcome = effect.state === 'APPROVED' ? 'APPROVE' : 'DENY';
      await this.reviews.close(em, { review: r, state: effect.state, resolution: outcome, closedBy: p.keyId, at: now, resolutionDecisionId: decisionId, approvedAmount: effect.approvedAmount, reviewers: effect.reviewers });
      if (r.refundId !== null) {
        await this.refunds.transition(em, {
          tenant: p.tenant,
          refundId: r.refundId,
          to: effect.state,
          actor: { type: 'key', id: p.keyId, role: 'reviewer' },
          at: now,
          reason: input.note ? `${input.reasonCode}: ${input.note}` : input.reasonCode,
          decisionId,
          ...(effect.approvedAmount !== null ? { approvedAmount: effect.approvedAmount } : {}),
        });
      }
      await this.audit.append(
        em,
        auditEntry(p, 'reviewer', now, 'review.resolved', 'review', id, { state: effect.state, resolution: outcome, reasonCode: input.reasonCode, decisionId, refundId: r.refundId, approvedAmount: effect.approvedAmount }),
      );
      const closed = await this.reviews.find(em, p.tenant, id);
      return done(reviewView(closed!, now));
    });
  }

  /** What the order already has approved or paid, plus this approval, stays within what was captured (the order lock is held). */
  private async assertRefundable(em: SqlEntityManager, refund: RefundRow, amount: number): Promise<void> {
    const committed = await this.refunds.committedTotal(em, refund.tenant, refund.orderId, refund.refundId);
    const refundable = refund.capturedAmount - committed;
    if (amount <= refundable) return;
    throw new DomainError(
      AMOUNT_EXCEEDS_REFUNDABLE,
      `Order ${refund.orderId} has ${Math.max(refundable, 0)} ${refund.currency} left to refund (captured ${refund.capturedAmount}, committed ${committed}); this approval is ${amount}`,
      'unprocessable',
      [{ path: '/amount', message: `must not exceed ${Math.max(refundable, 0)}` }],
      { refundable: Math.max(refundable, 0), committed, captured: refund.capturedAmount },
    );
  }

  /** The decision that records the resolution; the engine's REVIEW decision stays as it was and is named by `overrides`. */
  private async recordResolution(
    em: SqlEntityManager,
    d: { review: Review; closedBy: string; input: ResolveInput; approvedAmount: number | null; reviewers: string[]; now: Date; key: string },
  ): Promise<string> {
    const { review, input, now } = d;
    const engine = await this.decisions.findById(em, review.tenant, review.decisionId);
    if (!engine) throw new Error(`review ${review.id} names decision ${review.decisionId}, which does not exist`);
    const engineDoc = engine.document as { outcome?: string; reasons?: EngineReason[]; release?: unknown };
    const id = this.ids.next(now);
    const outcome = input.resolution;
    const document = resolutionDocument({
      id,
      tenant: review.tenant,
      type: review.type,
      createdAt: now,
      outcome,
      approvedAmount: d.approvedAmount,
      currency: review.currency,
      refundId: review.refundId,
      reasonCode: input.reasonCode,
      note: input.note ?? null,
      review: { id: review.id, reviewers: d.reviewers, approvals: review.approvals },
      engine: {
        id: engine.id,
        outcome: engineDoc.outcome ?? engine.outcome,
        reasons: (engineDoc.reasons ?? []).map((r) => ({ code: r.code, ...(r.message ? { message: r.message } : {}) })),
        release: engineDoc.release ?? { name: engine.releaseName, version: engine.releaseVersion },
      },
      closedBy: d.closedBy,
    });
    await this.decisions.insert(em, {
      id,
      tenant: review.tenant,
      domain: review.type,
      outcome,
      riskScore: null,
      releaseName: engine.releaseName,
      releaseVersion: engine.releaseVersion,
      components: engine.components,
      caseData: { reviewId: review.id, overrides: engine.id, ...input },
      document,
      idempotencyKey: d.key,
      evaluatedAt: now,
      createdAt: now,
      actor: { id: d.closedBy, role: 'reviewer' },
    });
    // A reviewer's decision is a decision like the engine's: followers learn of it the same way.
    await this.outbox.append(em, {
      tenant: review.tenant,
      type: 'decision.created',
      occurredAt: now,
      data: {
        decisionId: id,
        type: review.type,
        outcome,
        ...(review.refundId !== null ? { caseRef: review.refundId } : {}),
        release: { name: engine.releaseName, version: engine.releaseVersion },
        overrides: engine.id,
        reviewId: review.id,
        createdAt: now.toISOString(),
      },
    });
    return id;
  }
}
