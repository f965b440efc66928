/** Stored decisions: the case as received, the document as answered, and columns to list them by. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DecisionRecordSchema, type DecisionRecord } from './entities.js';

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
  document: Record<string, unknown>;
  idempotencyKey: string | null;
  evaluatedAt: Date;
  createdAt: Date;
}

export interface DecisionFilter {
  domain?: string;
  outcome?: string;
  from?: Date;
  to?: Date;
}

export class DecisionsRepository {
  async insert(em: SqlEntityManager, d: NewDecision): Promise<void> {
    em.create(DecisionRecordSchema, d);
    await em.flush();
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
        ...(Object.keys(createdAt).length ? { createdAt } : {}),
        ...(after ? { id: { $lt: after } } : {}),
      },
      { orderBy: { id: 'desc' }, limit },
    );
  }
}
