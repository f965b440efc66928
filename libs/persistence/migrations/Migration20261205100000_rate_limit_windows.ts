/**
 * Rate-limit windows shared by every instance (libs/rate-limits): one row per limited key (an API key, a source
 * address), holding its current fixed window. Unlogged: a crash forgets the windows (the limits restart, which is
 * harmless) and the leases write no WAL.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261205100000_rate_limit_windows extends Migration {
  override up(): void {
    this.addSql(`create unlogged table rate_limit_windows (
      key text primary key,
      used integer not null,
      -- what the last lease got: computed from the locked row in the same statement (see rate-limit-windows.store.ts)
      last_granted integer not null,
      ends_at timestamptz not null
    )`);
    this.addSql('create index rate_limit_windows_ends_at on rate_limit_windows (ends_at)');
  }

  override down(): void {
    this.addSql('drop table rate_limit_windows');
  }
}
