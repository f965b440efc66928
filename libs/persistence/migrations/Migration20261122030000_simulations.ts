/** What-if simulation jobs: status, progress, summary and (capped) results; the cases themselves are not kept. */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122030000_simulations extends Migration {
  override up(): void {
    this.addSql(`create table simulations (
      id uuid primary key,
      tenant text not null,
      domain text not null,
      mode text not null check (mode in ('cases', 'replay')),
      status text not null check (status in ('running', 'completed', 'failed', 'cancelled')),
      candidate jsonb not null,
      baseline jsonb not null,
      total integer not null check (total >= 0),
      done integer not null check (done >= 0),
      summary json not null,
      results json not null,
      results_kept text not null check (results_kept in ('all', 'changed')),
      results_truncated boolean not null,
      error jsonb null,
      created_by text not null,
      created_at timestamptz not null,
      heartbeat_at timestamptz not null,
      finished_at timestamptz null
    )`);
    this.addSql(`create index simulations_tenant_id_idx on simulations (tenant, id desc)`);
    // The start-up sweep and the per-tenant cap look only at running jobs.
    this.addSql(`create index simulations_running_idx on simulations (tenant, heartbeat_at) where status = 'running'`);
    // Replays read a tenant's refund decisions of a time window in id order.
    this.addSql(`create index decisions_tenant_domain_created_idx on decisions (tenant, domain, created_at, id)`);
  }

  override down(): void {
    this.addSql('drop index if exists decisions_tenant_domain_created_idx');
    this.addSql('drop table if exists simulations');
  }
}
