/**
 * The idempotency claim fails, instead of answering "not claimed", when its key is taken: it travels unanswered with
 * its transaction's next statement (HELD, prepared-statements.ts), so a claim that merely reported the key taken would
 * let that statement, and everything after it, run for a request that must only replay. A failing statement fails
 * the batch it went out in, and the transaction.
 *
 * Volatile, so never evaluated while planning.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261215000000_idempotency_key_taken extends Migration {
  override up(): void {
    this.addSql(`create or replace function idempotency_key_taken() returns int language plpgsql volatile as $$
      begin
        raise exception 'idempotency key already claimed' using errcode = 'DPI01';
      end $$`);
  }

  override down(): void {
    this.addSql('drop function if exists idempotency_key_taken()');
  }
}
