/**
 * A refund decision's write fails, instead of answering "not created", when its refundId was taken meanwhile under
 * another order's lock (refund-decisions.repository.ts). That write goes out with its transaction's COMMIT in one
 * round trip (THEN_COMMIT, prepared-statements.ts): a statement that merely reported the conflict would have its
 * claim and decision committed before the service could roll them back. A failing statement commits nothing.
 *
 * Volatile, so never evaluated while planning (a constant that fails would fail every call planned for its values).
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261213000000_refund_taken extends Migration {
  override up(): void {
    this.addSql(`create or replace function refund_taken(p_refund_id text) returns int language plpgsql volatile as $$
      begin
        raise exception 'refund % was taken by another decision meanwhile', p_refund_id using errcode = 'DPR01';
      end $$`);
  }

  override down(): void {
    this.addSql('drop function if exists refund_taken(text)');
  }
}
