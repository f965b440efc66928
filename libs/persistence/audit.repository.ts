/** Append-only audit log of who did what to which object. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { AuditEntrySchema } from './entities.js';
import { uuidv7Ids, type IdFactory } from './clock.js';

export interface AuditInput {
  tenant: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
  at: Date;
}

export interface AuditRecord extends AuditInput {
  id: string;
}

export class AuditRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  async append(em: SqlEntityManager, e: AuditInput): Promise<void> {
    em.create(AuditEntrySchema, { id: this.ids.next(e.at), ...e });
    await em.flush();
  }

  /** Newest first; `after` is the last id of the previous page (ids are time-ordered UUIDv7). */
  async list(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<AuditRecord[]> {
    const rows = await em.find(AuditEntrySchema, { tenant, ...(after ? { id: { $lt: after } } : {}) }, { orderBy: { id: 'desc' }, limit });
    return rows.map((r) => ({
      id: r.id,
      tenant: r.tenant,
      actor: r.actor,
      action: r.action,
      subjectType: r.subjectType,
      subjectId: r.subjectId,
      details: r.details,
      at: r.at,
    }));
  }
}
