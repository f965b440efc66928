/**
 * A ledger unit of work's lock and read in one round trip (issue 11): the per-account advisory lock, then ONE read of
 * everything the operation declared (libs/ledger LedgerReads); an operation addressed by transaction finds its account
 * first, in the same call. Inside a (volatile) function each statement takes a
 * fresh snapshot, so the read after the lock sees every write of the units of work it waited for; a plain statement
 * that locked and read at once would read with the snapshot it took before waiting. PL/pgSQL also keeps the read's
 * plan per connection, where a statement sent as text is planned again on every call; generic plans, because the
 * custom plans PL/pgSQL would otherwise keep choosing for these index lookups are planned again on every call too.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261204010000_ledger_read extends Migration {
  override up(): void {
    this.addSql(`create function ledger_lock_and_read(p_tenant text, p_account text, p_transaction text, p_reads jsonb) returns jsonb language plpgsql volatile
      set plan_cache_mode = force_generic_plan as $$
      declare
        v_tx text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'transactionIds', '[]'::jsonb)));
        v_adj text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'adjustmentIds', '[]'::jsonb)));
        v_red text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'redemptionIds', '[]'::jsonb)));
        v_counts text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'unprocessedCountsOf', '[]'::jsonb)));
        v_all boolean := coalesce((p_reads->>'allTransactions')::boolean, false);
        v_account text := p_account;
        v_result jsonb;
      begin
        -- Addressed by transaction: its account (a transaction never changes accounts), or nothing locked when none holds it.
        if v_account is null then
          select t.account_id into v_account from ledger_transactions t where t.tenant = p_tenant and t.transaction_id = p_transaction;
          if v_account is null then return jsonb_build_object('account_id', null); end if;
        end if;
        perform pg_advisory_xact_lock(hashtextextended('ledger/' || p_tenant || '/' || v_account, 0));
        select jsonb_build_object(
          'account_id', v_account,
          'account', (select to_jsonb(a) from ledger_accounts a where a.tenant = p_tenant and a.account_id = v_account for update),
          'last_seq', (select coalesce(max(e.seq), 0) from ledger_entries e where e.tenant = p_tenant and e.account_id = v_account),
          'all_tx', case when v_all then (select coalesce(jsonb_agg(to_jsonb(x) order by x.occurred_at, x.transaction_id), '[]'::jsonb)
            from ledger_transactions x where x.tenant = p_tenant and x.account_id = v_account) end,
          'txs', (select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) from ledger_transactions x where x.tenant = p_tenant and x.transaction_id = any(v_tx)),
          'adjs', (select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) from ledger_adjustments x where x.tenant = p_tenant and x.adjustment_id = any(v_adj)),
          'reds', (select coalesce(jsonb_agg(jsonb_build_object('id', x.redemption_id, 'record', x.record)), '[]'::jsonb)
            from ledger_redemptions x where x.tenant = p_tenant and x.redemption_id = any(v_red)),
          'counts', (select coalesce(jsonb_object_agg(c.transaction_id, c.n), '{}'::jsonb) from (
            select x.transaction_id, count(*) as n from ledger_adjustments x
            where x.tenant = p_tenant and x.account_id = v_account and x.processed_at is null and x.transaction_id = any(v_counts)
            group by x.transaction_id) c)
        ) into v_result;
        return v_result;
      end $$`);
  }

  override down(): void {
    this.addSql('drop function if exists ledger_lock_and_read(text, text, text, jsonb)');
  }
}
