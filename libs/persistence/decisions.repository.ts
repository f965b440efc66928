/** Stored decisions: the case as received, the document as answered, and columns to list them by. */
import { raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import type { Actor } from '../audit/index.js';
import { appliedRefundedTotal } from '../refunds/index.js';
import { DecisionRecordSchema, type DecisionRecord } from './entities.js';
import { THEN_COMMIT } from './prepared-statements.js';
import { CompiledStatements, shapeKey, type SlotOf } from './compiled-statements.js';
import { historyInsertSql, type RecordedDecision } from './feature-history.repository.js';
import { pgTimestamp } from './timestamps.js';

export interface NewDecision {
  id: string;
  tenant: string;
  domain: string;
  outcome: string;
  riskScore: number | null;
  releaseName: string;
  releaseVersion: string;
  components: Record<string, string>;
  caseData: unknown;
  /** The type's feature values (libs/decisions StoredFeatures), null without features: kept when the case is purged. */
  features?: Record<string, unknown> | null;
  document: Record<string, unknown>;
  idempotencyKey: string | null;
  evaluatedAt: Date;
  createdAt: Date;
  /** Who asked for it (the key and its role), stored on the decision's own row by the statement that writes it. */
  actor: Actor;
}

/**
 * The document without its engine trace (a few hundred bytes instead of kilobytes), stored beside it in `answer`: a
 * replay reads the outcome, reasons and output fields from it without PostgreSQL parsing the whole document per row
 * (docs/benchmarks.md, replay). The trace's first entry stays when the rules saw a larger refunded total than the case
 * sent (appliedRefundedTotal, a refund lifecycle's): a replay re-applies it (replayEnrichment); otherwise the stored
 * case is what the rules saw. Order
 * amounts, no personal data, and kept by a purge (which leaves this column as it is). Rows written before the column
 * have none; readers fall back to the document. Answers stored before the entry was kept got it from their document
 * (Migration20261218000000_answer_platform_entry).
 */
export function storedAnswer(document: Record<string, unknown>): Record<string, unknown> {
  const { trace, ...answer } = document;
  const applied = appliedRefundedTotal(trace);
  return applied ? { ...answer, trace: [applied] } : answer;
}

export function answerJson(document: Record<string, unknown>): string {
  return JSON.stringify(storedAnswer(document));
}

/** The document's reason codes, each once: reasons are {code, …} objects, or plain codes (the gift-card types). */
export function reasonCodes(document: Record<string, unknown>): string[] {
  const reasons = document.reasons;
  if (!Array.isArray(reasons)) return [];
  const codes = reasons.map((r: unknown) => (typeof r === 'string' ? r : r !== null && typeof r === 'object' && typeof (r as { code?: unknown }).code === 'string' ? (r as { code: string }).code : undefined));
  return [...new Set(codes.filter((c): c is string => c !== undefined))];
}

/** A decision as its statements write it: the document serialized once, its answer and its reason codes beside it. */
export type StoredDecisionRow = Omit<NewDecision, 'document'> & { documentJson: string; answerJson: string; reasonCodes: readonly string[] };

/**
 * The insert of a decision's reason codes, its values read by `value` (the value itself, or a CompiledStatements
 * slot); as a CTE body, written only when `guard` (the CTE that inserted the decision) has a row, if given. Its text
 * depends on `guard` alone.
 */
export function reasonsInsertSql(value: <T>(get: (d: Pick<StoredDecisionRow, 'tenant' | 'id' | 'reasonCodes'>) => T) => T, guard?: string): RawBuilder<unknown> {
  return sql`insert into decision_reasons (tenant, code, decision_id)
    select ${value((d) => d.tenant)}, c, ${value((d) => d.id)}::uuid from jsonb_array_elements_text(${value((d) => JSON.stringify(d.reasonCodes))}::jsonb) c
     ${guard === undefined ? sql`` : sql`where exists (select 1 from ${sql.table(guard)})`}`;
}

export interface DecisionFilter {
  domain?: string;
  outcome?: string;
  from?: Date;
  to?: Date;
  /** The release the decision pinned. */
  release?: { name: string; version: string };
  /** One of the decision's reason codes. */
  reasonCode?: string;
}

export interface IdempotencyClaim {
  key: string;
  requestHash: string;
  method: string;
  path: string;
  status: number;
  contentType: string;
}

/** A decision with its `decision.created` event, as insertClaimed and insertDecided write it. */
export type ClaimedDecision = StoredDecisionRow & { event: { id: string; data: Record<string, unknown> } };

export class DecisionsRepository {
  /** insert's statement, compiled once with reason codes and once without. */
  private readonly insertStatements = new CompiledStatements<StoredDecisionRow>();
  /** insertClaimed's statement, compiled once with reason codes and once without. */
  private readonly claimedStatements = new CompiledStatements<{ d: ClaimedDecision; c: IdempotencyClaim }>();
  /** insertDecided's statement, compiled once per shape (last or not, history rows or not, reason codes or not). */
  private readonly decidedStatements = new CompiledStatements<{ d: ClaimedDecision; history?: RecordedDecision }>();

  /**
   * The hot path: claims the Idempotency-Key and inserts the decision in ONE parameterised statement (atomic without
   * an explicit transaction, one round trip). The answer is stored once, as `document` (a `json` column keeps the
   * exact text); the idempotency record points at it. A concurrent claim of the same key waits on the unique index,
   * then inserts nothing: `inserted` is false and the caller replays the stored answer. The `decision.created` event
   * goes to the outbox in the same statement.
   */
  async insertClaimed(em: SqlEntityManager, d: ClaimedDecision, c: IdempotencyClaim): Promise<boolean> {
    const db = em.getKysely();
    const shape = { reasons: d.reasonCodes.length > 0 };
    const result = await db.executeQuery(this.claimedStatements.bind(db, shapeKey(shape), { d, c }, (slot) => insertClaimedSql(shape.reasons, slot)));
    return Number(result.rows[0]?.inserted ?? 0) === 1;
  }

  /**
   * After the key's claim (FeatureHistoryRepository.claim, same transaction): the decision, its `decision.created`
   * event and its history rows (`history`, guarded by `inserted`) in one statement. With `last`, the transaction's
   * last statement: it commits the transaction in the same round trip (THEN_COMMIT).
   */
  async insertDecided(em: SqlEntityManager, d: ClaimedDecision, history?: RecordedDecision, o: { last?: boolean } = {}): Promise<void> {
    const db = em.getKysely();
    const shape = { last: o.last === true, history: history !== undefined, reasons: d.reasonCodes.length > 0 };
    await db.executeQuery(this.decidedStatements.bind(db, shapeKey(shape), { d, history }, (slot) => insertDecidedSql(shape, slot)));
  }

  /** id, type, outcome and time of these decisions (a refund's engine decision and the reviewers' linked ones), oldest first. */
  async summaries(em: SqlEntityManager, tenant: string, ids: readonly string[]): Promise<{ id: string; type: string; outcome: string; createdAt: Date; overrides: string | null }[]> {
    if (ids.length === 0) return [];
    const rows = await em.execute<Record<string, unknown>[]>(
      `select id, domain, outcome, created_at, document->>'overrides' as overrides from decisions where tenant = ? and id in (${ids.map(() => '?').join(', ')}) order by created_at, id`,
      [tenant, ...ids],
    );
    return rows.map((r) => ({ id: r.id as string, type: r.domain as string, outcome: r.outcome as string, createdAt: pgTimestamp(r.created_at), overrides: (r.overrides as string | null) ?? null }));
  }

  /**
   * The decision document exactly as first answered (the json column's text), or null. `underReview`: only a decision
   * that opened a review item (what a reviewer may read; any other is as missing to them).
   */
  async documentText(em: SqlEntityManager, tenant: string, id: string, o: { underReview?: boolean } = {}): Promise<string | null> {
    const rows = await em.execute<{ document: string }[]>(
      `select document::text as document from decisions where id = ? and tenant = ?${o.underReview ? ' and exists (select 1 from reviews r where r.tenant = decisions.tenant and r.decision_id = decisions.id)' : ''}`,
      [id, tenant],
    );
    return rows[0]?.document ?? null;
  }

  /**
   * A decision a command's effect makes beside its own writes (a redemption's gate, a reviewer's): the row and its
   * reason codes in one statement, compiled once with reason codes and once without. Not through the ORM's unit of
   * work: a redemption made one of these per call, and the flush's change-set work cost more than the statement.
   */
  async insert(em: SqlEntityManager, { document, ...d }: NewDecision): Promise<void> {
    const row: StoredDecisionRow = { ...d, documentJson: JSON.stringify(document), answerJson: answerJson(document), reasonCodes: reasonCodes(document) };
    const shape = { reasons: row.reasonCodes.length > 0 };
    const db = em.getKysely();
    await db.executeQuery(this.insertStatements.bind(db, shapeKey(shape), row, (slot) => insertDecisionSql(shape.reasons, slot)));
  }

  /** Another tenant's decision is indistinguishable from a missing one. */
  findById(em: SqlEntityManager, tenant: string, id: string): Promise<DecisionRecord | null> {
    return em.findOne(DecisionRecordSchema, { id, tenant });
  }

  /** Newest first; `after` is the last id of the previous page (ids are time-ordered UUIDv7). */
  list(em: SqlEntityManager, tenant: string, f: DecisionFilter, limit: number, after?: string): Promise<DecisionRecord[]> {
    const createdAt: Record<string, Date> = {};
    if (f.from) createdAt.$gte = f.from;
    if (f.to) createdAt.$lt = f.to;
    return em.find(
      DecisionRecordSchema,
      {
        tenant,
        ...(f.domain ? { domain: f.domain } : {}),
        ...(f.outcome ? { outcome: f.outcome } : {}),
        ...(f.release ? { releaseName: f.release.name, releaseVersion: f.release.version } : {}),
        // decision_reasons' primary key: a rare code is as quick as a common one.
        ...(f.reasonCode ? { [raw('id in (select decision_id from decision_reasons where tenant = ? and code = ?)', [tenant, f.reasonCode])]: true } : {}),
        ...(Object.keys(createdAt).length ? { createdAt } : {}),
        ...(after ? { id: { $lt: after } } : {}),
      },
      { orderBy: { id: 'desc' }, limit },
    );
  }
}

/**
 * A decision's row as a select list in DECISION_COLUMNS' order (every statement that inserts a decision: insert,
 * insertClaimed, insertDecided, the refund decision's write), its values read by `d`. Times go as ISO text: the
 * instant pg would send for a Date.
 */
export function decisionValues(d: <T>(get: (d: StoredDecisionRow) => T) => T): RawBuilder<unknown> {
  return sql`${d((x) => x.id)}, ${d((x) => x.tenant)}, ${d((x) => x.domain)}, ${d((x) => x.outcome)}, ${d((x) => x.riskScore)}, ${d((x) => x.releaseName)},
             ${d((x) => x.releaseVersion)}, ${d((x) => JSON.stringify(x.components))}::jsonb, ${d((x) => JSON.stringify(x.caseData))}::jsonb,
             ${d((x) => (x.features == null ? null : JSON.stringify(x.features)))}::jsonb, ${d((x) => x.documentJson)}::json, ${d((x) => x.answerJson)}::json,
             ${d((x) => x.idempotencyKey)}, ${d((x) => x.evaluatedAt.toISOString())}::timestamptz, ${d((x) => x.createdAt.toISOString())}::timestamptz,
             ${d((x) => x.actor.id)}, ${d((x) => x.actor.role)}`;
}

/** The columns decisionValues fills, in its order. */
export const DECISION_COLUMNS = sql.raw(`id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data,
                               features, document, answer, idempotency_key, evaluated_at, created_at, actor_id, actor_role`);

/** DecisionsRepository.insert's statement: the decision, and its reason rows when `reasons`; compiled once per shape. */
export function insertDecisionSql(reasons: boolean, d: SlotOf<StoredDecisionRow>): RawBuilder<unknown> {
  if (!reasons) return sql`insert into decisions (${DECISION_COLUMNS}) values (${decisionValues(d)})`;
  return sql`
    with inserted as (
      insert into decisions (${DECISION_COLUMNS})
      values (${decisionValues(d)})
      returning id
    ), reasoned as (${reasonsInsertSql(d, 'inserted')})
    select 1`;
}

/** DecisionsRepository.insertClaimed's statement, with reason rows when `reasons`; compiled once per shape. */
export function insertClaimedSql(reasons: boolean, value: SlotOf<{ d: ClaimedDecision; c: IdempotencyClaim }>): RawBuilder<{ inserted: number }> {
  const d = <T>(get: (d: ClaimedDecision) => T): T => value((a) => get(a.d));
  const c = <T>(get: (c: IdempotencyClaim) => T): T => value((a) => get(a.c));
  const tenant = d((x) => x.tenant);
  const createdAt = d((x) => x.createdAt.toISOString());
  return sql<{ inserted: number }>`
    with claim as (
      insert into idempotency_records (tenant, key, request_hash, method, path, status, content_type, body, decision_id, created_at)
      values (${tenant}, ${c((x) => x.key)}, ${c((x) => x.requestHash)}, ${c((x) => x.method)}, ${c((x) => x.path)}, ${c((x) => x.status)}, ${c((x) => x.contentType)},
              null, ${d((x) => x.id)}, ${createdAt}::timestamptz)
      on conflict (tenant, key) do nothing
      returning key
    ), inserted as (
      insert into decisions (${DECISION_COLUMNS})
      select ${decisionValues(d)}
      where exists (select 1 from claim)
      returning id
    ), event as (
      insert into outbox_events (id, tenant, type, occurred_at, data)
      select ${d((x) => x.event.id)}, ${tenant}, 'decision.created', ${createdAt}::timestamptz, ${d((x) => JSON.stringify(x.event.data))}::jsonb
      where exists (select 1 from inserted)
    )${reasons ? sql`, reasoned as (${reasonsInsertSql(d, 'inserted')})` : sql``}
    select count(*)::int as inserted from inserted`;
}

/** DecisionsRepository.insertDecided's statement of `shape`; compiled once per shape. */
export function insertDecidedSql(shape: { last: boolean; history: boolean; reasons: boolean }, value: SlotOf<{ d: ClaimedDecision; history?: RecordedDecision }>): RawBuilder<unknown> {
  const d = <T>(get: (d: ClaimedDecision) => T): T => value((a) => get(a.d));
  return sql`${shape.last ? sql.raw(THEN_COMMIT) : sql``}
    with inserted as (
      insert into decisions (${DECISION_COLUMNS})
      values (${decisionValues(d)})
      returning id
    ), event as (
      insert into outbox_events (id, tenant, type, occurred_at, data)
      select ${d((x) => x.event.id)}, ${d((x) => x.tenant)}, 'decision.created', ${d((x) => x.createdAt.toISOString())}::timestamptz, ${d((x) => JSON.stringify(x.event.data))}::jsonb
      where exists (select 1 from inserted)
    )${shape.history ? sql`, recorded as (${historyInsertSql((get) => value((a) => get(a.history!)), 'inserted')})` : sql``}${shape.reasons ? sql`, reasoned as (${reasonsInsertSql(d, 'inserted')})` : sql``}
    select 1`;
}
