/**
 * Append-only audit log of who did what to which object, hash-chained per tenant (libs/audit/chain.ts defines the
 * canonical content and the link; Migration20261205000000_audit_chain the database's side of it).
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { chainNext, type Actor, type ChainedAuditRow, type ChainHead } from '../audit/index.js';
import { systemClock, uuidv7Ids, type Clock, type IdFactory } from './clock.js';
import { pgTimestamp } from './timestamps.js';

export interface AuditInput {
  tenant: string;
  actor: Actor;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
  /**
   * When the change was made. The row's `at` is stamped once the append holds its tenant's chain head: the later of
   * this, the clock then and the tenant's last row's `at`.
   */
  at: Date;
}

/** A row as the list and the export answer it: its content, its place in the chain and its hash. */
export type AuditRecord = ChainedAuditRow;

type Row = Record<string, unknown>;
const COLUMNS = 'id, tenant, seq, at, actor, actor_role, action, subject_type, subject_id, details, prev_hash, hash';

function toRecord(r: Row): AuditRecord {
  return {
    id: r.id as string,
    tenant: r.tenant as string,
    // bigint: pg answers a string, PGlite a number or bigint.
    seq: Number(r.seq),
    at: pgTimestamp(r.at).toISOString(),
    actor: r.actor as string,
    actorRole: (r.actor_role as string | null) ?? null,
    action: r.action as string,
    subjectType: r.subject_type as string,
    subjectId: r.subject_id as string,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
    prevHash: (r.prev_hash as string | null) ?? null,
    hash: r.hash as string,
  };
}

export class AuditRepository {
  constructor(
    private readonly ids: IdFactory = uuidv7Ids,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Appends the tenant's next row. The upsert of the tenant's chain head locks it until the transaction ends, and
   * answers the head as the last writer committed it (a waiting ON CONFLICT DO UPDATE sees the newest version), so
   * concurrent appends in one tenant queue and each links to the one before. The audit_log_chain trigger refuses a row
   * that does not continue the head, so a path that skipped this would fail rather than fork the chain.
   *
   * `at` is stamped after the lock is held and never before the head's last_at: it is non-decreasing along the chain,
   * so the rows of a time range are a contiguous run of seq and exports of consecutive ranges tile the chain (a row
   * stamped before it waited could land in a range already exported).
   */
  async append(em: SqlEntityManager, e: AuditInput): Promise<void> {
    const run = async (tx: SqlEntityManager): Promise<void> => {
      // Entities the caller created and has not flushed were written before the audit row under the old em-based append.
      await tx.flush();
      const [head] = await tx.execute<Row[]>(
        `insert into audit_chain_heads (tenant, seq, hash) values (?, 0, null)
         on conflict (tenant) do update set seq = audit_chain_heads.seq returning seq, hash, last_at`,
        [e.tenant],
      );
      const lastAt = head!.last_at === null || head!.last_at === undefined ? 0 : pgTimestamp(head!.last_at).getTime();
      const at = new Date(Math.max(e.at.getTime(), this.clock.now().getTime(), lastAt));
      const row = chainNext(
        { seq: Number(head!.seq), hash: (head!.hash as string | null) ?? null },
        {
          id: this.ids.next(at),
          tenant: e.tenant,
          at: at.toISOString(),
          actor: e.actor.id,
          actorRole: e.actor.role,
          action: e.action,
          subjectType: e.subjectType,
          subjectId: e.subjectId,
          details: e.details,
        },
      );
      await tx.execute(
        `insert into audit_log (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)`,
        [row.id, row.tenant, row.seq, at, row.actor, row.actorRole, row.action, row.subjectType, row.subjectId, JSON.stringify(row.details), row.prevHash, row.hash],
      );
    };
    return em.isInTransaction() ? run(em) : em.transactional(run);
  }

  /** Newest first; `after` is the last id of the previous page (ids are time-ordered UUIDv7). */
  async list(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<AuditRecord[]> {
    const rows = await em.execute<Row[]>(
      `select ${COLUMNS} from audit_log where tenant = ? ${after ? 'and id < ?' : ''} order by id desc limit ?`,
      after ? [tenant, after, limit] : [tenant, limit],
    );
    return rows.map(toRecord);
  }

  /** The tenant's chain head as last written (seq 0, hash null: no row yet). */
  async head(em: SqlEntityManager, tenant: string): Promise<ChainHead> {
    const [r] = await em.execute<Row[]>('select seq, hash from audit_chain_heads where tenant = ?', [tenant]);
    return r ? { seq: Number(r.seq), hash: (r.hash as string | null) ?? null } : { seq: 0, hash: null };
  }

  /**
   * The first row numbered past the tenant's head, read with the head in one statement (a row and the head it moves
   * commit together, so an append is never seen half done): only a row inserted around the chain trigger is there,
   * or any row at all when the head itself was deleted (a missing head counts as seq 0).
   */
  async pastHead(em: SqlEntityManager, tenant: string): Promise<{ record: AuditRecord; head: number } | null> {
    const [r] = await em.execute<Row[]>(
      `select ${COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')}, coalesce(h.seq, 0) as head_seq from audit_log a
         left join audit_chain_heads h on h.tenant = a.tenant
        where a.tenant = ? and a.seq > coalesce(h.seq, 0) order by a.seq limit 1`,
      [tenant],
    );
    return r ? { record: toRecord(r), head: Number(r.head_seq) } : null;
  }

  /** One page of the chain in seq order: rows with afterSeq < seq <= upToSeq. */
  async chainPage(em: SqlEntityManager, tenant: string, afterSeq: number, upToSeq: number, limit: number): Promise<AuditRecord[]> {
    const rows = await em.execute<Row[]>(`select ${COLUMNS} from audit_log where tenant = ? and seq > ? and seq <= ? order by seq limit ?`, [
      tenant,
      afterSeq,
      upToSeq,
      limit,
    ]);
    return rows.map(toRecord);
  }

  /**
   * The first and last seq of the rows with from <= at < to. `at` is non-decreasing along the chain (see append), so
   * these are exactly the range's rows; an export still sends every row between them, so it never has a gap.
   */
  async rangeBounds(em: SqlEntityManager, tenant: string, range: { from: Date; to: Date }): Promise<{ first: number; last: number } | null> {
    const [r] = await em.execute<Row[]>('select min(seq) as first, max(seq) as last from audit_log where tenant = ? and at >= ? and at < ?', [tenant, range.from, range.to]);
    return r && r.first !== null && r.first !== undefined ? { first: Number(r.first), last: Number(r.last) } : null;
  }

}
