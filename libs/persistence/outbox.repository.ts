/**
 * The transactional outbox: an event is written in the same transaction as the change it reports, so it exists
 * exactly when the change does. The relay numbers and delivers events later (webhooks, NATS).
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import { uuidv7Ids, type IdFactory } from './clock.js';

export interface NewEvent {
  tenant: string;
  /** `decision.created`, `refund.state_changed`, `review.created`, … */
  type: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

export class OutboxRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /** The id an event occurring at `occurredAt` gets, for a caller that writes the row itself (in a statement of its own). */
  nextId(occurredAt: Date): string {
    return this.ids.next(occurredAt);
  }

  /** Appends the event inside `em`'s transaction; its id is stable from here on (receivers de-duplicate by it). */
  async append(em: SqlEntityManager, e: NewEvent): Promise<string> {
    const id = this.ids.next(e.occurredAt);
    await outboxInsertSql({ id, tenant: e.tenant, type: e.type, occurredAt: e.occurredAt.toISOString(), data: JSON.stringify(e.data) }).execute(em.getKysely());
    return id;
  }
}

/** An event as its insert sends it: the time as ISO 8601 text, the data as JSON text. */
export interface OutboxRow {
  id: string;
  tenant: string;
  type: string;
  occurredAt: string;
  data: string;
}

/**
 * One event's insert: append()'s statement, or a CTE body of a larger one (an event then costs no round trip of its own). Each field
 * is the value itself, or a CompiledStatements slot standing in for it (a refund's state change compiles once).
 */
export function outboxInsertSql(e: OutboxRow): RawBuilder<unknown> {
  return sql`insert into outbox_events (id, tenant, type, occurred_at, data)
      values (${e.id}::uuid, ${e.tenant}, ${e.type}, ${e.occurredAt}::timestamptz, ${e.data}::jsonb)`;
}
