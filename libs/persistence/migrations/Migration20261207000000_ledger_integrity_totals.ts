/**
 * Reward Integrity totals kept with each account (issue 11, the ledger's write path): a write's verdict is the totals
 * its last write left plus the transactions it changed, so it no longer reads the account's whole history (which grows
 * with every purchase: ~1.2 ms of PostgreSQL per write at 20 transactions, measured 2026-12-04). ledger_lock_and_read
 * reads every transaction for a write (`integrity`) only where the account has no totals or its verdict is false already:
 * accounts from before this migration get totals at their next write, and so do accounts a writer of the release before
 * changed meanwhile.
 */
import { Migration } from '@mikro-orm/migrations';
import { LEDGER_LOCK_AND_READ } from './Migration20261204010000_ledger_read.js';

export class Migration20261207000000_ledger_integrity_totals extends Migration {
  override up(): void {
    this.addSql('alter table ledger_accounts add column integrity_totals jsonb');
    // A writer that does not keep the totals (an instance of the release before, still running during a rolling deploy,
    // or after a rollback) would leave them stale for good: its writes forget them, and the account's next write rebuilds
    // them from every transaction. Writers that keep them say so in ledger_lock_and_read, for their transaction.
    this.addSql(`create function ledger_forget_integrity_totals() returns trigger language plpgsql as $$
      declare
        t record;
      begin
        if tg_op = 'DELETE' then t := old; else t := new; end if;
        update ledger_accounts set integrity_totals = null
         where tenant = t.tenant and account_id = t.account_id and integrity_totals is not null;
        return null;
      end $$`);
    // The condition in WHEN: a write that keeps the totals does not even call the function.
    this.addSql(`create trigger ledger_transactions_keep_totals after insert or update or delete on ledger_transactions
      for each row when (current_setting('ledger.keeps_totals', true) is distinct from 'on') execute function ledger_forget_integrity_totals()`);
    this.addSql(lockAndReadKeepingTotals());
  }

  override down(): void {
    this.addSql(LEDGER_LOCK_AND_READ.replace('create function', 'create or replace function'));
    this.addSql('drop trigger if exists ledger_transactions_keep_totals on ledger_transactions');
    this.addSql('drop function if exists ledger_forget_integrity_totals()');
    this.addSql('alter table ledger_accounts drop column if exists integrity_totals');
  }
}

/**
 * ledger_lock_and_read as Migration20261204010000 created it, with two changes: a caller that says it keeps the totals
 * (`keepsTotals`) sets `ledger.keeps_totals` for its transaction, and a write's verdict (`integrity`) reads every
 * transaction only where the account keeps no totals or is violated already.
 */
function lockAndReadKeepingTotals(): string {
  const edits: [string, string][] = [
    [
      `create function`,
      `create or replace function`,
    ],
    [
      `      begin
        -- Addressed by transaction`,
      `      begin
        -- This caller keeps the totals (the trigger ledger_transactions_keep_totals then leaves them alone in this transaction).
        if coalesce((p_reads->>'keepsTotals')::boolean, false) then perform set_config('ledger.keeps_totals', 'on', true); end if;
        -- Addressed by transaction`,
    ],
    [
      `        if coalesce((p_reads->>'allTransactions')::boolean, false) then`,
      `        -- A write's verdict needs every transaction only where the account keeps no totals (Migration20261207000000), or
        -- where its verdict is false already (the violations name transactions): read here, not in a second round trip.
        if coalesce((p_reads->>'allTransactions')::boolean, false)
           or (coalesce((p_reads->>'integrity')::boolean, false)
               and (jsonb_typeof(v_result #> '{account,integrity_totals}') is distinct from 'object'
                    or (v_result #>> '{account,integrity_violated_at}') is not null)) then`,
    ],
  ];
  return edits.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`Migration20261207000000: ledger_lock_and_read no longer contains ${JSON.stringify(from)}`);
    return text.replace(from, to);
  }, LEDGER_LOCK_AND_READ);
}
