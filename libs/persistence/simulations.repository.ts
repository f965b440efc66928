/** Simulation jobs (status, progress, summary, capped results) and the stored refund decisions a replay re-decides. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { PLATFORM_TRACE_SOURCE } from '../refunds/index.js';
import { pgTimestamp } from './timestamps.js';

export type SimulationStatus = 'running' | 'completed' | 'failed' | 'cancelled';
export type SimulationMode = 'cases' | 'replay';

export interface SimulationJob {
  id: string;
  tenant: string;
  domain: string;
  mode: SimulationMode;
  status: SimulationStatus;
  /** The candidate release `{name, version, components}`. */
  candidate: unknown;
  /** `{"release": ref}` for supplied cases, `{"storedDecisions": {from, to, limit}}` for a replay. */
  baseline: unknown;
  total: number;
  done: number;
  summary: unknown;
  results: unknown[];
  /** `all`: every result is kept; `changed`: only changed ones (big runs). */
  resultsKept: 'all' | 'changed';
  resultsTruncated: boolean;
  error: { code: string; message: string } | null;
  createdBy: string;
  createdAt: Date;
  heartbeatAt: Date;
  finishedAt: Date | null;
}

/**
 * A stored decision as a replay needs it, its JSON values as the database's text: parsed where the case is decided (a
 * worker thread, for a big replay), not where it is read.
 */
export interface ReplayRow {
  id: string;
  /**
   * Where the next page starts after this row: its timestamp in ISO 8601 (UTC) to the microsecond, which a Date would
   * round to the millisecond (a key rounded down reads rows twice, rounded up skips them).
   */
  createdAt: string;
  /** The case as received. */
  caseJson: string;
  /** The feature values the decision was made with (null: a type without features). */
  featuresJson: string | null;
  /**
   * The stored trace's first entry when it is the platform's refunded total (a refund lifecycle's: the total the
   * rules saw, which the replay re-applies, replayEnrichment); null otherwise.
   */
  firstTraceJson: string | null;
  outcome: string;
  /** `[{code, …}]` as answered (null when absent). */
  reasonsJson: string | null;
  /** Each of the decision type's output fields as stored, in the order asked for (null when absent). */
  outputJson: (string | null)[];
  refundId: string | null;
}

/**
 * A reviewer's resolution of a review (reviews.service.ts): a person's act on the engine's decision, with no case to
 * evaluate again, so a replay leaves it out (as `POST /v1/decisions/{id}/replay` refuses it). Its rows name the
 * reviewer; rows stored before decisions named their actor are told by their case (`reviewId` and `overrides`) and,
 * as the replay route tells them, by their document's `overrides` (a tenant's case may hold fields of those names).
 */
// Never null (a null would drop the row from both sides of a count): an actor_role or case_data that is null is false.
const RESOLUTION = `(d.actor_role is not distinct from 'reviewer' or (d.actor_role is null and coalesce(jsonb_exists_all(d.case_data, array['reviewId', 'overrides']), false) and (d.document->>'overrides') is not null))`;
/** Output field names become quoted SQL identifiers: decision types allow only identifiers, and this is checked again here. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ReplayWindow {
  from: Date;
  to: Date;
}

type Row = Record<string, unknown>;

// pg answers json as parsed values and timestamptz as Date; PGlite may differ. Normalise both.
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const date = pgTimestamp;
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

function toJob(r: Row): SimulationJob {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    domain: String(r.domain),
    mode: String(r.mode) as SimulationMode,
    status: String(r.status) as SimulationStatus,
    candidate: json(r.candidate),
    baseline: json(r.baseline),
    total: num(r.total),
    done: num(r.done),
    summary: json(r.summary),
    results: json<unknown[]>(r.results),
    resultsKept: String(r.results_kept) as 'all' | 'changed',
    resultsTruncated: Boolean(r.results_truncated),
    error: r.error === null || r.error === undefined ? null : json(r.error),
    createdBy: String(r.created_by),
    createdAt: date(r.created_at),
    heartbeatAt: date(r.heartbeat_at),
    finishedAt: dateOrNull(r.finished_at),
  };
}

const COLUMNS = `id, tenant, domain, mode, status, candidate, baseline, total, done, summary, results, results_kept, results_truncated, error, created_by, created_at, heartbeat_at, finished_at`;
// The job list leaves the results out: they can be large.
const LIST_COLUMNS = COLUMNS.replace('results,', `'[]'::json as results,`);

export class SimulationsRepository {
  async insert(em: SqlEntityManager, j: SimulationJob): Promise<void> {
    await em.execute(
      `insert into simulations (${COLUMNS}) values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?::json, ?::json, ?, ?, ?::jsonb, ?, ?, ?, ?)`,
      [
        j.id,
        j.tenant,
        j.domain,
        j.mode,
        j.status,
        JSON.stringify(j.candidate),
        JSON.stringify(j.baseline),
        j.total,
        j.done,
        JSON.stringify(j.summary),
        JSON.stringify(j.results),
        j.resultsKept,
        j.resultsTruncated,
        j.error === null ? null : JSON.stringify(j.error),
        j.createdBy,
        j.createdAt,
        j.heartbeatAt,
        j.finishedAt,
      ],
    );
  }

  /** Another tenant's job is indistinguishable from a missing one. */
  async get(em: SqlEntityManager, tenant: string, id: string): Promise<SimulationJob | null> {
    const rows = await em.execute<Row[]>(`select ${COLUMNS} from simulations where tenant = ? and id = ?`, [tenant, id]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Newest first, without results; `after` is the last id of the previous page (UUIDv7, time-ordered). */
  async list(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<SimulationJob[]> {
    const rows = await em.execute<Row[]>(
      `select ${LIST_COLUMNS} from simulations where tenant = ? ${after ? 'and id < ?' : ''} order by id desc limit ?`,
      after ? [tenant, after, limit] : [tenant, limit],
    );
    return rows.map(toJob);
  }

  /**
   * Serialises background starts of one tenant until the transaction ends: the running count a start reads stays true
   * until its own row is committed (without it, parallel starts all read the same count and all start).
   */
  async lockStarts(em: SqlEntityManager, tenant: string): Promise<void> {
    await em.execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`simulation-starts:${tenant}`]);
  }

  async runningCount(em: SqlEntityManager, tenant: string, aliveSince: Date): Promise<number> {
    const rows = await em.execute<Row[]>(`select count(*) as n from simulations where status = 'running' and tenant = ? and heartbeat_at >= ?`, [
      tenant,
      aliveSince,
    ]);
    return num(rows[0]?.n ?? 0);
  }

  /** Records progress of a running job; false when it is no longer running (cancelled, possibly by another instance). */
  async progress(em: SqlEntityManager, id: string, p: { done: number; summary: unknown; now: Date }): Promise<boolean> {
    const rows = await em.execute<Row[]>(
      `update simulations set done = ?, summary = ?::json, heartbeat_at = ? where id = ? and status = 'running' returning id`,
      [p.done, JSON.stringify(p.summary), p.now, id],
    );
    return rows.length === 1;
  }

  /**
   * Ends a job: `completed` or `failed` only while it is still running; `cancelled` only records how far a job that was
   * cancelled got. False when the job was not in the expected state.
   */
  async finish(
    em: SqlEntityManager,
    id: string,
    f: { status: SimulationStatus; done: number; summary: unknown; results: unknown[]; resultsTruncated: boolean; error: { code: string; message: string } | null; now: Date },
  ): Promise<boolean> {
    const expected = f.status === 'cancelled' ? 'cancelled' : 'running';
    const rows = await em.execute<Row[]>(
      `update simulations set status = ?, done = ?, summary = ?::json, results = ?::json, results_truncated = ?, error = ?::jsonb,
         heartbeat_at = ?, finished_at = coalesce(finished_at, ?)
       where id = ? and status = ? returning id`,
      [
        f.status,
        f.done,
        JSON.stringify(f.summary),
        JSON.stringify(f.results),
        f.resultsTruncated,
        f.error === null ? null : JSON.stringify(f.error),
        f.now,
        f.now,
        id,
        expected,
      ],
    );
    return rows.length === 1;
  }

  /** Cancels a running job; answers the job as it is afterwards (or null when there is no such job). */
  async cancel(em: SqlEntityManager, tenant: string, id: string, now: Date): Promise<{ job: SimulationJob; cancelled: boolean } | null> {
    const rows = await em.execute<Row[]>(
      `update simulations set status = 'cancelled', finished_at = ? where tenant = ? and id = ? and status = 'running' returning ${COLUMNS}`,
      [now, tenant, id],
    );
    if (rows[0]) return { job: toJob(rows[0]), cancelled: true };
    const job = await this.get(em, tenant, id);
    return job ? { job, cancelled: false } : null;
  }

  /** Marks running jobs whose worker stopped sending heartbeats (a restart, a crash) as failed; answers their ids. */
  async failStale(em: SqlEntityManager, heartbeatBefore: Date, error: { code: string; message: string }, now: Date, tenant?: string): Promise<string[]> {
    const rows = await em.execute<Row[]>(
      `update simulations set status = 'failed', error = ?::jsonb, finished_at = ?
       where status = 'running' and heartbeat_at < ? ${tenant ? 'and tenant = ?' : ''} returning id`,
      tenant ? [JSON.stringify(error), now, heartbeatBefore, tenant] : [JSON.stringify(error), now, heartbeatBefore],
    );
    return rows.map((r) => String(r.id));
  }

  /**
   * How many decisions of the type in the window a replay of at most `limit` would take, whether the window holds
   * more, and how many it skips because retention purged their case (counted up to `limit`).
   */
  async countReplay(
    em: SqlEntityManager,
    tenant: string,
    type: string,
    w: ReplayWindow,
    limit: number,
  ): Promise<{ total: number; more: boolean; purged: number; resolutions: number }> {
    const rows = await em.execute<Row[]>(
      `select (select count(*) from (select 1 from decisions d where tenant = ? and domain = ? and created_at >= ? and created_at < ? and purged_at is null and erased_at is null and not ${RESOLUTION} limit ?) w) as n,
              (select count(*) from (select 1 from decisions where tenant = ? and domain = ? and created_at >= ? and created_at < ? and (purged_at is not null or erased_at is not null) limit ?) p) as purged,
              (select count(*) from (select 1 from decisions d where tenant = ? and domain = ? and created_at >= ? and created_at < ? and purged_at is null and erased_at is null and ${RESOLUTION} limit ?) r) as resolutions`,
      [tenant, type, w.from, w.to, limit + 1, tenant, type, w.from, w.to, limit, tenant, type, w.from, w.to, limit],
    );
    const n = num(rows[0]?.n ?? 0);
    return { total: Math.min(n, limit), more: n > limit, purged: num(rows[0]?.purged ?? 0), resolutions: num(rows[0]?.resolutions ?? 0) };
  }

  /**
   * One page of the window's unpurged decisions of `type` in (createdAt, id) order after `after`. The answer's fields
   * come from `answer` (the document without its trace, a few hundred bytes), parsed once per row by json_to_record
   * (one `->>` per field would parse it again for each); rows stored before that column, from the whole document. JSON values come back as text, whatever the driver (pg parses a
   * json column, PGlite may not).
   */
  async replayPage(
    em: SqlEntityManager,
    tenant: string,
    type: string,
    outputNames: readonly string[],
    w: ReplayWindow,
    pageSize: number,
    after?: { createdAt: string; id: string },
  ): Promise<ReplayRow[]> {
    for (const n of outputNames) if (!IDENTIFIER.test(n)) throw new Error(`output field name ${JSON.stringify(n)} is not an identifier`);
    const outputs = outputNames.map((n, i) => `, x."${n}"::text as o${i}`).join('');
    const columns = outputNames.map((n) => `, "${n}" json`).join('');
    // The platform's refunded-total entry, when the answer kept it (storedAnswer: it fired) or, for a row without an
    // answer, when the document's trace starts with it. Only that entry is sent: an engine's first entry is kilobytes.
    const firstTrace = `case when x.trace->0->>'source' = '${PLATFORM_TRACE_SOURCE}' then (x.trace->0)::text end`;
    const rows = await em.execute<Row[]>(
      `select d.id, to_char(d.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at, d.case_data::text as case_data, d.features::text as features, x.outcome, x.reasons::text as reasons, x."refundId" as refund_id, ${firstTrace} as first_trace${outputs}
       from decisions d
       cross join lateral json_to_record(coalesce(d.answer, d.document)) as x(outcome text, reasons json, "refundId" text, trace json${columns})
       where d.tenant = ? and d.domain = ? and d.created_at >= ? and d.created_at < ? and d.purged_at is null and d.erased_at is null and not ${RESOLUTION} ${after ? 'and (d.created_at, d.id) > (?::timestamptz, ?)' : ''}
       order by d.created_at, d.id limit ?`,
      after ? [tenant, type, w.from, w.to, after.createdAt, after.id, pageSize] : [tenant, type, w.from, w.to, pageSize],
    );
    const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    return rows.map((r) => ({
      id: String(r.id),
      createdAt: String(r.created_at),
      caseJson: String(r.case_data),
      featuresJson: text(r.features),
      outcome: String(r.outcome),
      reasonsJson: text(r.reasons),
      outputJson: outputNames.map((_, i) => text(r[`o${i}`])),
      refundId: typeof r.refund_id === 'string' ? r.refund_id : null,
      firstTraceJson: text(r.first_trace),
    }));
  }
}
