/**
 * The index of an account's transactions leads with the account, not the tenant (issue 11, the ledger's write path).
 *
 * ledger_lock_and_read plans its lookups once per connection (generic plans, Migration20261204010000). On a table
 * PostgreSQL has not analyzed yet (a young database, or autovacuum off), a lookup of one transaction by (tenant,
 * transaction_id) costs the same by the primary key as by (tenant, account_id) with a filter, and the planner kept the
 * latter: every settle, refund and chargeback then read all of the tenant's transactions, for as long as the connection
 * lived. Measured on the ledger bench (this machine runs with autovacuum off): 1.5 million index entries read for
 * 4,401 lookups, 0.30 ms per lookup against 0.03 ms. An ANALYZE re-plans it; nothing else did. Led by the account, this
 * index bounds no scan by the tenant alone, so a lookup by transaction id has only the primary key to use.
 *
 * An account's transactions (by tenant and account) can still be read through either; the planner takes this one once
 * the table has statistics, and before that, where their estimates tie, the index created last (this one).
 *
 * Built under a new name first, while the old index still serves: the build blocks writes to ledger_transactions, not
 * reads. Dropping the old one then takes the table's exclusive lock, held until the migrations commit, which is short
 * once the build is done.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261214000000_ledger_transactions_by_account extends Migration {
  override up(): void {
    this.addSql('create index ledger_transactions_by_account_idx on ledger_transactions (account_id, tenant)');
    this.addSql('drop index if exists ledger_transactions_account_idx');
    this.addSql('alter index ledger_transactions_by_account_idx rename to ledger_transactions_account_idx');
  }

  override down(): void {
    this.addSql('drop index if exists ledger_transactions_account_idx');
    this.addSql('create index ledger_transactions_account_idx on ledger_transactions (tenant, account_id)');
  }
}
