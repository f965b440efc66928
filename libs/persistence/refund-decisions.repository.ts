/**
 * The statements of a refund decision after its claim (FeatureHistoryRepository.claim, which also takes the order's
 * lock and the case's entity locks): what the decision must know (is the refund taken, what has the platform
 * committed for the order), then everything it writes in ONE statement (decision, refund, first transition, review,
 * history rows, events).
 *
 * The claim comes before the order's lock, as in every other route (the mechanism claims, then the command locks the
 * order): a decision holding the order while it waited on the key deadlocked with a review resolution or a payout
 * retry of that order sent the same key at the same time (which holds the key and waits on the order).
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import { sameTenant } from './tenant-scope.js';
import { actorView, COMMITTED_STATES, type Actor, type RefundState } from '../refunds/index.js';
import { DECISION_COLUMNS, decisionValues, reasonsInsertSql, type StoredDecisionRow } from './decisions.repository.js';
import { committedTotalSql, type RefundRow } from './refunds.repository.js';
import { featureColumns, featureSlots, featuresShape, featureValues, historyInsertSql, refundStatesWrittenBy, type RecordedDecision } from './feature-history.repository.js';
import { CompiledStatements, shapeKey, type SlotOf } from './compiled-statements.js';
import { ANY_SCAN_AGAIN, CUSTOM_PLAN_AGAIN, GENERIC_INDEX_PLAN, THEN_COMMIT } from './prepared-statements.js';
import type { FeatureQuery } from '../decisions/types/features.js';
import type { NewReview } from './reviews.repository.js';

export interface BeforeRefundDecision {
  /** The refund's state when the tenant already has one with this refundId. */
  existingState: RefundState | null;
  /** What the platform has approved or paid for the order (minor units). */
  committedTotal: number;
  /** The platform's values of the features asked for, by name. */
  features: Record<string, number | null>;
}

export interface RefundDecisionWrite {
  decision: StoredDecisionRow;
  refund: Pick<RefundRow, 'refundId' | 'type' | 'orderId' | 'customerId' | 'state' | 'requestedAmount' | 'approvedAmount' | 'capturedAmount' | 'currency' | 'reward' | 'requestedBy'>;
  transition: { id: string; actor: Actor; reason: string };
  review?: NewReview & { id: string };
  /** The decision's history rows (historyInsertSql, guarded by the `refund` CTE): written only when the refund is. */
  history?: RecordedDecision;
  /** decision.created, refund.state_changed, review.created: written only when the refund is. */
  events: { id: string; type: string; data: Record<string, unknown> }[];
}

/**
 * The write is planned once per connection, and so is the read when it reads features; the pool's sessions make a
 * custom plan for every other statement (database.ts). The read plans with index scans only (GENERIC_INDEX_PLAN): the features' aggregates find
 * their rows by the history's lookup index, whose leading columns their conditions fix, so that plan cannot go stale as
 * the history grows; planning it was half of the features' cost. The refund and the order's total come from a function
 * that plans them for each call (Migration20261212000000: no index of `refunds` is fixed by its conditions alone
 * on young tables). The write reads no table (its
 * CTEs insert parameters and read each other): re-planning it cost ~5% of PostgreSQL's CPU per decision (HTTP row, 3
 * pairs, 2026-12-04). The read's last column keeps this transaction on generic plans for the write, whose last column
 * switches back.
 */
const GENERIC_FOR_THE_WRITE = sql`set_config('plan_cache_mode', 'force_generic_plan', true) as plan_mode`;
const CUSTOM_AFTER_THE_WRITE = sql.raw(CUSTOM_PLAN_AGAIN);

/** RefundDecisionsRepository.before's statement (its plan is checked in refund-decisions.repository.test.ts). */
export function beforeRefundDecisionSql(tenant: string, decisionId: string, refundId: string, orderId: string, features: readonly FeatureQuery[] = []): RawBuilder<Record<string, unknown>> {
  // Without features, planned for each execution: the function's call costs more than planning two lookups by key
  // (`pgbench`, 2026-12-05: the read's two lookups planned inline 0.28 ms with features, 0.13 ms without them).
  if (features.length === 0) {
    return sql<Record<string, unknown>>`
      select (select state from refunds where ${sameTenant(tenant)} and refund_id = ${refundId}) as existing_state,
             ${committedTotalSql(tenant, orderId)} as committed, ${GENERIC_FOR_THE_WRITE}, ${refundStatesWrittenBy(decisionId)}`;
  }
  const committed = `{${COMMITTED_STATES.join(',')}}`;
  return sql<Record<string, unknown>>`${sql.raw(GENERIC_INDEX_PLAN)}select r.existing_state, r.committed::text as committed, ${sql.join(featureColumns(tenant, features))},
             ${sql.raw(ANY_SCAN_AGAIN)}, ${GENERIC_FOR_THE_WRITE}, ${refundStatesWrittenBy(decisionId)}
        from refund_decision_before(${tenant}, ${refundId}, ${orderId}, ${committed}::text[]) r`;
}

interface BeforeArgs {
  tenant: string;
  decisionId: string;
  refundId: string;
  orderId: string;
  features: readonly FeatureQuery[];
}

export class RefundDecisionsRepository {
  /** before()'s statement, compiled once per decision type's features (their declarations, not their values). */
  private readonly beforeStatements = new CompiledStatements<BeforeArgs>();
  /** write()'s statement, compiled once per shape (a review, history rows, reason codes, how many events). */
  private readonly writeStatements = new CompiledStatements<WriteArgs>();

  /**
   * Run after the claim and the locks: the refund and the order's total cannot change until this transaction ends,
   * nor the history of the case's entity keys. The features are read in the same statement (one round trip). Must be
   * followed by write() (or the transaction's end): it leaves the transaction making generic plans, and says the write
   * of `decisionId` puts its refund's entry state on the decision's history rows itself (refundStatesWrittenBy).
   */
  async before(em: SqlEntityManager, tenant: string, decisionId: string, refundId: string, orderId: string, features: readonly FeatureQuery[] = []): Promise<BeforeRefundDecision> {
    const db = em.getKysely();
    const shape = featuresShape(features);
    const result =
      shape === undefined
        ? await beforeRefundDecisionSql(tenant, decisionId, refundId, orderId, features).execute(db)
        : await db.executeQuery(
            this.beforeStatements.bind(db, shape, { tenant, decisionId, refundId, orderId, features }, (slot) =>
              beforeRefundDecisionSql(slot((a) => a.tenant), slot((a) => a.decisionId), slot((a) => a.refundId), slot((a) => a.orderId), featureSlots(features, slot)),
            ),
          );
    const r = result.rows[0]!;
    return {
      existingState: (r.existing_state as RefundState | null) ?? null,
      committedTotal: Number(r.committed),
      features: featureValues(r, features),
    };
  }

  /**
   * Writes everything after the claim. Without `last` (a caller with more to do in the transaction): `exists` when the
   * refundId was taken meanwhile under another order's lock (the caller must roll back: the claim and the decision are
   * written), `created` otherwise. With `last` (the service), the
   * transaction's last statement (of a top-level transaction): it commits the transaction (THEN_COMMIT), and a taken
   * refundId fails it instead (isRefundTaken), which commits nothing. Planned generically
   * (GENERIC_FOR_THE_WRITE): it must read no table, and neither may what it fires: an insert trigger or a foreign key
   * on these tables would plan its queries generically too (the test checks there is none, but for refund_transitions'
   * history trigger, which before() tells to skip this write and which plans its statement for each call anyway). A
   * read added here needs a custom plan; verified 2026-12-04 with `explain` of its generic plan on an empty schema:
   * only CTE, function and VALUES scans.
   */
  async write(em: SqlEntityManager, w: RefundDecisionWrite, o: { last?: boolean } = {}): Promise<'exists' | 'created'> {
    const shape: WriteShape = { last: o.last === true, review: w.review !== undefined, history: w.history !== undefined, reasons: w.decision.reasonCodes.length > 0, events: w.events.length };
    const db = em.getKysely();
    const args: WriteArgs = { w, actor: actorView(w.transition.actor) };
    const result = await db.executeQuery(this.writeStatements.bind(db, shapeKey(shape), args, (slot) => refundDecisionWriteSql(shape, slot)));
    return Number(result.rows[0]!.created) === 1 ? 'created' : 'exists';
  }
}

/** What the write's text depends on (RefundDecisionsRepository.write compiles it once per shape). */
export interface WriteShape extends Record<string, boolean | number> {
  last: boolean;
  review: boolean;
  history: boolean;
  reasons: boolean;
  events: number;
}

export interface WriteArgs {
  w: RefundDecisionWrite;
  actor: { id: string; role: string };
}

/**
 * RefundDecisionsRepository.write's statement of `shape`, every value read by `value` (a CompiledStatements slot, or
 * the value itself). Compiled once per shape: Kysely built and compiled it for every decision, 42–52 µs and 22 KB of
 * the ~285 KB a decision allocated (docs/benchmarks.md, 2026-12-06, eighteenth and nineteenth sessions).
 */
export function refundDecisionWriteSql(shape: WriteShape, value: SlotOf<WriteArgs>): RawBuilder<{ created: number }> {
  const d = <T>(get: (d: StoredDecisionRow) => T): T => value((a) => get(a.w.decision));
  const r = <T>(get: (r: RefundDecisionWrite['refund']) => T): T => value((a) => get(a.w.refund));
  const t = <T>(get: (t: RefundDecisionWrite['transition']) => T): T => value((a) => get(a.w.transition));
  const v = <T>(get: (v: NonNullable<RefundDecisionWrite['review']>) => T): T => value((a) => get(a.w.review!));
  const tenant = d((x) => x.tenant);
  const id = d((x) => x.id);
  // Times as ISO text, made once a call (CompiledStatements reads a stand-in once): the instant pg would send for a Date.
  const createdAt = d((x) => x.createdAt.toISOString());
  const reviewCte: RawBuilder<unknown> = shape.review
    ? sql`, opened as (
        insert into reviews (id, tenant, type, decision_id, refund_id, amount, currency, risk_band, state, deadline, lease_minutes,
                             required_approvals, requested_by, created_at)
        select ${v((x) => x.id)}::uuid, ${tenant}, ${v((x) => x.type)}, ${id}::uuid, ${v((x) => x.refundId)}, ${v((x) => x.amount)}, ${v((x) => x.currency)},
               ${v((x) => x.riskBand)}, 'OPEN', ${v((x) => x.deadline.toISOString())}::timestamptz, ${v((x) => x.leaseMinutes)}, ${v((x) => x.requiredApprovals)},
               ${v((x) => x.requestedBy)}, ${createdAt}::timestamptz
        where exists (select 1 from refund)
      )`
    : sql``;
  const history = shape.history ? sql`, recorded as (${historyInsertSql((get) => value((a) => get(a.w.history!)), 'refund')})` : sql``;
  const reasons = shape.reasons ? sql`, reasoned as (${reasonsInsertSql(d, 'decided')})` : sql``;
  const events = sql.join(
    Array.from({ length: shape.events }, (_, i) => {
      const e = <T>(get: (e: RefundDecisionWrite['events'][number]) => T): T => value((a) => get(a.w.events[i]!));
      return sql`(${e((x) => x.id)}::uuid, ${e((x) => x.type)}, ${e((x) => JSON.stringify(x.data))}::jsonb)`;
    }),
  );
  // The transaction's last statement goes out with its COMMIT (THEN_COMMIT), so a taken refundId must fail it
  // (refund_taken, SQLSTATE DPR01 = REFUND_TAKEN): an answer of 0 would come after the claim and decision committed.
  const created = shape.last
    ? sql`case when (select count(*) from refund) = 1 then 1 else refund_taken(${r((x) => x.refundId)}) end`
    : sql`(select count(*) from refund)::int`;
  return sql<{ created: number }>`${shape.last ? sql.raw(THEN_COMMIT) : sql``}
    with decided as (
      insert into decisions (${DECISION_COLUMNS})
      select ${decisionValues(d)}
      returning id
    ), refund as (
      insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount,
                           currency, reward, requested_by, decision_id, created_at, updated_at)
      select ${tenant}, ${r((x) => x.refundId)}, ${r((x) => x.type)}, ${r((x) => x.orderId)}, ${r((x) => x.customerId)}, ${r((x) => x.state)},
             ${r((x) => x.requestedAmount)}, ${r((x) => x.approvedAmount)}, ${r((x) => x.capturedAmount)}, ${r((x) => x.currency)},
             ${r((x) => (x.reward === null ? null : JSON.stringify(x.reward)))}::jsonb, ${r((x) => x.requestedBy)},
             ${id}::uuid, ${createdAt}::timestamptz, ${createdAt}::timestamptz
      where exists (select 1 from decided)
      on conflict (tenant, refund_id) do nothing
      returning refund_id
    ), moved as (
      insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, reason, decision_id, at)
      select ${t((x) => x.id)}::uuid, ${tenant}, ${r((x) => x.refundId)}, null, ${r((x) => x.state)}, ${value((a) => a.actor.id)}, ${value((a) => a.actor.role)},
             ${t((x) => x.reason)}, ${id}::uuid, ${createdAt}::timestamptz
      where exists (select 1 from refund)
    )${reviewCte}${history}${reasons}, told as (
      insert into outbox_events (id, tenant, type, occurred_at, data)
      select e.id, ${tenant}, e.type, ${createdAt}::timestamptz, e.data from (values ${events}) as e(id, type, data)
      where exists (select 1 from refund)
    )
    select ${created} as created, ${CUSTOM_AFTER_THE_WRITE}`;
}

/** SQLSTATE of refund_taken (Migration20261213000000): the refundId of a write marked `last` was taken meanwhile. */
export const REFUND_TAKEN = 'DPR01';

/** Whether `e` (or what it wraps) is refund_taken's error. */
export function isRefundTaken(e: unknown, depth = 0): boolean {
  if (depth > 4 || typeof e !== 'object' || e === null) return false;
  if ((e as { code?: unknown }).code === REFUND_TAKEN) return true;
  return isRefundTaken((e as { cause?: unknown }).cause, depth + 1);
}
