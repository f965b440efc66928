/** Initial schema: API keys, decisions, idempotency records, audit log. */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000000_initial extends Migration {
  override up(): void {
    this.addSql(`create table api_keys (
      id uuid primary key,
      tenant text not null,
      name text not null,
      roles text[] not null,
      key_hash text not null unique,
      created_at timestamptz not null,
      revoked_at timestamptz null
    )`);
    this.addSql(`create index api_keys_tenant_idx on api_keys (tenant)`);

    this.addSql(`create table decisions (
      id uuid primary key,
      tenant text not null,
      domain text not null,
      outcome text not null,
      risk_score integer null,
      release_name text not null,
      release_version text not null,
      components jsonb not null,
      case_data jsonb not null,
      document json not null,
      idempotency_key text null,
      evaluated_at timestamptz not null,
      created_at timestamptz not null
    )`);
    // The document (mostly the trace) is ~7 KB: lz4 TOAST compression costs far less CPU than the default pglz.
    // Builds without lz4 (PGlite may be one) keep the default.
    this.addSql(`do $$ begin
      alter table decisions alter column document set compression lz4;
    exception when feature_not_supported or invalid_parameter_value then null;
    end $$`);
    // Listing is per tenant, newest first, filtered by domain/outcome/time; ids are UUIDv7 (time-ordered).
    this.addSql(`create index decisions_tenant_id_idx on decisions (tenant, id desc)`);
    this.addSql(`create index decisions_tenant_domain_outcome_idx on decisions (tenant, domain, outcome, id desc)`);

    this.addSql(`create table idempotency_records (
      tenant text not null,
      key text not null,
      request_hash text not null,
      method text not null,
      path text not null,
      status integer null,
      content_type text null,
      body text null,
      -- Decisions keep their answer once, in decisions.document; the record points at it instead of copying it.
      decision_id uuid null,
      created_at timestamptz not null,
      primary key (tenant, key)
    )`);

    this.addSql(`create table audit_log (
      id uuid primary key,
      tenant text not null,
      actor text not null,
      action text not null,
      subject_type text not null,
      subject_id text not null,
      details jsonb not null,
      at timestamptz not null
    )`);
    this.addSql(`create index audit_log_tenant_at_idx on audit_log (tenant, at desc)`);
  }

  override down(): void {
    this.addSql('drop table if exists audit_log');
    this.addSql('drop table if exists idempotency_records');
    this.addSql('drop table if exists decisions');
    this.addSql('drop table if exists api_keys');
  }
}
