/**
 * A redelivery asked for while its delivery is in flight is kept. A run's result used to overwrite it: the attempt
 * under way, once it succeeded, marked the delivery delivered (the request was lost), or, once it failed, pushed the
 * retry to its backoff. Each request now counts (`redeliveries`); a run records its attempt either way, and completes
 * or delays the delivery only when nobody asked again since it claimed it.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261209010000_redelivery_in_flight extends Migration {
  override up(): void {
    this.addSql('alter table webhook_deliveries add column redeliveries integer not null default 0');
  }

  override down(): void {
    this.addSql('alter table webhook_deliveries drop column if exists redeliveries');
  }
}
