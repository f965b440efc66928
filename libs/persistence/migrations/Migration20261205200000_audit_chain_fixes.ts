/**
 * Issue 12 review fixes to the audit chain (Migration20261205000000_audit_chain stays as it landed):
 *
 * - `audit_chain_heads.last_at`: the tenant's last row's `at`. AuditRepository.append stamps a row's `at` after it holds
 *   the head's lock and never before last_at, so `at` is non-decreasing along each tenant's chain; the rows of a range
 *   [from, to) are then one contiguous run of seq, and exports of consecutive ranges tile the chain. The chain trigger
 *   refuses a row stamped before the head's last_at, and records each row's `at` as the new last_at.
 * - A head moves only through the chain trigger: a BEFORE UPDATE trigger on audit_chain_heads refuses any other change
 *   (pg_trigger_depth() > 1 is the chain trigger's own update) except the append's locking no-op upsert (NEW = OLD),
 *   so a role that may UPDATE the heads cannot rewind or rewrite one without disabling a trigger.
 * - Ledger rows that carry no ledger_entries row of their own (a purchase, a refund of an unrewarded transaction, a
 *   redemption's record) name the actor who last wrote them; nullable, rows written before have none.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261205200000_audit_chain_fixes extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table audit_chain_heads add column last_at timestamptz null`);
    await this.execute(`update audit_chain_heads h set last_at = (select max(a.at) from audit_log a where a.tenant = h.tenant)`);
    await this.execute(`create or replace function audit_log_chain() returns trigger language plpgsql as $$
      begin
        update audit_chain_heads set seq = new.seq, hash = new.hash, last_at = new.at
          where tenant = new.tenant and seq = new.seq - 1 and hash is not distinct from new.prev_hash
            and (last_at is null or new.at >= last_at);
        if not found then
          raise exception 'audit_log row % (tenant %, seq %, at %) does not continue its tenant''s chain', new.id, new.tenant, new.seq, new.at
            using errcode = 'check_violation';
        end if;
        return new;
      end $$`);
    await this.execute(`create function audit_chain_heads_guard() returns trigger language plpgsql as $$
      begin
        if pg_trigger_depth() > 1 or new is not distinct from old then
          return new;
        end if;
        raise exception 'audit_chain_heads moves only with an audit_log row: update of tenant % refused', old.tenant
          using errcode = 'check_violation';
      end $$`);
    await this.execute(`create trigger audit_chain_heads_guard before update on audit_chain_heads for each row execute function audit_chain_heads_guard()`);
    for (const t of ['ledger_transactions', 'ledger_adjustments', 'ledger_redemptions']) {
      await this.execute(`alter table ${t} add column actor_id text null, add column actor_role text null`);
    }
  }

  override async down(): Promise<void> {
    for (const t of ['ledger_transactions', 'ledger_adjustments', 'ledger_redemptions']) {
      await this.execute(`alter table ${t} drop column actor_id, drop column actor_role`);
    }
    await this.execute(`drop trigger audit_chain_heads_guard on audit_chain_heads`);
    await this.execute(`drop function audit_chain_heads_guard`);
    await this.execute(`create or replace function audit_log_chain() returns trigger language plpgsql as $$
      begin
        update audit_chain_heads set seq = new.seq, hash = new.hash
          where tenant = new.tenant and seq = new.seq - 1 and hash is not distinct from new.prev_hash;
        if not found then
          raise exception 'audit_log row % (tenant %, seq %) does not continue its tenant''s chain', new.id, new.tenant, new.seq
            using errcode = 'check_violation';
        end if;
        return new;
      end $$`);
    await this.execute(`alter table audit_chain_heads drop column last_at`);
  }
}
