/**
 * Refunds as objects with a lifecycle (one per tenant and refundId), their append-only transition history, the review
 * queue (any decision type whose outcome is a review), its approvals, and the transactional outbox every state change
 * writes its event to in the same transaction.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202200000_refunds extends Migration {
  override up(): void {
    this.addSql(`create table refunds (
      tenant text not null,
      refund_id text not null,
      type text not null,
      order_id text not null,
      customer_id text not null,
      state text not null,
      requested_amount bigint not null,
      approved_amount bigint not null default 0,
      captured_amount bigint not null,
      currency char(3) not null,
      reward jsonb,
      requested_by text not null,
      decision_id uuid not null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      primary key (tenant, refund_id)
    )`);
    this.addSql('create index refunds_by_order on refunds (tenant, order_id)');
    this.addSql('create index refunds_by_created on refunds (tenant, created_at desc, refund_id desc)');
    this.addSql('create index refunds_by_state on refunds (tenant, state, created_at desc)');

    this.addSql(`create table refund_transitions (
      id uuid primary key,
      tenant text not null,
      refund_id text not null,
      from_state text,
      to_state text not null,
      actor_id text not null,
      actor_role text not null,
      reason text,
      decision_id uuid,
      at timestamptz not null
    )`);
    this.addSql('create index refund_transitions_by_refund on refund_transitions (tenant, refund_id, id)');

    this.addSql(`create table reviews (
      id uuid primary key,
      tenant text not null,
      type text not null,
      decision_id uuid not null,
      refund_id text,
      amount bigint,
      currency char(3),
      risk_band text,
      state text not null,
      deadline timestamptz not null,
      lease_minutes integer not null,
      required_approvals integer not null,
      requested_by text not null,
      assignee text,
      lease_until timestamptz,
      resolution text,
      resolved_at timestamptz,
      resolution_decision_id uuid,
      overdue_at timestamptz,
      created_at timestamptz not null
    )`);
    this.addSql('create index reviews_queue on reviews (tenant, state, deadline, id)');
    this.addSql('create unique index reviews_by_decision on reviews (tenant, decision_id)');

    this.addSql(`create table review_approvals (
      id uuid primary key,
      tenant text not null,
      review_id uuid not null,
      key_id text not null,
      amount bigint,
      reason_code text not null,
      note text,
      at timestamptz not null,
      unique (review_id, key_id)
    )`);

    // The outbox: written in the transaction of the change it reports; the relay numbers each tenant's events as it
    // publishes them (sequence) and delivers them. position orders rows for the relay.
    this.addSql(`create table outbox_events (
      position bigserial primary key,
      id uuid not null unique,
      tenant text not null,
      type text not null,
      occurred_at timestamptz not null,
      data jsonb not null,
      sequence bigint,
      published_at timestamptz
    )`);
    this.addSql('create index outbox_unpublished on outbox_events (position) where sequence is null');
    this.addSql('create unique index outbox_tenant_sequence on outbox_events (tenant, sequence)');

    for (const t of ['refund_transitions', 'review_approvals']) {
      this.addSql(`create trigger ${t}_append_only before update or delete on ${t} for each row execute function refuse_change()`);
      this.addSql(`create trigger ${t}_no_truncate before truncate on ${t} for each statement execute function refuse_change()`);
    }
  }

  override down(): void {
    for (const t of ['outbox_events', 'review_approvals', 'reviews', 'refund_transitions', 'refunds']) this.addSql(`drop table if exists ${t}`);
  }
}
