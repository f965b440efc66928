/**
 * `tenant = …` for a read that has a selective condition of its own (a primary key, an order, an entity key): the
 * tenant as an InitPlan, a value the planner cannot look into.
 *
 * A tenant the statistics have not seen (onboarded since the table's last ANALYZE, which on a big table waits until a
 * tenth of it changed, or forever with autovacuum off) is estimated at no rows. Every index that starts with `tenant`
 * then looks as cheap as the next, and PostgreSQL may pick one that matches the tenant alone and filters all of that
 * tenant's rows. Measured 2026-12-05: a refund decision's read of a new tenant with 12,000 refunds, next to one with a
 * million, scanned them all through `refunds_by_customer` (360 ms cold, 8 ms warm, growing with every refund). Unseen,
 * the tenant counts as an average one, and the other conditions choose the index (`refunds_pkey`, `refunds_by_order`).
 */
import { sql, type RawBuilder } from 'kysely';

export function sameTenant(tenant: string, column = 'tenant'): RawBuilder<unknown> {
  return sql`${sql.ref(column)} = (select ${tenant}::text)`;
}

/** sameTenant for a statement text with `?` placeholders (em.execute): its one parameter is the tenant. */
export const SAME_TENANT = 'tenant = (select ?::text)';
