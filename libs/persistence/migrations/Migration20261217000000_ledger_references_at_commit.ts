/**
 * The ledger's three foreign keys are checked at COMMIT (deferrable, initially deferred) instead of after each write
 * (issue 11, the ledger's fast path).
 *
 * Every connection plans its statements for each execution (database.ts: plan_cache_mode = force_custom_plan), and so
 * it planned PostgreSQL's own foreign-key checks too: `select 1 from only ledger_accounts x where tenant = $1 and
 * account_id = $2 for key share of x` after nearly every ledger write, and the same of ledger_transactions after a
 * refund's or a chargeback's adjustment. On the ledger bench that was 74 and 82 µs of planning per check against
 * ~10 µs of running it, the largest planning cost of a ledger operation with the key's answer's
 * (pg_stat_statements, 2026-12-06). A check at statement end runs where the write's own setting (CUSTOM_PLAN_AGAIN)
 * has made plans custom again. Deferred, it runs in the COMMIT that goes out with the key's answer (THEN_COMMIT),
 * which plans generically with index scans only (IdempotencyRepository.complete): the check's one plan is its primary
 * key's lookup, made once per connection.
 *
 * What deferral changes: a missing account or transaction would fail the COMMIT, not the write. None can be missing:
 * each write follows its unit of work's read of the account (and of the transaction it adjusts) under the account's
 * lock, and the ledger deletes nothing and changes no key. The checks' row locks (FOR KEY SHARE) fall on the account
 * the transaction holds FOR UPDATE, or on a transaction row nobody locks in a mode that conflicts with it (its upserts
 * take FOR NO KEY UPDATE), so taking them at COMMIT waits for no one. Only the referring side's checks run at the
 * answer's COMMIT with generic, index-only plans (primary-key lookups); deleting or re-keying a referenced row would
 * queue a check by the referring columns, which no index of ledger_adjustments leads.
 *
 * For a later migration: a transaction that writes these tables and then alters or truncates them fails with 55006
 * ("pending trigger events"); commit the writes first, or `set constraints all immediate` before the DDL.
 */
import { Migration } from '@mikro-orm/migrations';

const REFERENCES = [
  ['ledger_transactions', 'ledger_transactions_tenant_account_id_fkey'],
  ['ledger_adjustments', 'ledger_adjustments_tenant_transaction_id_fkey'],
  ['ledger_entries', 'ledger_entries_tenant_account_id_fkey'],
] as const;

export class Migration20261217000000_ledger_references_at_commit extends Migration {
  override up(): void {
    for (const [table, name] of REFERENCES) this.addSql(`alter table ${table} alter constraint ${name} deferrable initially deferred`);
  }

  override down(): void {
    for (const [table, name] of REFERENCES) this.addSql(`alter table ${table} alter constraint ${name} not deferrable`);
  }
}
