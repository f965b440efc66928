/**
 * The refund-state trigger of the platform's history (Migration20261208000000) finds its refund and its rows through
 * the tenant as an InitPlan (tenant-scope.ts): it plans for each call with the tenant's value, and a tenant the
 * statistics have not seen is estimated at no rows, so it could find the refund through any index led by `tenant`,
 * a scan of all of that tenant's refunds on every transition after the first (approval, payout, review).
 */
import { Migration } from '@mikro-orm/migrations';

const body = (tenant: string) => `create or replace function feature_events_refund_state() returns trigger language plpgsql
      set plan_cache_mode = force_custom_plan as $$
      begin
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = r.approved_amount
          from refunds r
         where r.tenant = ${tenant} and r.refund_id = new.refund_id
           and e.tenant = ${tenant} and e.decision_id = r.decision_id and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;
      end $$`;

export class Migration20261210000000_history_trigger_tenant extends Migration {
  override up(): void {
    this.addSql(body('(select new.tenant)'));
  }

  override down(): void {
    // As Migration20261208000000 wrote it (e.tenant = r.tenant is the same rows).
    this.addSql(body('new.tenant'));
  }
}
