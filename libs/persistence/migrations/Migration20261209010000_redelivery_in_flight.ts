/**
 * A redelivery asked for while its delivery is in flight is kept. A run's result used to overwrite it: the attempt
 * under way, once it succeeded, marked the delivery delivered (the request was lost), or, once it failed, pushed the
 * retry to its backoff. Each request now counts (`redeliveries`); a run records its attempt either way, and completes
 * or delays the delivery only when nobody asked again since it claimed it.
 *
 * A redelivered delivery becomes its endpoint's head while a run elsewhere may still hold the deliveries after it:
 * claimDue now leaves an endpoint alone while any of its deliveries is leased (webhook_deliveries_leased), so two
 * instances never send one endpoint's events at the same time.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261209010000_redelivery_in_flight extends Migration {
  override up(): void {
    this.addSql('alter table webhook_deliveries add column redeliveries integer not null default 0');
    // What claimDue asks before it claims an endpoint: does a run elsewhere still hold any of its deliveries (a
    // redelivered head sits before the run that holds the deliveries after it). Leases are few and short-lived.
    this.addSql(`create index webhook_deliveries_leased on webhook_deliveries (endpoint_id) where status = 'pending' and lease_until is not null`);
  }

  override down(): void {
    this.addSql('drop index if exists webhook_deliveries_leased');
    this.addSql('alter table webhook_deliveries drop column if exists redeliveries');
  }
}
