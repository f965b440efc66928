/**
 * The refunds whose ledger clawback waits for their reward transaction to settle (`clawback.status = deferred`), by
 * that transaction: each settlement looks them up (payouts.repository.ts DEFERRED_CLAWBACKS). Partial, so it holds
 * only the few refunds waiting; without it each settlement read every SUCCEEDED refund of its tenant.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203010000_deferred_clawbacks extends Migration {
  override up(): void {
    this.addSql(`create index refunds_deferred_clawbacks on refunds (tenant, (reward->>'transactionId')) where clawback->>'status' = 'deferred'`);
  }

  override down(): void {
    this.addSql('drop index if exists refunds_deferred_clawbacks');
  }
}
