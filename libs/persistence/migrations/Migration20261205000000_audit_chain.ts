/**
 * Issue 12: an audit trail an auditor can trust.
 *
 * - audit_log rows carry the actor's role, their number in their tenant's chain (`seq`), the previous row's hash and
 *   their own (libs/audit/chain.ts defines the canonical content). `audit_chain_heads` holds each tenant's last seq and
 *   hash: AuditRepository.append locks it (one upsert) before it computes the next row, so concurrent writers in one
 *   tenant queue instead of chaining to the same predecessor.
 * - The database holds the chain whatever code writes: a BEFORE INSERT trigger advances the head only when the new row
 *   continues it (seq = head + 1, prev_hash = head's hash), and refuses the row otherwise; (tenant, seq) is unique.
 *   The hash itself is computed in TypeScript (one canonical form, which an auditor recomputes from the export), so the
 *   trigger checks the link, and verify checks the hashes.
 * - Rows already there are chained here, per tenant in id order (ids are time-ordered), with the append-only trigger
 *   disabled for that one update only (the migration's transaction holds the table's lock meanwhile).
 * - Decisions and ledger entries name their actor in their own row (written in the statement that writes the row).
 */
import { Migration } from '@mikro-orm/migrations';
import { chainNext, type ChainHead } from '../../audit/chain.js';

const PAGE = 500;

export class Migration20261205000000_audit_chain extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table audit_log add column actor_role text null, add column seq bigint null, add column prev_hash text null, add column hash text null`);
    await this.execute(`create table audit_chain_heads (tenant text primary key, seq bigint not null, hash text null)`);
    await this.chainExisting();
    await this.execute(`alter table audit_log alter column seq set not null, alter column hash set not null`);
    await this.execute(`create unique index audit_log_tenant_seq_idx on audit_log (tenant, seq)`);
    await this.execute(`create function audit_log_chain() returns trigger language plpgsql as $$
      begin
        update audit_chain_heads set seq = new.seq, hash = new.hash
          where tenant = new.tenant and seq = new.seq - 1 and hash is not distinct from new.prev_hash;
        if not found then
          raise exception 'audit_log row % (tenant %, seq %) does not continue its tenant''s chain', new.id, new.tenant, new.seq
            using errcode = 'check_violation';
        end if;
        return new;
      end $$`);
    await this.execute(`create trigger audit_log_chain before insert on audit_log for each row execute function audit_log_chain()`);
    // A head only moves forward (the trigger above); deleting it would let a chain restart at seq 1.
    await this.execute(`create trigger audit_chain_heads_no_delete before delete on audit_chain_heads for each row execute function refuse_change()`);
    await this.execute(`create trigger audit_chain_heads_no_truncate before truncate on audit_chain_heads for each statement execute function refuse_change()`);
    // Nullable: rows written before this migration have no recorded actor.
    await this.execute(`alter table decisions add column actor_id text null, add column actor_role text null`);
    await this.execute(`alter table ledger_entries add column actor_id text null, add column actor_role text null`);
  }

  /** Chains the rows already there, a page at a time (keyset on tenant, id), and records each tenant's head. */
  private async chainExisting(): Promise<void> {
    let head: ChainHead = { seq: 0, hash: null };
    let tenant: string | null = null;
    let after: [string, string] | null = null;
    await this.execute(`alter table audit_log disable trigger audit_log_append_only`);
    for (;;) {
      const rows = (await this.execute(
        `select id, tenant, actor, action, subject_type, subject_id, details, at from audit_log
         ${after ? 'where (tenant, id) > (?, ?::uuid)' : ''} order by tenant, id limit ${PAGE}`,
        after ?? [],
      )) as Record<string, unknown>[];
      if (rows.length === 0) break;
      const chained = rows.map((r) => {
        if (r.tenant !== tenant) {
          tenant = r.tenant as string;
          head = { seq: 0, hash: null };
        }
        const row = chainNext(head, {
          id: r.id as string,
          tenant: r.tenant as string,
          at: new Date(r.at as string | Date).toISOString(),
          actor: r.actor as string,
          actorRole: null,
          action: r.action as string,
          subjectType: r.subject_type as string,
          subjectId: r.subject_id as string,
          details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
        });
        head = { seq: row.seq, hash: row.hash };
        return { id: row.id, seq: row.seq, prev_hash: row.prevHash, hash: row.hash };
      });
      await this.execute(
        `update audit_log a set seq = x.seq, prev_hash = x.prev_hash, hash = x.hash
         from jsonb_to_recordset(?::jsonb) as x(id uuid, seq bigint, prev_hash text, hash text) where a.id = x.id`,
        [JSON.stringify(chained)],
      );
      const last = rows[rows.length - 1]!;
      after = [last.tenant as string, last.id as string];
    }
    await this.execute(`alter table audit_log enable trigger audit_log_append_only`);
    await this.execute(`insert into audit_chain_heads (tenant, seq, hash)
      select distinct on (tenant) tenant, seq, hash from audit_log order by tenant, seq desc`);
  }

  override async down(): Promise<void> {
    await this.execute(`alter table ledger_entries drop column actor_id, drop column actor_role`);
    await this.execute(`alter table decisions drop column actor_id, drop column actor_role`);
    await this.execute(`drop trigger audit_log_chain on audit_log`);
    await this.execute(`drop function audit_log_chain`);
    await this.execute(`drop table audit_chain_heads`);
    await this.execute(`drop index audit_log_tenant_seq_idx`);
    await this.execute(`alter table audit_log drop column actor_role, drop column seq, drop column prev_hash, drop column hash`);
  }
}
