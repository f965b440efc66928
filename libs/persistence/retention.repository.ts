/**
 * Retention: decisions past their tenant's retention lose the case and the trace (what holds the personal data and
 * every fact value) and keep outcome, reasons, release, copied case fields and outputs, so statistics and audit
 * survive. The database allows decisions that one change only (Migration20261203030000_retention).
 */
import type { SqlEntityManager } from '@mikro-orm/sql';

export class RetentionRepository {
  /**
   * The tenants having unpurged decisions, in name order: a skip scan over the partial index `decisions_unpurged`
   * (one index probe per tenant, not a scan of every decision).
   */
  async tenantsWithUnpurged(em: SqlEntityManager): Promise<string[]> {
    const rows = await em.execute<{ tenant: string }[]>(
      `with recursive t(tenant) as (
         (select tenant from decisions where purged_at is null order by tenant limit 1)
         union all
         select (select d.tenant from decisions d where d.purged_at is null and d.tenant > t.tenant order by d.tenant limit 1)
         from t where t.tenant is not null
       )
       select tenant from t where tenant is not null`,
    );
    return rows.map((r) => r.tenant);
  }

  /** The tenants having feature events (the platform's history), in name order: a skip scan over feature_events_lookup. */
  async tenantsWithFeatureEvents(em: SqlEntityManager): Promise<string[]> {
    const rows = await em.execute<{ tenant: string }[]>(
      `with recursive t(tenant) as (
         (select tenant from feature_events order by tenant limit 1)
         union all
         select (select e.tenant from feature_events e where e.tenant > t.tenant order by e.tenant limit 1)
         from t where t.tenant is not null
       )
       select tenant from t where tenant is not null`,
    );
    return rows.map((r) => r.tenant);
  }

  /**
   * Deletes up to `limit` of the tenant's feature events recorded before `cutoff`; returns how many. SKIP LOCKED, as
   * for decisions: two purges delete different rows.
   */
  async purgeFeatureEvents(em: SqlEntityManager, tenant: string, cutoff: Date, limit: number): Promise<number> {
    const rows = await em.execute<{ n: number | string }[]>(
      `with gone as (
         delete from feature_events where ctid = any(array(
           select ctid from feature_events where tenant = ? and created_at < ? limit ? for update skip locked))
         returning 1)
       select count(*) as n from gone`,
      [tenant, cutoff, limit],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Purges up to `limit` of the tenant's oldest decisions created before `cutoff`; returns how many. Rows another
   * purge holds are skipped (SKIP LOCKED), so two instances purging at once each take their own; run in a transaction.
   * The document is rewritten from its own text (trace removed, `purgedAt` appended) so its other fields keep their
   * order and spelling.
   */
  async purgeDecisions(em: SqlEntityManager, tenant: string, cutoff: Date, now: Date, limit: number): Promise<number> {
    const due = await em.execute<{ id: string; document: string }[]>(
      `select id, document::text as document from decisions
        where tenant = ? and purged_at is null and created_at < ?
        order by created_at limit ? for update skip locked`,
      [tenant, cutoff, limit],
    );
    if (due.length === 0) return 0;
    const purgedAt = now.toISOString();
    const rows = due.map((d) => {
      const { trace: _trace, ...kept } = JSON.parse(d.document) as Record<string, unknown>;
      return { id: d.id, doc: JSON.stringify({ ...kept, purgedAt }) };
    });
    const updated = await em.execute<{ id: string }[]>(
      `update decisions d set case_data = null, document = v.doc::json, purged_at = ?
         from json_to_recordset(?::json) as v(id uuid, doc text)
        where d.id = v.id and d.purged_at is null
        returning d.id`,
      [now, JSON.stringify(rows)],
    );
    return updated.length;
  }
}
