/**
 * The history's statements planned once per connection instead of for every execution (issue 10's bound): a
 * decision's feature aggregates, and the trigger that appends a refund's later states to its decision's rows.
 *
 * The refund decision's read held one scalar subquery per feature over feature_events; with the custom plans every
 * pool session makes (database.ts), PostgreSQL planned all of them for each decision: 0.46–0.84 ms of planning against
 * 0.09–0.17 ms of execution on a million-event history (docs/benchmarks.md). Generic plans of those subqueries were
 * refused twice because a plan made while the tables were nearly empty stays cached as they grow. Each aggregate is now
 * a function whose statements plan generically with sequential and bitmap scans off: on feature_events the only path
 * left that matches the lookup's conditions is an index scan of feature_events_lookup (tenant, entity, key, source,
 * kind, at), which is the plan at every size, so a plan made on an empty table cannot go stale
 * (feature-history.repository.test.ts checks the scans on a history that grew after the plan was made).
 *
 * The refund_transitions trigger's update (Migration20261208000000) is planned the same way: a nested loop from the
 * refund's primary key to its decision's rows through feature_events_decision, with hash and merge joins off too.
 * Measured with pgbench on 400,000 history rows (one transition insert, 2 rows updated): 0.238 ms without the trigger,
 * 0.543–0.591 ms with it planned for each call, 0.415–0.436 ms planned once. feature_events keeps 10% of each page
 * free (fillfactor 90, new pages only) so those updates are HOT (they change no indexed column): the reviewer of
 * Migration20261208000000 counted 2 HOT updates in 39,102, each other one writing three index entries; 100% HOT here.
 *
 * The functions are STABLE: they see the snapshot of the statement that calls them, so a decision still sees every
 * decision that held one of its entity locks before it. The filters a feature may leave out are NULL parameters.
 * A refund event is a decision's row once per listed state its refund entered (Migration20261208000000); such a
 * source has no outcome or reason of its own, so asking for either matches nothing.
 */
import { Migration } from '@mikro-orm/migrations';

const SETTINGS = 'set plan_cache_mode = force_generic_plan set enable_seqscan = off set enable_bitmapscan = off';
// The trigger's update joins refunds to feature_events: the nested loop over two index scans is its plan at any size.
const JOIN_SETTINGS = ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_bitmapscan = off', 'enable_hashjoin = off', 'enable_mergejoin = off'];
const PARAMS = `p_tenant text, p_entity text, p_key text, p_source text, p_kinds text[], p_from timestamptz, p_to timestamptz,
  p_outcomes text[], p_reasons text[], p_where jsonb, p_exclude uuid`;
// Every filter but the kinds (which differ between a refund source and the others).
const COMMON = `e.tenant = p_tenant and e.entity = p_entity and e.key = p_key and e.at > p_from and e.at <= p_to
  and (p_where is null or e.attributes @> p_where) and (p_exclude is null or e.decision_id is distinct from p_exclude)`;
const REFUND = `e.source = 'decision' and e.refund_states && p_kinds and p_outcomes is null and p_reasons is null and ${COMMON}`;
const OTHER = `e.source = p_source and e.kind = any(p_kinds) and (p_outcomes is null or e.outcome = any(p_outcomes))
  and (p_reasons is null or e.reasons && p_reasons) and ${COMMON}`;
// How many listed states a refund event's row entered (a retried payout enters PROCESSING again).
const TIMES = '(select count(*) from unnest(e.refund_states) s where s = any(p_kinds))';

export class Migration20261209020000_history_planned_once extends Migration {
  override up(): void {
    // count, sum or distinct (p_distinct: the entity whose keys are counted, with p_current, the case's own key).
    this.addSql(`create function feature_number(p_aggregate text, ${PARAMS}, p_distinct text, p_current text) returns numeric
      language plpgsql stable ${SETTINGS} as $$
      begin
        if p_aggregate = 'count' then
          if p_source = 'refund' then return (select coalesce(sum(${TIMES}), 0) from feature_events e where ${REFUND}); end if;
          return (select count(*) from feature_events e where ${OTHER});
        elsif p_aggregate = 'sum' then
          -- numeric before the product (a bigint amount times its entries may overflow), clamped to a safe integer.
          if p_source = 'refund' then
            return (select least(coalesce(sum((case when e.refund_amount > 0 then e.refund_amount else e.amount end)::numeric * ${TIMES}), 0), 9007199254740991)
                      from feature_events e where ${REFUND});
          end if;
          return (select least(coalesce(sum(e.amount), 0), 9007199254740991) from feature_events e where ${OTHER});
        elsif p_aggregate = 'distinct' then
          if p_source = 'refund' then
            return (select count(*) from (select e.keys->>p_distinct as k from feature_events e where ${REFUND} and e.keys->>p_distinct is not null
                                          union select p_current where p_current is not null) x);
          end if;
          return (select count(*) from (select e.keys->>p_distinct as k from feature_events e where ${OTHER} and e.keys->>p_distinct is not null
                                        union select p_current where p_current is not null) x);
        end if;
        raise exception 'feature_number: unknown aggregate %', p_aggregate;
      end $$`);
    this.addSql(`create function feature_first_seen(${PARAMS}) returns timestamptz
      language plpgsql stable ${SETTINGS} as $$
      begin
        if p_source = 'refund' then return (select min(e.at) from feature_events e where ${REFUND}); end if;
        return (select min(e.at) from feature_events e where ${OTHER});
      end $$`);
    for (const setting of JOIN_SETTINGS) this.addSql(`alter function feature_events_refund_state() set ${setting}`);
    this.addSql('alter table feature_events set (fillfactor = 90)');
  }

  override down(): void {
    this.addSql('drop function if exists feature_number');
    this.addSql('drop function if exists feature_first_seen');
    this.addSql('alter function feature_events_refund_state() reset all');
    this.addSql('alter function feature_events_refund_state() set plan_cache_mode = force_custom_plan');
    this.addSql('alter table feature_events reset (fillfactor)');
  }
}
