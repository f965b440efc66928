/** Which release is active or in shadow per tenant (newest row per slot wins), and the shadow evaluations' results. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { rowDate, rowJson, rowText, type Row } from './catalogue.repository.js';
import { uuidv7Ids, type IdFactory } from './clock.js';

export type ReleaseSlot = 'active' | 'shadow';
export type ActivationAction = 'activate' | 'rollback' | 'shadow' | 'shadow_clear';

export interface ReleaseId {
  name: string;
  version: string;
}

export interface ActivationRow {
  seq: number;
  tenant: string;
  slot: ReleaseSlot;
  action: ActivationAction;
  /** null: the shadow was cleared. */
  release: ReleaseId | null;
  /** The row this one replaced (null when it replaced the built-in release, or nothing). */
  previousSeq: number | null;
  /** The release this one replaced, built-in included; null when there was nothing to go back to. */
  previous: ReleaseId | null;
  actor: { keyId: string; name: string };
  at: Date;
}

export interface NewActivation {
  tenant: string;
  slot: ReleaseSlot;
  action: ActivationAction;
  release: ReleaseId | null;
  previousSeq: number | null;
  previous: ReleaseId | null;
  actor: { keyId: string; name: string };
  at: Date;
}

export interface ShadowEvaluation {
  tenant: string;
  shadowSeq: number;
  decisionId: string;
  baselineOutcome: string;
  /** null when the shadow release failed to decide (see error). */
  shadowOutcome: string | null;
  changed: boolean;
  reasonsAdded: string[];
  reasonsRemoved: string[];
  error: string | null;
  at: Date;
}

export interface ShadowTally {
  total: number;
  changed: number;
  errors: number;
  transitions: Record<string, number>;
  reasonCodes: { added: Record<string, number>; removed: Record<string, number> };
}

const id = (name: unknown, version: unknown): ReleaseId | null => {
  const n = rowText(name);
  return n === null ? null : { name: n, version: rowText(version) ?? '' };
};

function toRow(r: Row): ActivationRow {
  return {
    seq: Number(r.seq),
    tenant: String(r.tenant),
    slot: r.slot === 'shadow' ? 'shadow' : 'active',
    action: String(r.action) as ActivationAction,
    release: id(r.release_name, r.release_version),
    previousSeq: r.previous_seq === null || r.previous_seq === undefined ? null : Number(r.previous_seq),
    previous: id(r.previous_name, r.previous_version),
    actor: { keyId: String(r.actor_key_id), name: String(r.actor_name) },
    at: rowDate(r.at),
  };
}

const COLUMNS = `seq, tenant, slot, action, release_name, release_version, previous_seq, previous_name, previous_version, actor_key_id, actor_name, at`;

/** Counts keyed by code, sorted, so reports compare and read the same every time. */
function sortedCounts(rows: Row[], key: (r: Row) => string): Record<string, number> {
  const pairs = rows.map((r): [string, number] => [key(r), Number(r.n)]);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(pairs);
}

export class ReleaseActivationsRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /** Serialises activation changes of one tenant until the transaction ends. */
  async lockTenant(em: SqlEntityManager, tenant: string): Promise<void> {
    await em.execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`release-activation:${tenant}`]);
  }

  /** The newest row of each slot of the tenant. */
  async current(em: SqlEntityManager, tenant: string): Promise<{ active?: ActivationRow; shadow?: ActivationRow }> {
    const rows = await em.execute<Row[]>(
      `select distinct on (slot) ${COLUMNS} from release_activations where tenant = ? order by slot, seq desc`,
      [tenant],
    );
    const out: { active?: ActivationRow; shadow?: ActivationRow } = {};
    for (const r of rows.map(toRow)) out[r.slot] = r;
    return out;
  }

  /**
   * The tenant's activation history (activations, rollbacks, shadow starts and stops), newest first, each with the
   * release it replaced in its slot: the slot's row before it (`previous` is where a rollback from this row goes back
   * to, which for a rollback is not what it replaced); none before it means the built-in release (or no shadow).
   */
  async history(em: SqlEntityManager, tenant: string, limit: number, beforeSeq?: number): Promise<(ActivationRow & { replaced: ReleaseId | null; replacedBuiltin: boolean })[]> {
    const rows = await em.execute<Row[]>(
      `select ${COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')}, b.release_name as replaced_name, b.release_version as replaced_version, b.seq as replaced_seq
         from release_activations a
         left join lateral (
           select seq, release_name, release_version from release_activations p
            where p.tenant = a.tenant and p.slot = a.slot and p.seq < a.seq order by p.seq desc limit 1
         ) b on true
        where a.tenant = ?${beforeSeq === undefined ? '' : ' and a.seq < ?'} order by a.seq desc limit ?`,
      beforeSeq === undefined ? [tenant, limit] : [tenant, beforeSeq, limit],
    );
    return rows.map((r) => ({
      ...toRow(r),
      replaced: typeof r.replaced_name === 'string' ? { name: r.replaced_name, version: String(r.replaced_version as string) } : null,
      replacedBuiltin: r.replaced_seq === null || r.replaced_seq === undefined,
    }));
  }

  async bySeq(em: SqlEntityManager, tenant: string, seq: number): Promise<ActivationRow | undefined> {
    const rows = await em.execute<Row[]>(`select ${COLUMNS} from release_activations where tenant = ? and seq = ?`, [tenant, seq]);
    return rows[0] && toRow(rows[0]);
  }

  /**
   * Run under the tenant's activation lock (lockTenant). `a.at` was read before the lock was granted: a change that waited
   * behind a later-stamped one is stamped just after it, so the tenant's rows read in the same order by time as by seq.
   */
  async insert(em: SqlEntityManager, a: NewActivation): Promise<ActivationRow> {
    const rows = await em.execute<Row[]>(
      `insert into release_activations (tenant, slot, action, release_name, release_version, previous_seq, previous_name, previous_version, actor_key_id, actor_name, at)
       select t.tenant, ?, ?, ?, ?, ?, ?, ?, ?, ?,
              greatest(?::timestamptz, (select max(p.at) + interval '1 millisecond' from release_activations p where p.tenant = t.tenant))
         from (select ?::text as tenant) t
       returning ${COLUMNS}`,
      [
        a.slot,
        a.action,
        a.release?.name ?? null,
        a.release?.version ?? null,
        a.previousSeq,
        a.previous?.name ?? null,
        a.previous?.version ?? null,
        a.actor.keyId,
        a.actor.name,
        a.at,
        a.tenant,
      ],
    );
    return toRow(rows[0]!);
  }

  /** Tells every instance listening on `channel` that `tenant` changed; PostgreSQL delivers it when the transaction commits. */
  async notify(em: SqlEntityManager, channel: string, tenant: string): Promise<void> {
    await em.execute(`select pg_notify(?, ?)`, [channel, tenant]);
  }

  /** The newest seq of every (tenant, slot): what a poll compares with what an instance has loaded. */
  async heads(em: SqlEntityManager): Promise<{ tenant: string; slot: ReleaseSlot; seq: number }[]> {
    const rows = await em.execute<Row[]>(`select tenant, slot, max(seq) as seq from release_activations group by tenant, slot`);
    return rows.map((r) => ({ tenant: String(r.tenant), slot: r.slot === 'shadow' ? 'shadow' : 'active', seq: Number(r.seq) }));
  }

  /** The newest shadow session (a row that put a release in shadow) and the row that ended it, if any. */
  async latestShadowSession(em: SqlEntityManager, tenant: string): Promise<{ started: ActivationRow; ended: ActivationRow | null } | undefined> {
    const rows = await em.execute<Row[]>(
      `select ${COLUMNS} from release_activations where tenant = ? and slot = 'shadow' and release_name is not null order by seq desc limit 1`,
      [tenant],
    );
    if (!rows[0]) return undefined;
    const started = toRow(rows[0]);
    const next = await em.execute<Row[]>(
      `select ${COLUMNS} from release_activations where tenant = ? and slot = 'shadow' and seq > ? order by seq limit 1`,
      [tenant, started.seq],
    );
    return { started, ended: next[0] ? toRow(next[0]) : null };
  }

  async insertShadowEvaluation(em: SqlEntityManager, e: ShadowEvaluation): Promise<void> {
    await em.execute(
      `insert into shadow_evaluations (id, tenant, shadow_seq, decision_id, baseline_outcome, shadow_outcome, changed, reasons_added, reasons_removed, error, at)
       values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?)`,
      [
        this.ids.next(e.at),
        e.tenant,
        e.shadowSeq,
        e.decisionId,
        e.baselineOutcome,
        e.shadowOutcome,
        e.changed,
        JSON.stringify(e.reasonsAdded),
        JSON.stringify(e.reasonsRemoved),
        e.error,
        e.at,
      ],
    );
  }

  async shadowTally(em: SqlEntityManager, tenant: string, shadowSeq: number): Promise<ShadowTally> {
    const where = `tenant = ? and shadow_seq = ?`;
    const [totals] = await em.execute<Row[]>(
      `select count(*) as total, count(*) filter (where changed) as changed, count(*) filter (where error is not null) as errors
       from shadow_evaluations where ${where}`,
      [tenant, shadowSeq],
    );
    const transitions = await em.execute<Row[]>(
      `select baseline_outcome, shadow_outcome, count(*) as n from shadow_evaluations
       where ${where} and shadow_outcome is not null and shadow_outcome <> baseline_outcome group by baseline_outcome, shadow_outcome`,
      [tenant, shadowSeq],
    );
    const codes = await em.execute<Row[]>(
      `select 'added' as side, code, count(*) as n from shadow_evaluations, jsonb_array_elements_text(reasons_added) as code where ${where} group by code
       union all
       select 'removed' as side, code, count(*) as n from shadow_evaluations, jsonb_array_elements_text(reasons_removed) as code where ${where} group by code`,
      [tenant, shadowSeq, tenant, shadowSeq],
    );
    return {
      total: Number(totals?.total ?? 0),
      changed: Number(totals?.changed ?? 0),
      errors: Number(totals?.errors ?? 0),
      transitions: sortedCounts(transitions, (r) => `${String(r.baseline_outcome)}->${String(r.shadow_outcome)}`),
      reasonCodes: {
        added: sortedCounts(codes.filter((r) => r.side === 'added'), (r) => String(r.code)),
        removed: sortedCounts(codes.filter((r) => r.side === 'removed'), (r) => String(r.code)),
      },
    };
  }

  /** The newest changed shadow evaluations of a session, for a look at examples. */
  async shadowSamples(em: SqlEntityManager, tenant: string, shadowSeq: number, limit: number): Promise<Omit<ShadowEvaluation, 'tenant' | 'shadowSeq'>[]> {
    const rows = await em.execute<Row[]>(
      `select decision_id, baseline_outcome, shadow_outcome, changed, reasons_added, reasons_removed, error, at from shadow_evaluations
       where tenant = ? and shadow_seq = ? and (changed or error is not null) order by id desc limit ?`,
      [tenant, shadowSeq, limit],
    );
    return rows.map((r) => ({
      decisionId: String(r.decision_id),
      baselineOutcome: String(r.baseline_outcome),
      shadowOutcome: rowText(r.shadow_outcome),
      changed: r.changed === true,
      reasonsAdded: rowJson<string[]>(r.reasons_added),
      reasonsRemoved: rowJson<string[]>(r.reasons_removed),
      error: rowText(r.error),
      at: rowDate(r.at),
    }));
  }
}
