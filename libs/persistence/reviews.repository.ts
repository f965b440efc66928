/**
 * The review queue: one item per decision whose outcome asks for a review (any decision type), with its SLA deadline,
 * the claim lease and how many approvals it needs, all fixed when it opens from the release's parameters.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { Approval, Resolution, Review, ReviewState } from '../reviews/index.js';
import { uuidv7Ids, type IdFactory } from './clock.js';
import { OutboxRepository } from './outbox.repository.js';
import { SAME_TENANT } from './tenant-scope.js';
import { pgTimestamp, pgTimestampOrNull } from './timestamps.js';

export type { ReviewState } from '../reviews/index.js';

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

/** What `review.created` carries. */
export function reviewCreatedData(id: string, r: NewReview): Record<string, unknown> {
  return {
    reviewId: id,
    type: r.type,
    decisionId: r.decisionId,
    refundId: r.refundId,
    amount: r.amount,
    currency: r.currency,
    deadline: r.deadline.toISOString(),
    requiredApprovals: r.requiredApprovals,
  };
}

export class ReviewsRepository {
  private readonly outbox: OutboxRepository;

  constructor(private readonly ids: IdFactory = uuidv7Ids) {
    this.outbox = new OutboxRepository(ids);
  }

  /** The item with its approvals (oldest first); `forUpdate` locks its row until the transaction ends. Null: no such item in this tenant. */
  async find(em: SqlEntityManager, tenant: string, id: string, o: { forUpdate?: boolean } = {}): Promise<Review | null> {
    const rows = await em.execute<Raw[]>(`select * from reviews where tenant = ? and id = ?${o.forUpdate ? ' for update' : ''}`, [tenant, id]);
    if (!rows[0]) return null;
    const [review] = await this.withApprovals(em, tenant, rows.map(toReview));
    return review!;
  }

  /**
   * One page of the queue: open items first, each part by (deadline, id). `after` is where the previous page stopped
   * (see ReviewPosition); fetches `limit` items and says whether more follow.
   */
  async list(em: SqlEntityManager, tenant: string, f: ReviewFilter, limit: number, now: Date, after?: ReviewPosition): Promise<{ items: Review[]; next: ReviewPosition | null }> {
    const parts: ('open' | 'closed')[] = f.state === undefined ? ['open', 'closed'] : [f.state === 'OPEN' ? 'open' : 'closed'];
    const start = after ? parts.indexOf(after.part) : 0;
    if (start < 0) return { items: [], next: null };
    const found: { row: Raw; part: 'open' | 'closed' }[] = [];
    for (const part of parts.slice(start)) {
      const want = limit + 1 - found.length;
      if (want <= 0) break;
      const where = ['tenant = ?'];
      const params: unknown[] = [tenant];
      const and = (condition: string, ...values: unknown[]) => {
        where.push(condition);
        params.push(...values);
      };
      if (part === 'open') and(`state = 'OPEN'`);
      else if (f.state !== undefined) and('state = ?', f.state);
      else and(`state <> 'OPEN'`);
      if (f.type !== undefined) and('type = ?', f.type);
      if (f.assignee !== undefined) and('assignee = ? and lease_until > ?', f.assignee, now);
      if (f.overdue === true) and(`state = 'OPEN' and deadline < ?`, now);
      if (f.overdue === false) and(`(state <> 'OPEN' or deadline >= ?)`, now);
      if (f.minAmount !== undefined) and('amount >= ?', f.minAmount);
      if (f.maxAmount !== undefined) and('amount <= ?', f.maxAmount);
      if (after && after.part === part) and('(deadline, id) > (?::timestamptz, ?::uuid)', after.deadline, after.id);
      const rows = await em.execute<Raw[]>(
        `select *, ${DEADLINE_KEY} as deadline_key from reviews where ${where.join(' and ')} order by deadline, id limit ?`,
        [...params, want],
      );
      found.push(...rows.map((row) => ({ row, part })));
    }
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    const next = found.length > limit && last ? { part: last.part, deadline: last.row.deadline_key as string, id: last.row.id as string } : null;
    return { items: await this.withApprovals(em, tenant, page.map((p) => toReview(p.row))), next };
  }

  /** Gives the item to `keyId` until `leaseUntil` (the caller holds the row lock and checked the rules). */
  async claim(em: SqlEntityManager, tenant: string, id: string, keyId: string, leaseUntil: Date): Promise<void> {
    await em.execute('update reviews set assignee = ?, lease_until = ? where tenant = ? and id = ?', [keyId, leaseUntil, tenant, id]);
  }

  /** Nobody holds the item any more. */
  async release(em: SqlEntityManager, tenant: string, id: string): Promise<void> {
    await em.execute('update reviews set assignee = null, lease_until = null where tenant = ? and id = ?', [tenant, id]);
  }

  /** Records one reviewer's approval (append-only; one per key and item, by a unique index). */
  async addApproval(em: SqlEntityManager, tenant: string, reviewId: string, a: Approval): Promise<void> {
    await em.execute(
      'insert into review_approvals (id, tenant, review_id, key_id, amount, reason_code, note, at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      [this.ids.next(a.at), tenant, reviewId, a.keyId, a.amount, a.reasonCode, a.note, a.at],
    );
  }

  /**
   * Closes the item APPROVED or DENIED, pointing at the decision that records the resolution, and writes
   * `review.resolved`. The lease ends; `assignee` keeps who closed it.
   */
  async close(
    em: SqlEntityManager,
    r: { review: Review; state: 'APPROVED' | 'DENIED'; resolution: Resolution; closedBy: string; at: Date; resolutionDecisionId: string; approvedAmount: number | null; reviewers: string[] },
  ): Promise<void> {
    const { review } = r;
    await em.execute(
      'update reviews set state = ?, resolution = ?, resolved_at = ?, resolution_decision_id = ?, assignee = ?, lease_until = null where tenant = ? and id = ?',
      [r.state, r.resolution, r.at, r.resolutionDecisionId, r.closedBy, review.tenant, review.id],
    );
    await this.outbox.append(em, {
      tenant: review.tenant,
      type: 'review.resolved',
      occurredAt: r.at,
      data: {
        ...eventBase(review),
        state: r.state,
        resolution: r.resolution,
        approvedAmount: r.approvedAmount,
        reviewers: r.reviewers,
        resolutionDecisionId: r.resolutionDecisionId,
      },
    });
  }

  /**
   * The refund was canceled: its open reviews close as CANCELED (each with its `review.resolved` event), in the
   * caller's transaction. Nobody resolved them: a claim they had is dropped (`assignee` of a closed item is its resolver). Lock order: the caller holds the refund's row, then this locks the reviews' rows (resolving
   * takes them in the same order). Returns the ids it closed.
   */
  async closeReviewsOfRefund(em: SqlEntityManager, tenant: string, refundId: string, at: Date): Promise<string[]> {
    const rows = await em.execute<Raw[]>(
      `update reviews set state = 'CANCELED', resolved_at = ?, assignee = null, lease_until = null
        where ${SAME_TENANT} and refund_id = ? and state = 'OPEN' returning *`,
      [at, tenant, refundId],
    );
    for (const row of rows) {
      const review = toReview(row);
      await this.outbox.append(em, {
        tenant,
        type: 'review.resolved',
        occurredAt: at,
        data: { ...eventBase(review), state: 'CANCELED', resolution: null, approvedAmount: null, reviewers: [], resolutionDecisionId: null },
      });
    }
    return rows.map((r) => r.id as string);
  }

  /**
   * Marks up to `limit` open items past their deadline as overdue, each with ONE `review.overdue` event, across tenants.
   * Safe with several instances sweeping at once: rows another sweep holds are skipped, and the update re-checks
   * `overdue_at is null`, so an item is marked (and announced) once. Returns how many it marked.
   */
  async markOverdue(em: SqlEntityManager, now: Date, limit: number): Promise<number> {
    return (await this.markOverdueReviews(em, now, limit)).length;
  }

  /** markOverdue, answering the items it marked (the sweeper records them in each tenant's audit log). */
  async markOverdueReviews(em: SqlEntityManager, now: Date, limit: number): Promise<Review[]> {
    const rows = await em.execute<Raw[]>(
      `update reviews r set overdue_at = ?
         from (select id from reviews where state = 'OPEN' and overdue_at is null and deadline < ?
                order by deadline limit ? for update skip locked) due
        where r.id = due.id and r.state = 'OPEN' and r.overdue_at is null
        returning r.*`,
      [now, now, limit],
    );
    const marked: Review[] = [];
    for (const row of rows) {
      const review = toReview(row);
      await this.outbox.append(em, { tenant: review.tenant, type: 'review.overdue', occurredAt: now, data: { ...eventBase(review), overdueAt: now.toISOString() } });
      marked.push(review);
    }
    return marked;
  }

  private async withApprovals(em: SqlEntityManager, tenant: string, reviews: Review[]): Promise<Review[]> {
    if (!reviews.length) return reviews;
    const rows = await em.execute<Raw[]>(
      `select * from review_approvals where tenant = ? and review_id in (${reviews.map(() => '?').join(', ')}) order by at, id`,
      [tenant, ...reviews.map((r) => r.id)],
    );
    const byReview = new Map<string, Approval[]>();
    for (const a of rows) {
      const list = byReview.get(a.review_id as string) ?? byReview.set(a.review_id as string, []).get(a.review_id as string)!;
      list.push({
        keyId: a.key_id as string,
        amount: a.amount === null ? null : Number(a.amount),
        reasonCode: a.reason_code as string,
        note: (a.note as string | null) ?? null,
        at: pgTimestamp(a.at),
      });
    }
    return reviews.map((r) => ({ ...r, approvals: byReview.get(r.id) ?? [] }));
  }
}

export interface ReviewFilter {
  state?: ReviewState;
  type?: string;
  /** Items this key holds a live claim on. */
  assignee?: string;
  /** Open and past the deadline (true), or not (false). */
  overdue?: boolean;
  minAmount?: number;
  maxAmount?: number;
}

/**
 * Where a page stopped: the part of the queue (open items, then the others), and the last item's deadline (in
 * PostgreSQL's microseconds, as `YYYY-MM-DDTHH:MM:SS.ffffffZ`) and id.
 */
export interface ReviewPosition {
  part: 'open' | 'closed';
  deadline: string;
  id: string;
}

/** The deadline exactly as stored (microseconds, UTC): a cursor made from it compares equal to the row again. */
const DEADLINE_KEY = `to_char(deadline at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
export const REVIEW_POSITION_DEADLINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

type Raw = Record<string, unknown>;

const dateOrNull = pgTimestampOrNull;

function toReview(r: Raw): Review {
  return {
    id: r.id as string,
    tenant: r.tenant as string,
    type: r.type as string,
    decisionId: r.decision_id as string,
    refundId: (r.refund_id as string | null) ?? null,
    amount: r.amount === null || r.amount === undefined ? null : Number(r.amount),
    currency: typeof r.currency === 'string' ? r.currency.trim() : null,
    riskBand: (r.risk_band as string | null) ?? null,
    state: r.state as ReviewState,
    deadline: pgTimestamp(r.deadline),
    leaseMinutes: Number(r.lease_minutes),
    requiredApprovals: Number(r.required_approvals),
    requestedBy: r.requested_by as string,
    assignee: (r.assignee as string | null) ?? null,
    leaseUntil: dateOrNull(r.lease_until),
    resolution: (r.resolution as Resolution | null) ?? null,
    resolvedAt: dateOrNull(r.resolved_at),
    resolutionDecisionId: (r.resolution_decision_id as string | null) ?? null,
    overdueAt: dateOrNull(r.overdue_at),
    createdAt: pgTimestamp(r.created_at),
    approvals: [],
  };
}

function eventBase(r: Review): Record<string, unknown> {
  return { reviewId: r.id, type: r.type, decisionId: r.decisionId, refundId: r.refundId, amount: r.amount, currency: r.currency };
}

/** For the refund cancel route: closes the refund's open reviews as CANCELED in the caller's transaction. */
export function closeReviewsOfRefund(em: SqlEntityManager, tenant: string, refundId: string, at: Date, ids: IdFactory = uuidv7Ids): Promise<string[]> {
  return new ReviewsRepository(ids).closeReviewsOfRefund(em, tenant, refundId, at);
}
