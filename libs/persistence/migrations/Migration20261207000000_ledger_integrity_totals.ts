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
    this.addSql(`create or replace function ledger_lock_and_read(p_tenant text, p_account text, p_transaction text, p_reads jsonb) returns jsonb language plpgsql volatile
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
        -- This caller keeps the totals (ledger_transactions_keep_totals below leaves them alone in this transaction).
        if coalesce((p_reads->>'keepsTotals')::boolean, false) then perform set_config('ledger.keeps_totals', 'on', true); end if;
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
        -- A write's verdict needs every transaction only where the account keeps no totals (Migration20261207000000), or
        -- where its verdict is false already (the violations name transactions): read here, not in a second round trip.
        if coalesce((p_reads->>'allTransactions')::boolean, false)
           or (coalesce((p_reads->>'integrity')::boolean, false)
               and (jsonb_typeof(v_result #> '{account,integrity_totals}') is distinct from 'object'
                    or (v_result #>> '{account,integrity_violated_at}') is not null)) then
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
      end $$`);
  }

  override down(): void {
    this.addSql(LEDGER_LOCK_AND_READ.replace('create function', 'create or replace function'));
    this.addSql('drop trigger if exists ledger_transactions_keep_totals on ledger_transactions');
    this.addSql('drop function if exists ledger_forget_integrity_totals()');
    this.addSql('alter table ledger_accounts drop column if exists integrity_totals');
  }
}
