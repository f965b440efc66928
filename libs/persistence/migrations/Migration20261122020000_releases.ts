/** Per-tenant immutable catalogue (rule packs, policy bundles, releases), activation history, shadow evaluations. */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122020000_releases extends Migration {
  override up(): void {
    // Immutable per (tenant, name, version): rows are inserted, never updated (see the triggers below).
    this.addSql(`create table rule_packs (
      tenant text not null,
      name text not null,
      version text not null,
      kind text not null,
      sha256 char(64) not null,
      content jsonb not null,
      uploaded_by text not null,
      uploaded_at timestamptz not null,
      primary key (tenant, name, version)
    )`);
    this.addSql(`create table policy_bundles (
      tenant text not null,
      name text not null,
      version text not null,
      sha256 char(64) not null,
      size_bytes integer not null,
      entrypoints jsonb not null,
      content bytea not null,
      uploaded_by text not null,
      uploaded_at timestamptz not null,
      primary key (tenant, name, version)
    )`);
    this.addSql(`create table releases (
      tenant text not null,
      name text not null,
      version text not null,
      sha256 char(64) not null,
      description text null,
      components jsonb not null,
      created_by text not null,
      created_at timestamptz not null,
      primary key (tenant, name, version)
    )`);
    this.addSql(`create function catalogue_immutable() returns trigger language plpgsql as $$
      begin raise exception '% rows are immutable', tg_table_name; end $$`);
    for (const t of ['rule_packs', 'policy_bundles', 'releases']) {
      this.addSql(`create trigger ${t}_immutable before update on ${t} for each row execute function catalogue_immutable()`);
    }

    // Which release is active (slot 'active') or in shadow (slot 'shadow') per tenant: the newest row per slot wins.
    // previous_* is the state the row replaced, so a rollback can walk back (and rolling back twice walks further).
    this.addSql(`create table release_activations (
      seq bigint generated always as identity primary key,
      tenant text not null,
      slot text not null check (slot in ('active', 'shadow')),
      action text not null check (action in ('activate', 'rollback', 'shadow', 'shadow_clear')),
      release_name text null,
      release_version text null,
      previous_seq bigint null references release_activations (seq),
      previous_name text null,
      previous_version text null,
      actor_key_id text not null,
      actor_name text not null,
      at timestamptz not null,
      check ((release_name is null) = (release_version is null)),
      check (slot = 'shadow' or release_name is not null)
    )`);
    this.addSql(`create index release_activations_tenant_slot_idx on release_activations (tenant, slot, seq desc)`);

    // One row per live refund decision evaluated on a shadow release; shadow_seq names the shadow session.
    this.addSql(`create table shadow_evaluations (
      id uuid primary key,
      tenant text not null,
      shadow_seq bigint not null references release_activations (seq),
      decision_id uuid not null,
      baseline_outcome text not null,
      shadow_outcome text null,
      changed boolean not null,
      reasons_added jsonb not null,
      reasons_removed jsonb not null,
      error text null,
      at timestamptz not null
    )`);
    this.addSql(`create index shadow_evaluations_session_idx on shadow_evaluations (tenant, shadow_seq, id desc)`);

    // GET /v1/audit pages newest first by id (UUIDv7).
    this.addSql(`create index audit_log_tenant_id_idx on audit_log (tenant, id desc)`);
  }

  override down(): void {
    this.addSql('drop index if exists audit_log_tenant_id_idx');
    for (const t of ['shadow_evaluations', 'release_activations', 'releases', 'policy_bundles', 'rule_packs']) {
      this.addSql(`drop table if exists ${t}`);
    }
    this.addSql('drop function if exists catalogue_immutable');
  }
}
