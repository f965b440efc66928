/**
 * Event delivery: webhook endpoints and one delivery row per (event, endpoint), and the NATS publication state of each
 * outbox event. The secret is kept in clear: the service must sign with it (HMAC needs the key itself, unlike an API
 * key, which only needs verifying); whoever can read this table can forge deliveries, so it is as sensitive as the
 * database credentials.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202230000_events extends Migration {
  override up(): void {
    this.addSql(`create table webhook_endpoints (
      id uuid primary key,
      tenant text not null,
      url text not null,
      events jsonb not null,
      secret text not null,
      created_by text not null,
      created_at timestamptz not null,
      deleted_at timestamptz
    )`);
    this.addSql('create index webhook_endpoints_tenant on webhook_endpoints (tenant, id) where deleted_at is null');
    // One row per event × endpoint, written by the relay in the transaction that numbers the event. status: pending
    // (to send; the endpoint's lowest pending sequence is its head, and only the head is sent), delivered, canceled
    // (the endpoint was deleted). lease_until: an instance is sending it; past that, another may.
    this.addSql(`create table webhook_deliveries (
      id uuid primary key,
      tenant text not null,
      endpoint_id uuid not null references webhook_endpoints (id),
      event_id uuid not null references outbox_events (id),
      sequence bigint not null,
      type text not null,
      status text not null check (status in ('pending', 'delivered', 'canceled')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null,
      lease_until timestamptz,
      last_attempt_at timestamptz,
      last_status_code integer,
      last_error text,
      delivered_at timestamptz,
      created_at timestamptz not null,
      unique (endpoint_id, event_id)
    )`);
    this.addSql(`create index webhook_deliveries_pending on webhook_deliveries (endpoint_id, sequence) where status = 'pending'`);
    this.addSql('create index webhook_deliveries_log on webhook_deliveries (endpoint_id, sequence)');
    // Set by the relay when NATS is configured; cleared once JetStream acknowledged the message.
    this.addSql('alter table outbox_events add column nats_pending boolean not null default false');
    this.addSql('alter table outbox_events add column nats_published_at timestamptz');
    this.addSql('create index outbox_nats_pending on outbox_events (tenant, sequence) where nats_pending');
  }
}
