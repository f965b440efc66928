/**
 * The refund-state trigger of the platform's history finds its decision's rows by the decision alone (issue 11, the
 * write path; issue 10's history).
 *
 * Its update joined the refund (by its key) to the decision's rows (`feature_events_decision`, tenant and decision).
 * On tables never analyzed (a young database, or autovacuum off, as the bench's), both join orders cost the same, and
 * the planner took the other one: every row of the tenant's decisions through `feature_events_lookup` (tenant and
 * source), each joined to the refund. Measured on the HTTP bench: 784 rows and 3,941 buffers for one transition, 1.0 ms
 * of the payout worker's 1.7 ms per transition, growing with the tenant's history. Knowing the decision first does not
 * end the tie: `tenant = … and decision_id = …` is estimated at one row through either index. So the function reads the
 * refund first, then updates the rows by an index led by the decision, and tests the tenant in a form no index takes
 * (`is not distinct from`, the same rows since neither side is null): the lookup index then bounds no scan, and the
 * decision's index is the only one the update can use, whatever the statistics say.
 *
 * The subject erasure's delete (decision ids within a tenant) reads the same index.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261216000000_history_trigger_by_decision extends Migration {
  override up(): void {
    this.addSql('create index feature_events_by_decision on feature_events (decision_id) where decision_id is not null');
    this.addSql('drop index if exists feature_events_decision');
    this.addSql(`create or replace function feature_events_refund_state() returns trigger language plpgsql
      set plan_cache_mode = force_custom_plan as $$
      declare
        refund_decision uuid;
        refund_approved bigint;
      begin
        select r.decision_id, r.approved_amount into refund_decision, refund_approved
          from refunds r where r.tenant = (select new.tenant) and r.refund_id = new.refund_id;
        if refund_decision is null then return null; end if;
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = refund_approved
         where e.decision_id = refund_decision and e.tenant is not distinct from new.tenant and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;
      end $$`);
  }

  override down(): void {
    // As Migration20261210000000 wrote them.
    this.addSql('create index feature_events_decision on feature_events (tenant, decision_id) where decision_id is not null');
    this.addSql('drop index if exists feature_events_by_decision');
    this.addSql(`create or replace function feature_events_refund_state() returns trigger language plpgsql
      set plan_cache_mode = force_custom_plan as $$
      begin
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = r.approved_amount
          from refunds r
         where r.tenant = (select new.tenant) and r.refund_id = new.refund_id
           and e.tenant = (select new.tenant) and e.decision_id = r.decision_id and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;
      end $$`);
  }
}
