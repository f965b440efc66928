/**
 * Calls of a refund's current payout execution that the provider answered with a definite failure. Fewer than the
 * calls before the current one means an earlier call has no definite answer (unknown, or its worker died before
 * recording it) and may have paid: a retryable failure then keeps the refund PROCESSING instead of FAILING it.
 * Refunds PROCESSING at migration time count as in doubt (0 definite failures), the safe side.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203000000_payout_doubt extends Migration {
  override up(): void {
    this.addSql('alter table refunds add column definite_failures integer not null default 0');
  }

  override down(): void {
    this.addSql('alter table refunds drop column definite_failures');
  }
}
