/**
 * Refunds (one per tenant and refundId) and their append-only transitions. A state change locks the refund's row,
 * checks the lifecycle table, writes the transition and the `refund.state_changed` event, all in the caller's
 * transaction. The order lock serialises everything that adds to an order's refunded total.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import { sameTenant } from './tenant-scope.js';
import { actorView, assertTransition, COMMITTED_STATES, type Actor, type RefundState } from '../refunds/index.js';
import { uuidv7Ids, type IdFactory } from './clock.js';
import { CompiledStatements, shapeKey, type SlotOf } from './compiled-statements.js';
import { outboxInsertSql } from './outbox.repository.js';
import { pgTimestamp } from './timestamps.js';

export interface RewardRef {
  accountId: string;
  transactionId: string;
}

export interface RefundRow {
  tenant: string;
  refundId: string;
  type: string;
  orderId: string;
  customerId: string;
  state: RefundState;
  requestedAmount: number;
  approvedAmount: number;
  capturedAmount: number;
  currency: string;
  reward: RewardRef | null;
  /** The API key that asked for it (four-eyes: it may not approve its own request). */
  requestedBy: string;
  /** The engine decision that created it. */
  decisionId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface TransitionRow {
  id: string;
  from: RefundState | null;
  to: RefundState;
  actor: { id: string; role: string };
  at: Date;
  reason: string | null;
  decisionId: string | null;
}

export interface NewRefund extends Omit<RefundRow, 'updatedAt'> {
  reason: string;
  actor: Actor;
}

export interface TransitionRequest {
  tenant: string;
  refundId: string;
  to: RefundState;
  actor: Actor;
  at: Date;
  reason: string | null;
  decisionId?: string | null;
  /** Set when the transition fixes the amount (a reviewer's approval). */
  approvedAmount?: number;
  /** Extra fields for the `refund.state_changed` event (a failure's provider reason, the clawed-back reward). */
  eventData?: Record<string, unknown>;
}

export interface RefundFilter {
  state?: RefundState;
  customerId?: string;
  /** The customer's pseudonym: a type that marks customerId x-pii stores that instead of the id. */
  customerPseudonym?: string;
  orderId?: string;
  from?: Date;
  to?: Date;
}

/**
 * What the platform has approved or paid for an order (minor units, as text: a bigint sum), a refund left out: the one
 * definition of an order's committed total, for the queries that read it on their own or with other things.
 */
export function committedTotalSql(tenant: string, orderId: string, excludeRefundId = ''): RawBuilder<unknown> {
  return sql`(select coalesce(sum(approved_amount), 0) from refunds
    where ${sameTenant(tenant)} and order_id = ${orderId} and state in (${sql.join(COMMITTED_STATES.map((st) => sql`${st}`))}) and refund_id <> ${excludeRefundId})::text`;
}

/** Advisory-lock namespace of order locks (any constant; the second key is a hash of tenant and order). */
export const ORDER_LOCK_SPACE = 0x72666e64; // 'rfnd'

/** The second key of an order's lock (hashed by PostgreSQL's hashtext). */
export const orderLockName = (tenant: string, orderId: string): string => `${tenant}/${orderId}`;

type Raw = Record<string, unknown>;

/** What toRefund reads. */
const REFUND_COLUMN_NAMES = [
  'tenant', 'refund_id', 'type', 'order_id', 'customer_id', 'state', 'requested_amount', 'approved_amount', 'captured_amount', 'currency', 'reward',
  'requested_by', 'decision_id', 'created_at', 'updated_at',
];
const REFUND_COLUMNS = sql.raw(REFUND_COLUMN_NAMES.join(', '));

/** toRefund's columns of the table under `alias` (for a `returning` of an update that joins another relation). */
export function refundColumnsOf(alias: string): RawBuilder<unknown> {
  return sql.raw(REFUND_COLUMN_NAMES.map((c) => `${alias}.${c}`).join(', '));
}

export function toRefund(r: Raw): RefundRow {
  return {
    tenant: r.tenant as string,
    refundId: r.refund_id as string,
    type: r.type as string,
    orderId: r.order_id as string,
    customerId: r.customer_id as string,
    state: r.state as RefundState,
    requestedAmount: Number(r.requested_amount),
    approvedAmount: Number(r.approved_amount),
    capturedAmount: Number(r.captured_amount),
    currency: (r.currency as string).trim(),
    reward: (typeof r.reward === 'string' ? JSON.parse(r.reward) : (r.reward ?? null)) as RewardRef | null,
    requestedBy: r.requested_by as string,
    decisionId: r.decision_id as string,
    createdAt: pgTimestamp(r.created_at),
    updatedAt: pgTimestamp(r.updated_at),
  };
}

/** What `refund.state_changed` carries. */
export function stateChangedData(req: Omit<TransitionRequest, 'tenant' | 'refundId' | 'at'>, from: RefundState | null, r: Pick<RefundRow, 'refundId' | 'orderId' | 'type' | 'requestedAmount' | 'approvedAmount' | 'currency'>): Record<string, unknown> {
  return {
    refundId: r.refundId,
    orderId: r.orderId,
    type: r.type,
    from,
    to: req.to,
    actor: actorView(req.actor),
    reason: req.reason,
    decisionId: req.decisionId ?? null,
    requestedAmount: r.requestedAmount,
    approvedAmount: r.approvedAmount,
    currency: r.currency,
    ...req.eventData,
  };
}

/** A refund's state change as its statement writes it: the refund's new state (when it moves), its transition and event. */
export interface TransitionWrite {
  tenant: string;
  refundId: string;
  to: RefundState;
  from: RefundState | null;
  approvedAmount: number;
  /** ISO 8601: sent as text with a cast, as every compiled statement's times. */
  at: string;
  transitionId: string;
  actor: { id: string; role: string };
  reason: string | null;
  decisionId: string | null;
  event: { id: string; data: Record<string, unknown> };
}

/** The values of a state change from `from` to `req.to`, `r` being the refund as it is after it. */
export function transitionWrite(req: TransitionRequest, from: RefundState | null, r: Pick<RefundRow, 'refundId' | 'orderId' | 'type' | 'requestedAmount' | 'approvedAmount' | 'currency'>, ids: IdFactory): TransitionWrite {
  return {
    tenant: req.tenant,
    refundId: req.refundId,
    to: req.to,
    from,
    approvedAmount: r.approvedAmount,
    at: req.at.toISOString(),
    // The event's id first, then the transition's, as they were drawn before: an id factory's sequence stays the same.
    event: { id: ids.next(req.at), data: stateChangedData(req, from, r) },
    transitionId: ids.next(req.at),
    actor: actorView(req.actor),
    reason: req.reason,
    decisionId: req.decisionId ?? null,
  };
}

/**
 * A refund's state change in one statement: the refund's row (when `moves`; the row is locked by the caller), the
 * `refund.state_changed` event and the transition. Its values read by `value` (the value itself, or a
 * CompiledStatements slot): the text depends on `moves` alone.
 */
export function transitionWriteSql(moves: boolean, value: SlotOf<TransitionWrite>): RawBuilder<unknown> {
  const tenant = value((w) => w.tenant);
  const refundId = value((w) => w.refundId);
  const to = value((w) => w.to);
  const at = value((w) => w.at);
  const event = outboxInsertSql({ id: value((w) => w.event.id), tenant, type: 'refund.state_changed', occurredAt: at, data: value((w) => JSON.stringify(w.event.data)) });
  const moved = sql`moved as (
        update refunds set state = ${to}, approved_amount = ${value((w) => w.approvedAmount)}, updated_at = ${at}::timestamptz
         where ${sameTenant(tenant)} and refund_id = ${refundId}),`;
  return sql`with ${moves ? moved : sql``}
      event as (${event})
      insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, reason, decision_id, at)
      values (${value((w) => w.transitionId)}::uuid, ${tenant}, ${refundId}, ${value((w) => w.from)}, ${to},
              ${value((w) => w.actor.id)}, ${value((w) => w.actor.role)}, ${value((w) => w.reason)}, ${value((w) => w.decisionId)}::uuid, ${at}::timestamptz)`;
}

export class RefundsRepository {
  /** transitionWriteSql's two statements (with the refund's row, and without: a new refund's first transition), compiled once. */
  private readonly transitions = new CompiledStatements<TransitionWrite>();

  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /**
   * Serialises, until the transaction ends, everything that reads and then adds to this order's refunded total: two
   * concurrent refunds of one order are decided one after the other, the second seeing the first.
   */
  async lockOrder(em: SqlEntityManager, tenant: string, orderId: string): Promise<void> {
    await em.execute('select pg_advisory_xact_lock(?, hashtext(?))', [ORDER_LOCK_SPACE, orderLockName(tenant, orderId)]);
  }

  /** What the platform has approved or paid for this order (minor units); hold the order lock to rely on it. */
  async committedTotal(em: SqlEntityManager, tenant: string, orderId: string, excludeRefundId?: string): Promise<number> {
    const result = await sql<{ total: string | number | null }>`select ${committedTotalSql(tenant, orderId, excludeRefundId)} as total`.execute(em.getKysely());
    return Number(result.rows[0]?.total ?? 0);
  }

  async find(em: SqlEntityManager, tenant: string, refundId: string, o: { forUpdate?: boolean } = {}): Promise<RefundRow | null> {
    // Columns named, not `*`: a prepared `select *` fails once a migration adds a column (cached plan must not change result type).
    const result = await sql<Raw>`select ${REFUND_COLUMNS} from refunds where ${sameTenant(tenant)} and refund_id = ${refundId}${o.forUpdate ? sql` for update` : sql``}`.execute(em.getKysely());
    return result.rows[0] ? toRefund(result.rows[0]) : null;
  }

  /**
   * Creates the refund in its entry state with its first transition and event. False (and nothing written) when the
   * tenant already has a refund with this id.
   */
  async create(em: SqlEntityManager, r: NewRefund): Promise<boolean> {
    const inserted = await em.execute<Raw[]>(
      `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount,
                            currency, reward, requested_by, decision_id, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)
       on conflict (tenant, refund_id) do nothing returning refund_id`,
      [
        r.tenant, r.refundId, r.type, r.orderId, r.customerId, r.state, r.requestedAmount, r.approvedAmount, r.capturedAmount,
        r.currency, r.reward === null ? null : JSON.stringify(r.reward), r.requestedBy, r.decisionId, r.createdAt, r.createdAt,
      ],
    );
    if (inserted.length === 0) return false;
    // Its first transition and event; the row was just inserted, so it does not move.
    await this.write(em, false, { tenant: r.tenant, refundId: r.refundId, to: r.state, actor: r.actor, at: r.createdAt, reason: r.reason, decisionId: r.decisionId }, null, { ...r, updatedAt: r.createdAt });
    return true;
  }

  /**
   * Moves the refund to `req.to` under a row lock: the table of lifecycle.ts decides (409 INVALID_TRANSITION). Null
   * when the tenant has no such refund. `locked`: the row as this transaction already holds it locked (returned by the
   * caller's own update of it), which saves the locking read.
   */
  async transition(em: SqlEntityManager, req: TransitionRequest, locked?: RefundRow): Promise<RefundRow | null> {
    const current = locked ?? (await this.find(em, req.tenant, req.refundId, { forUpdate: true }));
    if (!current) return null;
    assertTransition(current.state, req.to);
    const approvedAmount = req.approvedAmount ?? current.approvedAmount;
    // `req.at` was read before this transaction waited for the row's lock: a change that waited behind a later-stamped
    // one must still come after it, in the history (ordered by time) and its event's time, as it did in commit order.
    const at = req.at.getTime() > current.updatedAt.getTime() ? req.at : new Date(current.updatedAt.getTime() + 1);
    const updated: RefundRow = { ...current, state: req.to, approvedAmount, updatedAt: at };
    // The row is locked: its new state, the transition and the event in one statement (one round trip, not three).
    await this.write(em, true, at === req.at ? req : { ...req, at }, current.state, updated);
    return updated;
  }

  /** The state change's statement (transitionWriteSql), compiled once per shape: a payout makes two per refund. */
  private async write(em: SqlEntityManager, moves: boolean, req: TransitionRequest, from: RefundState | null, r: RefundRow): Promise<void> {
    const w = transitionWrite(req, from, r, this.ids);
    const db = em.getKysely();
    await db.executeQuery(this.transitions.bind(db, shapeKey({ moves }), w, (slot) => transitionWriteSql(moves, slot)));
  }

  async history(em: SqlEntityManager, tenant: string, refundId: string): Promise<TransitionRow[]> {
    return (await this.histories(em, tenant, [refundId])).get(refundId) ?? [];
  }

  /** The transitions of several refunds (a list page) in one query, each refund's oldest first. */
  async histories(em: SqlEntityManager, tenant: string, refundIds: readonly string[]): Promise<Map<string, TransitionRow[]>> {
    const out = new Map<string, TransitionRow[]>();
    if (refundIds.length === 0) return out;
    const rows = await em.execute<Raw[]>(
      `select * from refund_transitions where tenant = ? and refund_id in (${refundIds.map(() => '?').join(', ')}) order by at, id`,
      [tenant, ...refundIds],
    );
    for (const r of rows) {
      const list = out.get(r.refund_id as string) ?? [];
      list.push({
        id: r.id as string,
        from: (r.from_state as RefundState | null) ?? null,
        to: r.to_state as RefundState,
        actor: { id: r.actor_id as string, role: r.actor_role as string },
        at: pgTimestamp(r.at),
        reason: (r.reason as string | null) ?? null,
        decisionId: (r.decision_id as string | null) ?? null,
      });
      out.set(r.refund_id as string, list);
    }
    return out;
  }

  /** Newest first; `after` is the (createdAt, refundId) of the previous page's last item. */
  async list(em: SqlEntityManager, tenant: string, f: RefundFilter, limit: number, after?: { createdAt: Date; refundId: string }): Promise<RefundRow[]> {
    const where = ['tenant = ?'];
    const params: unknown[] = [tenant];
    const add = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (f.state) add('state = ?', f.state);
    if (f.customerId) {
      if (f.customerPseudonym) add('customer_id in (?, ?)', f.customerId, f.customerPseudonym);
      else add('customer_id = ?', f.customerId);
    }
    if (f.orderId) add('order_id = ?', f.orderId);
    if (f.from) add('created_at >= ?', f.from);
    if (f.to) add('created_at < ?', f.to);
    if (after) add('(created_at, refund_id) < (?, ?)', after.createdAt, after.refundId);
    const rows = await em.execute<Raw[]>(`select * from refunds where ${where.join(' and ')} order by created_at desc, refund_id desc limit ?`, [...params, limit]);
    return rows.map(toRefund);
  }
}
