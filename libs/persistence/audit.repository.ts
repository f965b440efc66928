/** Append-only audit log of who did what to which object. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { AuditEntrySchema } from './entities.js';
import { uuidv7 } from './ids.js';

export interface AuditInput {
  tenant: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
  at: Date;
}

export class AuditRepository {
  async append(em: SqlEntityManager, e: AuditInput): Promise<void> {
    em.create(AuditEntrySchema, { id: uuidv7(e.at.getTime()), ...e });
    await em.flush();
  }
}
