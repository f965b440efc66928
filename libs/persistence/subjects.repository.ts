/**
 * A data subject's decisions (the customer of a case): found through the platform's history, where each decision's
 * customer key is stored as the case holds it (the tenant's pseudonym when the type marks the field x-pii), and
 * erased on request (right to erasure).
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { DecisionFilter } from './decisions.repository.js';
import { entityLockId } from './feature-history.repository.js';
import { pgTimestampOrNull } from './timestamps.js';

/** What an erased refund's customer_id becomes: not the subject's id nor its pseudonym, the same for every subject. */
export const ERASED_CUSTOMER = 'erased';

/** The history's entity a subject's decisions are recorded under. */
const CUSTOMER = 'customer';

/** The subject's decisions: those whose history names one of `keys` as the customer. */
const SUBJECT_DECISIONS = `select e.decision_id from feature_events e
  where e.tenant = ? and e.entity = '${CUSTOMER}' and e.key = any(array(select jsonb_array_elements_text(?::jsonb))) and e.decision_id is not null`;

export interface SubjectDecision {
  id: string;
  type: string;
  caseData: Record<string, unknown> | null;
  release: { name: string; version: string; components: Record<string, string> };
  erasedAt: Date | null;
}

export class SubjectsRepository {
  /** Newest first, as GET /v1/decisions lists: `after` is the last id of the previous page. */
  async listDecisions(em: SqlEntityManager, tenant: string, keys: readonly string[], f: DecisionFilter, limit: number, after?: string): Promise<{ id: string; document: Record<string, unknown>; actorId: string | null; actorRole: string | null }[]> {
    const where: string[] = [];
    const params: unknown[] = [tenant, tenant, JSON.stringify(keys)];
    const add = (clause: string, v: unknown) => {
      where.push(clause);
      params.push(v);
    };
    if (f.domain) add('d.domain = ?', f.domain);
    if (f.outcome) add('d.outcome = ?', f.outcome);
    if (f.release) {
      add('d.release_name = ?', f.release.name);
      add('d.release_version = ?', f.release.version);
    }
    if (f.reasonCode) add('d.id in (select r.decision_id from decision_reasons r where r.tenant = d.tenant and r.code = ?)', f.reasonCode);
    if (f.from) add('d.created_at >= ?', f.from);
    if (f.to) add('d.created_at < ?', f.to);
    if (after) add('d.id < ?', after);
    params.push(limit);
    const rows = await em.execute<{ id: string; document: string; actor_id: string | null; actor_role: string | null }[]>(
      `select d.id, d.document::text as document, d.actor_id, d.actor_role from decisions d
        where d.tenant = ? and d.id in (${SUBJECT_DECISIONS}) ${where.map((w) => `and ${w}`).join(' ')}
        order by d.id desc limit ?`,
      params,
    );
    return rows.map((r) => ({ id: r.id, document: JSON.parse(r.document) as Record<string, unknown>, actorId: r.actor_id, actorRole: r.actor_role }));
  }

  /**
   * Takes the advisory locks a decision about this customer takes (feature-history.repository.ts entityLockId), in
   * ascending order: an erasure waits for decisions of the subject in flight, they wait for it, and two erasures of
   * one subject run one after the other. Hold them for the transaction.
   */
  async lockSubject(em: SqlEntityManager, tenant: string, keys: readonly string[]): Promise<void> {
    const ids = [...new Set(keys.map((k) => entityLockId(tenant, CUSTOMER, k)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await em.execute(`select count(pg_advisory_xact_lock(k::bigint)) from jsonb_array_elements_text(?::jsonb) k`, [JSON.stringify(ids.map(String))]);
  }

  /**
   * The subject's decisions, locked (FOR UPDATE, in id order): those its history names, and the deciding decisions of
   * refunds whose customer_id is one of `keys` (types that record no history).
   */
  async lockDecisions(em: SqlEntityManager, tenant: string, keys: readonly string[]): Promise<SubjectDecision[]> {
    const rows = await em.execute<{ id: string; domain: string; case_data: unknown; release: string; erased_at: string | Date | null }[]>(
      `select d.id, d.domain, d.case_data, (d.document -> 'release')::text as release, d.erased_at from decisions d
        where d.tenant = ? and (d.id in (${SUBJECT_DECISIONS})
           or d.id in (select r.decision_id from refunds r where r.tenant = ? and r.customer_id = any(array(select jsonb_array_elements_text(?::jsonb)))))
        order by d.id for update`,
      [tenant, tenant, JSON.stringify(keys), tenant, JSON.stringify(keys)],
    );
    return rows.map((r) => ({
      id: r.id,
      type: r.domain,
      // A jsonb column: parsed by pg, text on PGlite.
      caseData: (typeof r.case_data === 'string' ? JSON.parse(r.case_data) : r.case_data) as Record<string, unknown> | null,
      release: JSON.parse(r.release) as SubjectDecision['release'],
      erasedAt: pgTimestampOrNull(r.erased_at),
    }));
  }

  /** Writes each decision's erased case and stamps erased_at; a decision already erased is left alone. Returns how many. */
  async eraseDecisions(em: SqlEntityManager, erased: readonly { id: string; caseData: Record<string, unknown> | null }[], now: Date): Promise<number> {
    if (erased.length === 0) return 0;
    const rows = await em.execute<{ id: string }[]>(
      `update decisions d set case_data = v.case_data, erased_at = ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, case_data jsonb)
        where d.id = v.id and d.erased_at is null
        returning d.id`,
      [now, JSON.stringify(erased.map((e) => ({ id: e.id, case_data: e.caseData })))],
    );
    return rows.length;
  }

  /** Deletes the subject's history: its customer rows, and every row of its decisions (their device, account rows). */
  async deleteHistory(em: SqlEntityManager, tenant: string, keys: readonly string[], decisionIds: readonly string[]): Promise<number> {
    const rows = await em.execute<{ n: number | string }[]>(
      `with gone as (
         delete from feature_events
          where tenant = ? and ((entity = '${CUSTOMER}' and key = any(array(select jsonb_array_elements_text(?::jsonb))))
                or decision_id = any(array(select (jsonb_array_elements_text(?::jsonb))::uuid)))
         returning 1)
       select count(*) as n from gone`,
      [tenant, JSON.stringify(keys), JSON.stringify(decisionIds)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Replaces the subject's customer id on its refunds by ERASED_CUSTOMER; returns how many. */
  async eraseRefunds(em: SqlEntityManager, tenant: string, keys: readonly string[]): Promise<number> {
    const rows = await em.execute<{ refund_id: string }[]>(
      `update refunds set customer_id = ? where tenant = ? and customer_id = any(array(select jsonb_array_elements_text(?::jsonb))) returning refund_id`,
      [ERASED_CUSTOMER, tenant, JSON.stringify(keys)],
    );
    return rows.length;
  }
}
