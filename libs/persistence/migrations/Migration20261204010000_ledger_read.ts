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

/**
 * The function as this migration creates it (Migration20261207000000's down() restores it). Each lookup runs only when
 * declared, and a lookup of one id is a plain equality: `= any(array)` gets a generic plan that scans the tenant's rows
 * on a small table.
 */
export const LEDGER_LOCK_AND_READ = `create function ledger_lock_and_read(p_tenant text, p_account text, p_transaction text, p_reads jsonb) returns jsonb language plpgsql volatile
      set plan_cache_mode = force_generic_plan as $$
      declare
        v_tx text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'transactionIds', '[]'::jsonb)));
        v_adj text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'adjustmentIds', '[]'::jsonb)));
        v_red text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'redemptionIds', '[]'::jsonb)));
        v_counts text[] := array(select jsonb_array_elements_text(coalesce(p_reads->'unprocessedCountsOf', '[]'::jsonb)));
        v_account text := p_account;
        v_result jsonb;
        v_part jsonb;
      begin
        -- Addressed by transaction: its account (a transaction never changes accounts), or nothing locked when none holds it.
        if v_account is null then
          select t.account_id into v_account from ledger_transactions t where t.tenant = p_tenant and t.transaction_id = p_transaction;
          if v_account is null then return jsonb_build_object('account_id', null); end if;
        end if;
        perform pg_advisory_xact_lock(hashtextextended('ledger/' || p_tenant || '/' || v_account, 0));
        select jsonb_build_object('account_id', v_account, 'account', to_jsonb(a)) into v_result
          from (select 1) one left join lateral (select * from ledger_accounts x where x.tenant = p_tenant and x.account_id = v_account for update) a on true;
        v_result := v_result || jsonb_build_object('last_seq',
          (select coalesce(max(e.seq), 0) from ledger_entries e where e.tenant = p_tenant and e.account_id = v_account));
        if coalesce((p_reads->>'allTransactions')::boolean, false) then
          select coalesce(jsonb_agg(to_jsonb(x) order by x.occurred_at, x.transaction_id), '[]'::jsonb) into v_part
            from ledger_transactions x where x.tenant = p_tenant and x.account_id = v_account;
          v_result := v_result || jsonb_build_object('all_tx', v_part);
        end if;
        if cardinality(v_tx) = 1 then
          select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into v_part from ledger_transactions x where x.tenant = p_tenant and x.transaction_id = v_tx[1];
          v_result := v_result || jsonb_build_object('txs', v_part);
        elsif cardinality(v_tx) > 1 then
          select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into v_part from ledger_transactions x where x.tenant = p_tenant and x.transaction_id = any(v_tx);
          v_result := v_result || jsonb_build_object('txs', v_part);
        end if;
        if cardinality(v_adj) = 1 then
          select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into v_part from ledger_adjustments x where x.tenant = p_tenant and x.adjustment_id = v_adj[1];
          v_result := v_result || jsonb_build_object('adjs', v_part);
        elsif cardinality(v_adj) > 1 then
          select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into v_part from ledger_adjustments x where x.tenant = p_tenant and x.adjustment_id = any(v_adj);
          v_result := v_result || jsonb_build_object('adjs', v_part);
        end if;
        if cardinality(v_red) = 1 then
          select coalesce(jsonb_agg(jsonb_build_object('id', x.redemption_id, 'record', x.record)), '[]'::jsonb) into v_part
            from ledger_redemptions x where x.tenant = p_tenant and x.redemption_id = v_red[1];
          v_result := v_result || jsonb_build_object('reds', v_part);
        elsif cardinality(v_red) > 1 then
          select coalesce(jsonb_agg(jsonb_build_object('id', x.redemption_id, 'record', x.record)), '[]'::jsonb) into v_part
            from ledger_redemptions x where x.tenant = p_tenant and x.redemption_id = any(v_red);
          v_result := v_result || jsonb_build_object('reds', v_part);
        end if;
        if cardinality(v_counts) > 0 then
          -- By the account's unprocessed adjustments (a partial index), then the transactions asked for.
          select coalesce(jsonb_object_agg(c.transaction_id, c.n), '{}'::jsonb) into v_part from (
            select x.transaction_id, count(*) as n from ledger_adjustments x
            where x.tenant = p_tenant and x.account_id = v_account and x.processed_at is null and x.transaction_id = any(v_counts)
            group by x.transaction_id) c;
          v_result := v_result || jsonb_build_object('counts', v_part);
        end if;
        return v_result;
      end $$`;

export class Migration20261204010000_ledger_read extends Migration {
  override up(): void {
    this.addSql(LEDGER_LOCK_AND_READ);
  }

  override down(): void {
    this.addSql('drop function if exists ledger_lock_and_read(text, text, text, jsonb)');
  }
}
