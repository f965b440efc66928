/**
 * API keys an admin manages (expiry for a rotation's overlap, the successor a rotation issued, a reviewer's approval
 * limit) and, per ledger account, whether its Reward Integrity verdict is false right now, so the turn to false is
 * reported once and violated accounts can be listed without recomputing every account.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202233000_keys_integrity extends Migration {
  override up(): void {
    this.addSql(`alter table api_keys
      add column expires_at timestamptz null,
      add column approval_limit bigint null check (approval_limit >= 0),
      add column rotated_from uuid null references api_keys (id)`);
    // One successor per key: two rotations of one key racing cannot both issue a key.
    this.addSql('create unique index api_keys_one_successor on api_keys (rotated_from) where rotated_from is not null');
    this.addSql('create index api_keys_by_tenant_id on api_keys (tenant, id desc)');

    // Null: the verdict held at the account's last write (or the account was not written since this migration).
    this.addSql(`alter table ledger_accounts
      add column integrity_violated_at timestamptz null,
      add column integrity_violations jsonb null`);
    this.addSql('create index ledger_accounts_violated on ledger_accounts (tenant, account_id) where integrity_violated_at is not null');
  }

  override down(): void {
    this.addSql('drop index if exists ledger_accounts_violated');
    this.addSql('alter table ledger_accounts drop column if exists integrity_violated_at, drop column if exists integrity_violations');
    this.addSql('drop index if exists api_keys_by_tenant_id');
    this.addSql('drop index if exists api_keys_one_successor');
    this.addSql('alter table api_keys drop column if exists rotated_from, drop column if exists approval_limit, drop column if exists expires_at');
  }
}
