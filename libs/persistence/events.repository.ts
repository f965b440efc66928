/**
 * The relay's side of the outbox (numbering events per tenant and fanning them out to webhook deliveries), webhook
 * endpoints and their delivery log, and the NATS publication state. Arrays travel as JSON text (jsonb_to_recordset):
 * the same SQL runs on PostgreSQL and PGlite.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { NumberedEvent } from '../events/index.js';
import { rowDate, rowJson, rowText, type Row } from './catalogue.repository.js';
import { uuidv7Ids, type IdFactory } from './clock.js';

/** Only one relay numbers events at a time, across every instance (any constant unique to this service). */
const RELAY_LOCK = 0x6f757462; // 'outb'

export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  events: string[];
  createdBy: string;
  createdAt: Date;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'canceled';

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  sequence: number;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/**
 * What an instance has claimed (leased) for one endpoint: its head and the pending deliveries after it, in sequence
 * order, to send one after the other while the lease lasts.
 */
export interface ClaimedRun {
  endpointId: string;
  url: string;
  secret: string;
  /** `redeliveries`: how many redeliveries had been asked for when the run claimed it (finishRun compares). */
  deliveries: { id: string; attempts: number; redeliveries: number; event: NumberedEvent }[];
}

/**
 * How a run ended: what was accepted, the attempt that failed (if one did), and what was not tried (released); each
 * attempted delivery with the `redeliveries` its claim saw.
 */
export interface RunResult {
  delivered: { id: string; statusCode: number; redeliveries: number }[];
  failed?: { id: string; statusCode: number | null; error: string; retryAt: Date; redeliveries: number };
  released: string[];
  now: Date;
}

const endpointOf = (r: Row): WebhookEndpoint => ({
  id: String(r.id),
  tenant: String(r.tenant),
  url: String(r.url),
  events: rowJson<string[]>(r.events),
  createdBy: String(r.created_by),
  createdAt: rowDate(r.created_at),
});

const optDate = (v: unknown): Date | null => (v === null || v === undefined ? null : rowDate(v));

const deliveryOf = (r: Row): WebhookDelivery => ({
  id: String(r.id),
  endpointId: String(r.endpoint_id),
  eventId: String(r.event_id),
  sequence: Number(r.sequence),
  type: String(r.type),
  status: String(r.status) as DeliveryStatus,
  attempts: Number(r.attempts),
  nextAttemptAt: r.status === 'pending' ? optDate(r.next_attempt_at) : null,
  lastAttemptAt: optDate(r.last_attempt_at),
  lastStatusCode: r.last_status_code === null || r.last_status_code === undefined ? null : Number(r.last_status_code),
  lastError: rowText(r.last_error),
  deliveredAt: optDate(r.delivered_at),
  createdAt: rowDate(r.created_at),
});

const eventOf = (r: Row): NumberedEvent => ({
  id: String(r.event_id ?? r.id),
  type: String(r.type),
  tenant: String(r.tenant),
  sequence: Number(r.sequence),
  occurredAt: rowDate(r.occurred_at),
  data: rowJson<Record<string, unknown>>(r.data),
});

const DELIVERY = `d.id, d.endpoint_id, d.event_id, d.sequence, d.type, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
  d.last_status_code, d.last_error, d.delivered_at, d.created_at`;

export class EventsRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /**
   * One relay step, in `em`'s transaction: unless another instance's relay holds the lock (→ null), numbers up to
   * `limit` unnumbered events in position order — each tenant's next sequence is its max + 1, so sequences have no gaps
   * — and hands them to the sinks: a pending delivery for every live endpoint of the tenant subscribed to the type,
   * and the NATS mark when NATS is configured. An event appears to a sink exactly when it is numbered.
   */
  async relayBatch(em: SqlEntityManager, o: { limit: number; nats: boolean; now: Date }): Promise<NumberedEvent[] | null> {
    const [lock] = await em.execute<Row[]>('select pg_try_advisory_xact_lock(?) as ok', [RELAY_LOCK]);
    if (lock?.ok !== true) return null;
    const rows = await em.execute<Row[]>(
      'select position, id, tenant, type, occurred_at, data from outbox_events where sequence is null order by position limit ?',
      [o.limit],
    );
    if (rows.length === 0) return [];
    const tenants = [...new Set(rows.map((r) => String(r.tenant)))];
    const heads = await em.execute<Row[]>(
      `select t.tenant, coalesce((select max(o.sequence) from outbox_events o where o.tenant = t.tenant), 0) as head
       from jsonb_array_elements_text(?::jsonb) as t(tenant)`,
      [JSON.stringify(tenants)],
    );
    const next = new Map(heads.map((h) => [String(h.tenant), Number(h.head)]));
    const events = rows.map((r): NumberedEvent & { position: number } => {
      const sequence = next.get(String(r.tenant))! + 1;
      next.set(String(r.tenant), sequence);
      return { ...eventOf({ ...r, sequence }), position: Number(r.position) };
    });
    await em.execute(
      `update outbox_events o set sequence = v.sequence, published_at = ?, nats_pending = ?
       from jsonb_to_recordset(?::jsonb) as v(position bigint, sequence bigint) where o.position = v.position`,
      [o.now, o.nats, JSON.stringify(events.map((e) => ({ position: e.position, sequence: e.sequence })))],
    );
    // `for share`: an endpoint deleted meanwhile waits for this batch (or this batch sees it deleted), so deleting one
    // cancels every delivery it will ever have.
    const endpoints = await em.execute<Row[]>(
      `select id, tenant, events from webhook_endpoints
       where deleted_at is null and tenant in (select jsonb_array_elements_text(?::jsonb)) for share`,
      [JSON.stringify(tenants)],
    );
    const deliveries = events.flatMap((e) =>
      endpoints
        .filter((ep) => String(ep.tenant) === e.tenant && rowJson<string[]>(ep.events).includes(e.type))
        .map((ep) => ({ id: this.ids.next(o.now), tenant: e.tenant, endpoint_id: String(ep.id), event_id: e.id, sequence: e.sequence, type: e.type })),
    );
    if (deliveries.length) {
      await em.execute(
        `insert into webhook_deliveries (id, tenant, endpoint_id, event_id, sequence, type, status, next_attempt_at, created_at)
         select v.id, v.tenant, v.endpoint_id, v.event_id, v.sequence, v.type, 'pending', ?, ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, tenant text, endpoint_id uuid, event_id uuid, sequence bigint, type text)`,
        [o.now, o.now, JSON.stringify(deliveries)],
      );
    }
    return events.map(({ position: _position, ...e }) => e);
  }

  // --- webhook endpoints -------------------------------------------------------------------------------------------

  async createEndpoint(em: SqlEntityManager, e: { tenant: string; url: string; events: string[]; secret: string; createdBy: string; now: Date }): Promise<WebhookEndpoint> {
    const rows = await em.execute<Row[]>(
      `insert into webhook_endpoints (id, tenant, url, events, secret, created_by, created_at) values (?, ?, ?, ?::jsonb, ?, ?, ?)
       returning id, tenant, url, events, created_by, created_at`,
      [this.ids.next(e.now), e.tenant, e.url, JSON.stringify(e.events), e.secret, e.createdBy, e.now],
    );
    return endpointOf(rows[0]!);
  }

  /** Live endpoints of the tenant by id, after `after`. */
  async listEndpoints(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<WebhookEndpoint[]> {
    const rows = await em.execute<Row[]>(
      `select id, tenant, url, events, created_by, created_at from webhook_endpoints
       where tenant = ? and deleted_at is null ${after ? 'and id > ?' : ''} order by id limit ?`,
      after ? [tenant, after, limit] : [tenant, limit],
    );
    return rows.map(endpointOf);
  }

  async findEndpoint(em: SqlEntityManager, tenant: string, id: string, forUpdate = false): Promise<WebhookEndpoint | undefined> {
    const rows = await em.execute<Row[]>(
      `select id, tenant, url, events, created_by, created_at from webhook_endpoints where tenant = ? and id = ? and deleted_at is null
       ${forUpdate ? 'for update' : ''}`,
      [tenant, id],
    );
    return rows[0] && endpointOf(rows[0]);
  }

  /** Whether the endpoint still exists (not deleted); any tenant's: the dispatcher asks during a run. */
  async endpointLive(em: SqlEntityManager, id: string): Promise<boolean> {
    const rows = await em.execute<Row[]>('select 1 as live from webhook_endpoints where id = ? and deleted_at is null', [id]);
    return rows.length > 0;
  }

  /** Deletes the endpoint (kept for its log) and cancels what it was still owed; false when there was none. */
  async deleteEndpoint(em: SqlEntityManager, tenant: string, id: string, now: Date): Promise<boolean> {
    if (!(await this.findEndpoint(em, tenant, id, true))) return false;
    await em.execute('update webhook_endpoints set deleted_at = ? where id = ?', [now, id]);
    await em.execute(`update webhook_deliveries set status = 'canceled', lease_until = null where endpoint_id = ? and status = 'pending'`, [id]);
    return true;
  }

  // --- delivery log ------------------------------------------------------------------------------------------------

  /** Newest first (by event sequence), before `before`. */
  async listDeliveries(em: SqlEntityManager, endpointId: string, limit: number, before?: number): Promise<WebhookDelivery[]> {
    const rows = await em.execute<Row[]>(
      `select ${DELIVERY} from webhook_deliveries d where d.endpoint_id = ? ${before === undefined ? '' : 'and d.sequence < ?'}
       order by d.sequence desc limit ?`,
      before === undefined ? [endpointId, limit] : [endpointId, before, limit],
    );
    return rows.map(deliveryOf);
  }

  async findDelivery(em: SqlEntityManager, endpointId: string, id: string, forUpdate = false): Promise<WebhookDelivery | undefined> {
    const rows = await em.execute<Row[]>(`select ${DELIVERY} from webhook_deliveries d where d.endpoint_id = ? and d.id = ? ${forUpdate ? 'for update' : ''}`, [
      endpointId,
      id,
    ]);
    return rows[0] && deliveryOf(rows[0]);
  }

  /**
   * Sends the delivery again: it becomes pending and due now and, having the lowest sequence of what the endpoint is
   * owed, goes before anything later (order per endpoint holds). One that a run holds (being sent, or claimed and not
   * yet sent) is sent once more after that run, whatever its result (finishRun sees `redeliveries` moved): at least
   * once, so a redelivery asked for just before the run's attempt of it gets two.
   */
  async redeliver(em: SqlEntityManager, endpointId: string, id: string, now: Date): Promise<WebhookDelivery | undefined> {
    const rows = await em.execute<Row[]>(
      `update webhook_deliveries d set status = 'pending', next_attempt_at = ?, redeliveries = d.redeliveries + 1
       where d.endpoint_id = ? and d.id = ? and d.status <> 'canceled'
       returning ${DELIVERY}`,
      [now, endpointId, id],
    );
    return rows[0] && deliveryOf(rows[0]);
  }

  // --- the dispatcher ----------------------------------------------------------------------------------------------

  /**
   * Whether some live endpoint's head is due and unleased now: what claimDue would find, read without locking or
   * leasing anything (one index probe per live endpoint). The dispatcher asks it before it starts its worker.
   */
  async anyDue(em: SqlEntityManager, now: Date): Promise<boolean> {
    return (await dueHeads(em, now, [], 1)).length > 0;
  }

  /**
   * For up to `limit` endpoints not in `busy` whose head (lowest pending sequence) is due and unleased, leases the head
   * and up to `run` - 1 pending deliveries after it until `leaseUntil`. The endpoint row is locked (skip locked) while
   * claiming, so two instances never split one endpoint's run between them: an endpoint's events are sent by one
   * instance at a time, in order, and a failing head holds back that endpoint only.
   */
  async claimDue(em: SqlEntityManager, o: { now: Date; leaseUntil: Date; busy: string[]; limit: number; run: number }): Promise<ClaimedRun[]> {
    const heads = await dueHeads(em, o.now, o.busy, o.limit);
    if (heads.length === 0) return [];
    const locked = await em.execute<Row[]>(
      `select id, url, secret from webhook_endpoints where id in (select (jsonb_array_elements_text(?::jsonb))::uuid) and deleted_at is null
       for update skip locked`,
      [JSON.stringify(heads.map((h) => String(h.id)))],
    );
    const runs: ClaimedRun[] = [];
    for (const ep of locked) {
      // Re-read under the endpoint's lock: another instance may have claimed the head since the first query.
      const rows = await em.execute<Row[]>(
        `select d.id, d.attempts, d.redeliveries, d.next_attempt_at, d.lease_until, o.id as event_id, o.tenant, o.type, o.sequence, o.occurred_at, o.data
         from webhook_deliveries d join outbox_events o on o.id = d.event_id
         where d.endpoint_id = ? and d.status = 'pending' order by d.sequence limit ?`,
        [ep.id, o.run],
      );
      const head = rows[0];
      if (!head || rowDate(head.next_attempt_at) > o.now) continue;
      // A run elsewhere holds the head, or the deliveries after a redelivered head: the endpoint waits for it (one sender
      // at a time).
      const held = await em.execute<Row[]>(
        `select 1 as held from webhook_deliveries where endpoint_id = ? and status = 'pending' and lease_until is not null and lease_until >= ? limit 1`,
        [ep.id, o.now],
      );
      if (held.length > 0) continue;
      await em.execute(
        `update webhook_deliveries set lease_until = ? where id in (select (jsonb_array_elements_text(?::jsonb))::uuid)`,
        [o.leaseUntil, JSON.stringify(rows.map((r) => String(r.id)))],
      );
      runs.push({
        endpointId: String(ep.id),
        url: String(ep.url),
        secret: String(ep.secret),
        deliveries: rows.map((r) => ({ id: String(r.id), attempts: Number(r.attempts), redeliveries: Number(r.redeliveries), event: eventOf(r) })),
      });
    }
    return runs;
  }

  /**
   * Records a run's outcome; a delivery canceled meanwhile (endpoint deleted) stays canceled. An attempt is recorded
   * either way, but a delivery redelivered since the claim stays pending and due when its redelivery asked for it.
   */
  async finishRun(em: SqlEntityManager, r: RunResult): Promise<void> {
    if (r.delivered.length) {
      await em.execute(
        `update webhook_deliveries d set status = case when d.redeliveries = v.redeliveries then 'delivered' else 'pending' end, delivered_at = ?,
           last_attempt_at = ?, attempts = d.attempts + 1, last_status_code = v.code, last_error = null, lease_until = null
         from jsonb_to_recordset(?::jsonb) as v(id uuid, code integer, redeliveries integer) where d.id = v.id and d.status = 'pending'`,
        [r.now, r.now, JSON.stringify(r.delivered.map((x) => ({ id: x.id, code: x.statusCode, redeliveries: x.redeliveries })))],
      );
    }
    if (r.failed) {
      await em.execute(
        `update webhook_deliveries set attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = case when redeliveries = ? then ? else next_attempt_at end,
           last_status_code = ?, last_error = ?, lease_until = null
         where id = ? and status = 'pending'`,
        [r.now, r.failed.redeliveries, r.failed.retryAt, r.failed.statusCode, r.failed.error.slice(0, 1000), r.failed.id],
      );
    }
    if (r.released.length) {
      await em.execute('update webhook_deliveries set lease_until = null where id in (select (jsonb_array_elements_text(?::jsonb))::uuid)', [
        JSON.stringify(r.released),
      ]);
    }
  }

  // --- NATS --------------------------------------------------------------------------------------------------------

  /** Numbered events JetStream has not acknowledged yet, in sequence order per tenant. */
  async natsPending(em: SqlEntityManager, limit: number): Promise<NumberedEvent[]> {
    const rows = await em.execute<Row[]>(
      'select id, tenant, type, sequence, occurred_at, data from outbox_events where nats_pending order by tenant, sequence limit ?',
      [limit],
    );
    return rows.map(eventOf);
  }

  async natsPublished(em: SqlEntityManager, ids: string[], now: Date): Promise<void> {
    if (ids.length === 0) return;
    await em.execute(
      'update outbox_events set nats_pending = false, nats_published_at = ? where id in (select (jsonb_array_elements_text(?::jsonb))::uuid)',
      [now, JSON.stringify(ids)],
    );
  }
}

/** Live endpoints not in `busy` whose head (lowest pending sequence) is due and unleased at `now`, up to `limit`. */
function dueHeads(em: SqlEntityManager, now: Date, busy: readonly string[], limit: number): Promise<Row[]> {
  // One index probe per live endpoint (its head), however long a dead endpoint's backlog has grown.
  return em.execute<Row[]>(
    `select e.id from webhook_endpoints e
     cross join lateral (
       select d.next_attempt_at, d.lease_until from webhook_deliveries d
       where d.endpoint_id = e.id and d.status = 'pending' order by d.sequence limit 1
     ) h
     where e.deleted_at is null and h.next_attempt_at <= ? and (h.lease_until is null or h.lease_until < ?)
       and e.id not in (select (jsonb_array_elements_text(?::jsonb))::uuid)
     limit ?`,
    [now, now, JSON.stringify(busy), limit],
  );
}
