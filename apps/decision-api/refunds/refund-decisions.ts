/**
 * Decisions of a type with a refund lifecycle: the decision, the refund it creates, the review it may open and their
 * events are written in one transaction, under a lock on the order, so that the refunded total the rules see (the
 * larger of the case's and the platform's own) cannot be raced by a concurrent refund of the same order.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import { isCurrencyCode } from '../../../libs/names/index.js';
import { keyActor } from '../../../libs/audit/index.js';
import { getter, REFUND_LIFECYCLE_INPUT, requiredApprovals, reviewDeadline, SchemaValidator, type BoundDecisionType, type CompiledRelease, type TypedDecision } from '../../../libs/decisions/index.js';
import {
  entityLockIds,
  FeatureHistoryRepository,
  isRefundTaken,
  LAST_STATEMENT,
  unlessKeyTaken,
  RefundDecisionsRepository,
  RefundsRepository,
  reviewCreatedData,
  stateChangedData,
  type Database,
  type IdFactory,
  type NewReview,
  type Principal,
  type RewardRef,
} from '../../../libs/persistence/index.js';
import { enrichedCase, ENTRY_STATE, refundedTotal, refundedTotalTrace, SYSTEM } from '../../../libs/refunds/index.js';
import { createdJson, type StatementCommand } from '../commands/command.js';
import { DATABASE, ID_FACTORY } from '../tokens.js';
import { decisionRow } from '../decisions/decision-row.js';
import { Metrics } from '../metrics/metrics.js';
import type { Tracer } from '../../../libs/tracing/index.js';
import { SPANS, Tracing } from '../tracing/tracing.js';

/** The RefundCase fields a lifecycle reads (the type's input schema declares them: decision-type.ts checks). */
interface RefundCaseView {
  refundId: string;
  orderId: string;
  customerId: string;
  requestedAmount: number;
  currency: string;
  order: { capturedAmount: number; refundedAmount: number };
  reward?: RewardRef;
}

/**
 * What the lifecycle itself needs of a case (libs/decisions: REFUND_LIFECYCLE_INPUT). The type's inputErrors already
 * checked it with the case; this is its typed view, and a 400 naming the field for any caller that did not.
 */
export const refundCaseView = new SchemaValidator<RefundCaseView>(REFUND_LIFECYCLE_INPUT, 'Refund case');

export const REFUND_EXISTS = 'REFUND_EXISTS';

export function refundExists(refundId: string, state: string): DomainError {
  const location = `/v1/refunds/${encodeURIComponent(refundId)}`;
  return new DomainError(REFUND_EXISTS, `Refund ${refundId} already exists (state ${state}); it was decided under another Idempotency-Key`, 'conflict', [{ path: '/case/refundId', message: 'names an existing refund' }], { location, refundId, state });
}

export interface LifecycleDecision {
  document: Record<string, unknown>;
  json: string;
  evaluated: TypedDecision;
  input: Record<string, unknown>;
}

@Injectable()
export class RefundDecisions {
  /** Undefined when tracing is off: then no span is made. */
  private readonly tracer: Tracer | undefined;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly repo: RefundDecisionsRepository,
    private readonly refunds: RefundsRepository,
    private readonly history: FeatureHistoryRepository,
    private readonly metrics: Metrics,
    tracing: Tracing,
  ) {
    this.tracer = tracing.tracer;
  }

  /**
   * The command for one refund decision: in one transaction, the key's claim with the order's lock, then what the
   * decision must know (the refundId, the order's committed total), the evaluation, then one statement that writes
   * the decision, the refund, its first transition, a review item and their events. `build` makes the stored
   * decision document (the decisions service owns its shape); `afterCommit` gets what was decided (shadow evaluation).
   */
  decide(
    principal: Principal,
    release: CompiledRelease,
    type: BoundDecisionType,
    input: Record<string, unknown>,
    build: (base: { id: string; tenant: string; createdAt: string }, evaluated: TypedDecision, trace: unknown[]) => Record<string, unknown>,
    eventData: (document: Record<string, unknown>) => Record<string, unknown>,
    afterCommit: (d: LifecycleDecision) => void,
  ): StatementCommand<Record<string, unknown>> {
    const c = refundCaseView.validate(input, '/case');
    const tenant = principal.tenant;
    const tracer = this.tracer;
    const attributes = tracer && { 'decision.type': type.ref };
    let made: LifecycleDecision | undefined;
    return {
      kind: 'statement',
      applyClaimed: ({ claim, now }) =>
        unlessKeyTaken(this.db.em().transactional(async (em) => {
          const id = this.ids.next(now);
          // The key first, then the order (every route's lock order). Another request holds the key (this one waited
          // for it to commit): the mechanism replays its answer.
          // Then the case's entity keys (customer, device, …): its features count every decision that held them before.
          const locks = type.history ? entityLockIds(tenant, type.history.keys(input)) : [];
          // Held: it goes out with the read below, whose call fails in its place when the key was taken (unlessKeyTaken).
          await this.history.claim(em, { ...claim, tenant, decisionId: id, createdAt: now }, { orderId: c.orderId, entities: locks }, { held: true });
          // `tracer ? … : …` inline, not a helper: tracing off allocates no closure per call.
          const queries = type.features?.queries(input);
          const before = await (tracer ? tracer.within(SPANS.read, () => this.repo.before(em, tenant, id, c.refundId, c.orderId, queries), attributes) : this.repo.before(em, tenant, id, c.refundId, c.orderId, queries));
          if (before.existingState) throw refundExists(c.refundId, before.existingState);
          const total = refundedTotal(c.order.refundedAmount, before.committedTotal);
          const seen = enrichedCase(input, total);
          const started = performance.now();
          const evaluated = await (tracer ? tracer.within(SPANS.evaluate, () => type.decideValid(seen, before.features, tracer), attributes) : type.decideValid(seen, before.features, undefined));
          this.metrics.evaluated(tenant, type.name, (performance.now() - started) / 1000);
          const state = ENTRY_STATE[evaluated.outcome];
          if (!state) throw new DomainError('DECISION_TYPE_INVALID', `${type.ref} decided ${evaluated.outcome}, which no refund state follows`, 'unavailable');
          const document = build({ id, tenant, createdAt: now.toISOString() }, evaluated, [refundedTotalTrace(total), ...evaluated.trace]);
          const json = JSON.stringify(document);
          const approved = evaluated.output.approvedAmount;
          const refund = {
            refundId: c.refundId,
            type: type.name,
            orderId: c.orderId,
            customerId: c.customerId,
            state,
            requestedAmount: c.requestedAmount,
            approvedAmount: state === 'APPROVED' ? (Number.isSafeInteger(approved) ? (approved as number) : c.requestedAmount) : 0,
            capturedAmount: c.order.capturedAmount,
            currency: c.currency,
            reward: c.reward ?? null,
            requestedBy: principal.keyId,
          };
          const transition = {
            id: this.ids.next(now),
            actor: SYSTEM,
            reason: evaluated.outcome === 'APPROVE' ? 'decision approved' : evaluated.reasons.map((r) => r.code).join(', ') || evaluated.outcome,
          };
          const review = this.reviewOf(type, principal, id, c.refundId, input, evaluated, now);
          const events = [
            { id: this.ids.next(now), type: 'decision.created', data: eventData(document) },
            { id: this.ids.next(now), type: 'refund.state_changed', data: stateChangedData({ to: state, actor: SYSTEM, reason: transition.reason, decisionId: id }, null, refund) },
            ...(review ? [{ id: this.ids.next(now), type: 'review.created', data: reviewCreatedData(review.id, review) }] : []),
          ];
          const record = type.history?.record(input);
          const rows = {
            ...(record && {
              history: { tenant, decisionId: id, type: type.name, outcome: evaluated.outcome, reasons: evaluated.reasons.map((r) => r.code), record, createdAt: now, refund: { state, approvedAmount: refund.approvedAmount } },
            }),
            decision: decisionRow({ id, tenant, type: type.name, evaluated, release: release.ref, input, document, documentJson: json, idempotencyKey: claim.key, now, actor: keyActor(principal, 'service') }),
            refund,
            transition,
            ...(review ? { review } : {}),
            events,
          };
          // The last statement: it commits (THEN_COMMIT); nothing after it may fail the transaction. The same refundId
          // under another order, decided at the same time, fails it instead (below): nothing is written.
          await (tracer ? tracer.within(SPANS.persist, () => this.repo.write(em, rows, LAST_STATEMENT), attributes) : this.repo.write(em, rows, LAST_STATEMENT));
          made = { document, json, evaluated, input: seen };
          return createdJson(document, json);
        }).catch(async (e: unknown) => {
          if (!isRefundTaken(e)) throw e;
          throw refundExists(c.refundId, (await this.refunds.find(this.db.em(), tenant, c.refundId))?.state ?? 'unknown');
        })),
      afterCommit: () => {
        if (made) afterCommit(made);
      },
    };
  }

  /** The review item a decision opens when its outcome is the type's `review.when`, with the release's numbers. */
  private reviewOf(type: BoundDecisionType, principal: Principal, decisionId: string, refundId: string, input: Record<string, unknown>, evaluated: TypedDecision, now: Date): (NewReview & { id: string }) | undefined {
    const policy = type.review;
    if (!policy || evaluated.outcome !== policy.when) return undefined;
    const amount = getter(policy.amount)(input);
    const currency = getter(policy.currency)(input);
    const band = policy.riskBand !== undefined && evaluated.facts ? getter(policy.riskBand)(evaluated.facts) : undefined;
    const riskBand = typeof band === 'string' ? band : null;
    const minor = Number.isSafeInteger(amount) ? (amount as number) : null;
    return {
      id: this.ids.next(now),
      tenant: principal.tenant,
      type: type.name,
      decisionId,
      refundId,
      amount: minor,
      // Stored as char(3): only an ISO 4217 code (the pointer is the type's: a tenant's may name any string).
      currency: typeof currency === 'string' && isCurrencyCode(currency) ? currency : null,
      riskBand,
      deadline: reviewDeadline(policy, now),
      leaseMinutes: policy.claimLeaseMinutes,
      requiredApprovals: requiredApprovals(policy, minor, riskBand),
      requestedBy: principal.keyId,
      createdAt: now,
    };
  }
}
