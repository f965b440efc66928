/**
 * A refund, its order's refunds and its decision's history rows are found by indexes led by their own key, with the
 * tenant tested in a form no index takes (issue 11, the write path; issue 10's history).
 *
 * Every index of `refunds` and `feature_events` led with the tenant. On tables never analyzed (a young database, or
 * autovacuum off, as the bench's), a lookup by `tenant = … and refund_id = …` is estimated at one row through any of
 * them, and the planner breaks the tie by their sizes: below ~1,000 refunds it took `refunds_by_customer` and read all
 * of the tenant's refunds. Two readers paid for it on the HTTP bench (pg_stat_statements, 2026-12-06):
 *
 * - The refund-state trigger of the history joined the refund to its decision's rows, and took the other join order:
 *   every history row of the tenant through `feature_events_lookup`, each joined to the refund (784 rows and 3,941
 *   buffers for one transition, 1.0 ms of a payout transition's 1.7 ms, growing with the history; 262,000 buffers at
 *   300 decisions, where the refund too came through `refunds_by_customer`).
 * - The refund decision's read of its refund and its order's total (Migration20261212000000) was planned for each
 *   call to stay clear of such a plan: 0.20 ms of planning per decision against 0.05 ms of execution, the largest
 *   planning cost of a decision.
 *
 * Now the primary key of `refunds` is (refund_id, tenant) and `refunds_by_order` is (order_id, tenant), and the history
 * has `feature_events_by_decision` (decision_id). These readers test the tenant with `is not distinct from` (the same
 * rows: neither side is null), which no index can bound a scan with, so each lookup has one index to use whatever the
 * statistics say, and both functions plan their statements once per connection, with index scans only, as the features'
 * read beside the decision's is (GENERIC_INDEX_PLAN): a plan made on an empty table stays right as it grows. The
 * trigger reads its refund first, then updates its decision's rows.
 *
 * The cost of that choice: the tenant is checked on each row the key finds, so a refund id or an order id that several
 * tenants use (a shop's own order numbers, say) is read for each of them, one index entry and one heap row each.
 * Without it, any tenant-led index is a candidate, and on a small table the planner may keep one for good.
 *
 * `on conflict (tenant, refund_id)` infers the primary key by its columns, in any order. Queries by `tenant = … and
 * refund_id = …` elsewhere use it as before.
 *
 * Locks: the swaps need `refunds` and `feature_events` exclusively, and taking them after the builds' SHARE locks would
 * be an upgrade that deadlocks with a running decision (it read a table, then writes it). So both are taken first, each
 * attempt bounded by a short lock_timeout and retried (LOCK_BOTH): while it holds one and waits for the other, a
 * transaction that holds the other and wants the first times it out instead of deadlocking. Reads and writes of both
 * tables then wait for the builds (seconds per million rows) and the swaps, and go on.
 */
import { Migration } from '@mikro-orm/migrations';

const before = (body: string, settings: string) => `create or replace function refund_decision_before(p_tenant text, p_refund_id text, p_order_id text, p_committed text[])
      returns table (existing_state text, committed numeric) language plpgsql stable
      ${settings} as $$
      begin
        return query
          ${body};
      end $$`;

const trigger = (body: string, settings: string) => `create or replace function feature_events_refund_state() returns trigger language plpgsql
      ${settings} as $$
      ${body}
      end $$`;

/**
 * Both tables, exclusively, before anything else: each attempt waits up to 100 ms per table (inside a savepoint, so a
 * timed-out attempt holds nothing), up to 200 attempts with a growing pause (at most ~80 s in all). Then lock_timeout is
 * as configured again. A migration earlier in the same run that locked either table already (a database catching up
 * on several releases) holds that lock until the run commits, so retrying could not free it: the lock is then taken
 * plainly, and a deadlock with a running decision, should one occur, fails one of the two.
 */
const LOCK_BOTH = `do $$
      declare
        configured text := current_setting('lock_timeout');
      begin
        if exists (select 1 from pg_locks where pid = pg_backend_pid() and granted
                     and relation in ('refunds'::regclass, 'feature_events'::regclass)) then
          lock table refunds, feature_events in access exclusive mode;
          return;
        end if;
        for attempt in 1..200 loop
          begin
            perform set_config('lock_timeout', '100ms', true);
            lock table refunds, feature_events in access exclusive mode;
            perform set_config('lock_timeout', configured, true);
            return;
          exception when lock_not_available or deadlock_detected then
            perform pg_sleep(least(attempt, 20) * 0.01);
          end;
        end loop;
        raise exception 'could not lock refunds and feature_events for Migration20261216000000 (busy): retry the migration';
      end $$`;

/** A function's statements planned once per connection, each by the one index it can use (none scans a table). */
const PLANNED_ONCE = 'set plan_cache_mode = force_generic_plan set enable_seqscan = off set enable_bitmapscan = off';

export class Migration20261216000000_refund_reads_by_key extends Migration {
  override up(): void {
    this.addSql(LOCK_BOTH);
    this.addSql('create unique index refunds_by_id on refunds (refund_id, tenant)');
    this.addSql('alter table refunds drop constraint refunds_pkey');
    this.addSql('alter table refunds add constraint refunds_pkey primary key using index refunds_by_id');
    this.addSql('create index refunds_by_order_id on refunds (order_id, tenant)');
    this.addSql('drop index if exists refunds_by_order');
    this.addSql('alter index refunds_by_order_id rename to refunds_by_order');
    this.addSql('create index feature_events_by_decision on feature_events (decision_id) where decision_id is not null');
    this.addSql('drop index if exists feature_events_decision');
    this.addSql(
      before(
        `select (select r.state from refunds r where r.refund_id = p_refund_id and r.tenant is not distinct from p_tenant),
                 (select coalesce(sum(r.approved_amount), 0) from refunds r
                   where r.order_id = p_order_id and r.tenant is not distinct from p_tenant and r.state = any(p_committed))`,
        PLANNED_ONCE,
      ),
    );
    this.addSql(
      trigger(`declare
        refund_decision uuid;
        refund_approved bigint;
      begin
        select r.decision_id, r.approved_amount into refund_decision, refund_approved
          from refunds r where r.refund_id = new.refund_id and r.tenant is not distinct from new.tenant;
        if refund_decision is null then return null; end if;
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = refund_approved
         where e.decision_id = refund_decision and e.tenant is not distinct from new.tenant and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;`, PLANNED_ONCE),
    );
  }

  override down(): void {
    this.addSql(LOCK_BOTH);
    // As Migration20261210000000 and Migration20261212000000 wrote them.
    this.addSql(
      trigger(`begin
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = r.approved_amount
          from refunds r
         where r.tenant = (select new.tenant) and r.refund_id = new.refund_id
           and e.tenant = (select new.tenant) and e.decision_id = r.decision_id and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;`, 'set plan_cache_mode = force_custom_plan'),
    );
    this.addSql(
      before(
        `select (select r.state from refunds r where r.tenant = (select p_tenant) and r.refund_id = p_refund_id),
                 (select coalesce(sum(r.approved_amount), 0) from refunds r
                   where r.tenant = (select p_tenant) and r.order_id = p_order_id and r.state = any(p_committed))`,
        'set plan_cache_mode = force_custom_plan',
      ),
    );
    this.addSql('create index feature_events_decision on feature_events (tenant, decision_id) where decision_id is not null');
    this.addSql('drop index if exists feature_events_by_decision');
    this.addSql('create index refunds_by_order_tenant on refunds (tenant, order_id)');
    this.addSql('drop index if exists refunds_by_order');
    this.addSql('alter index refunds_by_order_tenant rename to refunds_by_order');
    this.addSql('create unique index refunds_by_tenant on refunds (tenant, refund_id)');
    this.addSql('alter table refunds drop constraint refunds_pkey');
    this.addSql('alter table refunds add constraint refunds_pkey primary key using index refunds_by_tenant');
  }
}
