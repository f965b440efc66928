/**
 * The platform's own history (libs/decisions/types/features.ts): one row per entity key of each recorded event, so a
 * feature is an index range scan on (tenant, entity, key, source, kind, at). Chosen over time-bucketed counters:
 * windows slide exactly (no bucket edges), distinct counts and first-seen need the members anyway, and one table
 * serves every aggregate; docs/benchmarks.md has the cost with a million prior events.
 *
 * Refund state changes and ledger adjustments reach it through triggers, so no route that moves a refund or posts
 * a ledger adjustment can forget to record it.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203020000_feature_history extends Migration {
  override up(): void {
    this.addSql(`create table feature_events (
      tenant text not null,
      entity text not null,
      key text not null,
      source text not null check (source in ('decision', 'refund', 'ledger')),
      kind text not null,
      at timestamptz not null,
      outcome text null,
      reasons text[] not null default '{}',
      amount bigint null,
      attributes jsonb not null default '{}',
      keys jsonb not null default '{}',
      decision_id uuid null,
      created_at timestamptz not null
    )`);
    this.addSql('create index feature_events_lookup on feature_events (tenant, entity, key, source, kind, at)');
    this.addSql('create index feature_events_decision on feature_events (tenant, decision_id) where decision_id is not null');
    this.addSql('create index feature_events_created on feature_events (created_at)');
    // What a decision's features were, kept when its case is purged (statistics and audit survive retention).
    this.addSql('alter table decisions add column features jsonb null');
    // The master key of the pseudonyms when PSEUDONYM_SECRET is not configured (one row, generated on first start).
    this.addSql(`create table pseudonym_secrets (id int primary key check (id = 1), secret text not null, created_at timestamptz not null)`);
    // A refund entering a state: the keys, time and attributes of the decision that created it, under source 'refund'.
    this.addSql(`create function feature_events_from_refund_transition() returns trigger language plpgsql as $$
      begin
        insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
        select e.tenant, e.entity, e.key, 'refund', new.to_state, e.at, null, '{}',
               case when r.approved_amount > 0 then r.approved_amount else e.amount end, e.attributes, e.keys, e.decision_id, new.at
          from refunds r
          join feature_events e on e.tenant = r.tenant and e.decision_id = r.decision_id and e.source = 'decision'
         where r.tenant = new.tenant and r.refund_id = new.refund_id;
        return null;
      end $$`);
    this.addSql(`create trigger refund_transitions_feature_events after insert on refund_transitions
      for each row execute function feature_events_from_refund_transition()`);
    // A ledger refund or chargeback, keyed by the ledger account (entity 'account'), at the adjustment's business time.
    this.addSql(`create function feature_events_from_ledger_adjustment() returns trigger language plpgsql as $$
      begin
        insert into feature_events (tenant, entity, key, source, kind, at, amount, keys, created_at)
        values (new.tenant, 'account', new.account_id, 'ledger', new.kind, new.at, new.amount, jsonb_build_object('account', new.account_id), now());
        return null;
      end $$`);
    this.addSql(`create trigger ledger_adjustments_feature_events after insert on ledger_adjustments
      for each row execute function feature_events_from_ledger_adjustment()`);
  }

  override down(): void {
    this.addSql('drop trigger if exists ledger_adjustments_feature_events on ledger_adjustments');
    this.addSql('drop function if exists feature_events_from_ledger_adjustment');
    this.addSql('drop trigger if exists refund_transitions_feature_events on refund_transitions');
    this.addSql('drop function if exists feature_events_from_refund_transition');
    this.addSql('drop table if exists pseudonym_secrets');
    this.addSql('alter table decisions drop column if exists features');
    this.addSql('drop table if exists feature_events');
  }
}
