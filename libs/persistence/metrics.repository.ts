/**
 * The reads behind the metrics computed when Prometheus scrapes (the review queue, the outbox and webhook backlog,
 * ledger accounts whose Reward Integrity is false): each reads a partial index or an index prefix per tenant, so a
 * scrape costs a few index lookups, never a scan of a table that grows with history.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { pgTimestampOrNull } from './timestamps.js';

export interface ReviewQueueRow {
  tenant: string;
  /** Open items. */
  open: number;
  /** Open items past their SLA deadline. */
  overdue: number;
  /** When the oldest open item opened (null: none open). */
  oldestCreatedAt: Date | null;
}

export interface WebhookBacklogRow {
  tenant: string;
  /** Deliveries still to send. */
  pending: number;
  /** Of those, deliveries that failed at least once (each failure is retried). */
  failing: number;
  oldestCreatedAt: Date | null;
}

export interface OutboxBacklog {
  /** Events the relay has not numbered yet (so not yet handed to webhooks or NATS), and when the oldest occurred. */
  unrelayed: number;
  oldestUnrelayedAt: Date | null;
  /** Events numbered but not yet acknowledged by NATS (only with NATS_URL). */
  natsPending: number;
}

export interface OperationalSnapshot {
  reviews: ReviewQueueRow[];
  webhooks: WebhookBacklogRow[];
  outbox: OutboxBacklog;
  /** Per tenant, ledger accounts whose Reward Integrity is false now. */
  integrityViolations: { tenant: string; accounts: number }[];
}

const date = pgTimestampOrNull;

/**
 * Distinct tenants of `reviews` by skipping along the (tenant, state, …) index, then each tenant's open items through
 * the same index: without it, `group by tenant` over `state = 'OPEN'` reads every review ever made.
 */
const REVIEW_QUEUE = `
  with recursive t(tenant) as (
    (select tenant from reviews order by tenant limit 1)
    union all
    select (select r.tenant from reviews r where r.tenant > t.tenant order by r.tenant limit 1) from t where t.tenant is not null
  )
  select t.tenant, q.open, q.overdue, q.oldest
    from t cross join lateral (
      select count(*) as open, count(*) filter (where r.deadline < ?::timestamptz) as overdue, min(r.created_at) as oldest
        from reviews r where r.tenant = t.tenant and r.state = 'OPEN'
    ) q
   where t.tenant is not null and q.open > 0`;

export class MetricsRepository {
  async snapshot(em: SqlEntityManager, now: Date): Promise<OperationalSnapshot> {
    const reviews = await em.execute<{ tenant: string; open: unknown; overdue: unknown; oldest: unknown }[]>(REVIEW_QUEUE, [now]);
    // webhook_deliveries_pending is partial (status = 'pending'): the backlog alone is read.
    const webhooks = await em.execute<{ tenant: string; pending: unknown; failing: unknown; oldest: unknown }[]>(
      `select tenant, count(*) as pending, count(*) filter (where attempts > 0 and last_error is not null) as failing, min(created_at) as oldest
         from webhook_deliveries where status = 'pending' group by tenant`,
    );
    // outbox_unpublished and outbox_nats_pending are partial indexes over exactly these rows.
    const [outbox] = await em.execute<{ unrelayed: unknown; oldest: unknown }[]>(
      `select count(*) as unrelayed, (select occurred_at from outbox_events where sequence is null order by position limit 1) as oldest
         from outbox_events where sequence is null`,
    );
    const [nats] = await em.execute<{ pending: unknown }[]>('select count(*) as pending from outbox_events where nats_pending');
    const violations = await em.execute<{ tenant: string; accounts: unknown }[]>(
      'select tenant, count(*) as accounts from ledger_accounts where integrity_violated_at is not null group by tenant',
    );
    return {
      reviews: reviews.map((r) => ({ tenant: r.tenant, open: Number(r.open), overdue: Number(r.overdue), oldestCreatedAt: date(r.oldest) })),
      webhooks: webhooks.map((w) => ({ tenant: w.tenant, pending: Number(w.pending), failing: Number(w.failing), oldestCreatedAt: date(w.oldest) })),
      outbox: { unrelayed: Number(outbox?.unrelayed ?? 0), oldestUnrelayedAt: date(outbox?.oldest), natsPending: Number(nats?.pending ?? 0) },
      integrityViolations: violations.map((v) => ({ tenant: v.tenant, accounts: Number(v.accounts) })),
    };
  }
}
