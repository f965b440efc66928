/**
 * What a refund decision must know of its refund and its order (refund-decisions.repository.ts), as a function that
 * plans its two statements for each call. The decision's read around it is planned once per connection, with index
 * scans only (GENERIC_INDEX_PLAN): that suits the history's lookup, but a generic plan of these reads, made on young
 * tables, found the refund through any index led by `tenant` (every one estimated at one row), a scan of all of the
 * tenant's refunds forever after. Planned with the call's values, each goes by its key; the tenant is an InitPlan
 * (tenant-scope.ts) so that a tenant the statistics have not seen is not estimated at no rows.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261212000000_refund_decision_before extends Migration {
  override up(): void {
    this.addSql(`create or replace function refund_decision_before(p_tenant text, p_refund_id text, p_order_id text, p_committed text[])
      returns table (existing_state text, committed numeric) language plpgsql stable
      set plan_cache_mode = force_custom_plan as $$
      begin
        return query
          select (select r.state from refunds r where r.tenant = (select p_tenant) and r.refund_id = p_refund_id),
                 (select coalesce(sum(r.approved_amount), 0) from refunds r
                   where r.tenant = (select p_tenant) and r.order_id = p_order_id and r.state = any(p_committed));
      end $$`);
  }

  override down(): void {
    this.addSql('drop function if exists refund_decision_before(text, text, text, text[])');
  }
}
