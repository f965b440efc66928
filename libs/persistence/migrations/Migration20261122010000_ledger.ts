/** Reward ledger: accounts, per-transaction reward records (kept forever), adjustments, append-only entries, redemptions. */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122010000_ledger extends Migration {
  override up(): void {
    this.addSql(`create table ledger_accounts (
      tenant text not null,
      account_id text not null,
      program_ref text not null,
      currency char(3) not null,
      cycle_anchor_day smallint not null check (cycle_anchor_day between 1 and 28),
      balance bigint not null,
      redeemed bigint not null check (redeemed >= 0),
      hold_until timestamptz null,
      closed_periods jsonb not null,
      cap_usage jsonb not null,
      version integer not null,
      primary key (tenant, account_id)
    )`);
    this.addSql(`create table ledger_transactions (
      tenant text not null,
      transaction_id text not null,
      account_id text not null,
      amount bigint not null check (amount > 0),
      category text not null,
      occurred_at timestamptz not null,
      settled_at timestamptz null,
      status text not null,
      refunded bigint not null check (refunded >= 0 and refunded <= amount),
      reward bigint not null check (reward >= 0 and reward <= original_reward),
      original_reward bigint not null check (original_reward >= 0),
      rewarded_at timestamptz null,
      reward_period text null,
      partial_refunds integer not null,
      reward_base bigint null,
      primary key (tenant, transaction_id),
      foreign key (tenant, account_id) references ledger_accounts (tenant, account_id)
    )`);
    this.addSql(`create index ledger_transactions_account_idx on ledger_transactions (tenant, account_id)`);
    this.addSql(`create table ledger_adjustments (
      tenant text not null,
      adjustment_id text not null,
      kind text not null,
      transaction_id text not null,
      account_id text not null,
      amount bigint not null check (amount > 0),
      at timestamptz not null,
      clawback bigint null,
      processed_at timestamptz null,
      entry_seq bigint null,
      primary key (tenant, adjustment_id),
      foreign key (tenant, transaction_id) references ledger_transactions (tenant, transaction_id)
    )`);
    this.addSql(`create index ledger_adjustments_account_idx on ledger_adjustments (tenant, account_id) where processed_at is null`);
    this.addSql(`create table ledger_entries (
      tenant text not null,
      account_id text not null,
      seq bigint not null,
      transaction_id text null,
      type text not null,
      amount bigint not null,
      balance_after bigint not null,
      cause_kind text not null,
      cause_id text not null,
      program_ref text not null,
      at timestamptz not null,
      primary key (tenant, account_id, seq),
      foreign key (tenant, account_id) references ledger_accounts (tenant, account_id)
    )`);
    // Append-only means append-only, whatever code runs against the database.
    this.addSql(`create function ledger_entries_append_only() returns trigger language plpgsql as $$
      begin raise exception 'ledger_entries is append-only'; end $$`);
    this.addSql(`create trigger ledger_entries_no_update before update or delete on ledger_entries
      for each row execute function ledger_entries_append_only()`);
    this.addSql(`create table ledger_redemptions (
      tenant text not null,
      redemption_id text not null,
      account_id text not null,
      record jsonb not null,
      primary key (tenant, redemption_id)
    )`);
  }

  override down(): void {
    for (const t of ['ledger_redemptions', 'ledger_entries', 'ledger_adjustments', 'ledger_transactions', 'ledger_accounts']) {
      this.addSql(`drop table if exists ${t}`);
    }
    this.addSql('drop function if exists ledger_entries_append_only');
  }
}
