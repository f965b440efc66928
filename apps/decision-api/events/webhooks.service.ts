/** Webhook endpoints of a tenant (api-contract.md §9): register, list, delete, read the delivery log, redeliver. */
import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { EVENT_TYPES, newSecret } from '../../../libs/events/index.js';
import { isUuid } from '../../../libs/names/index.js';
import { AuditRepository, EventsRepository, type Clock, type Database, type Principal, type WebhookDelivery, type WebhookEndpoint } from '../../../libs/persistence/index.js';
import { auditEntry } from '../audit/audit-entry.js';
import { created, done, transactional } from '../commands/command.js';
import { decodeCursor, decodeIdCursor, encodeCursor, encodeIdCursor } from '../http/cursor.js';
import { QueryParser } from '../http/query.js';
import { CLOCK, DATABASE } from '../tokens.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

export const webhookSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'events'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://\\S+$' },
    // Items typed as strings: ajv then checks uniqueItems with a hash, in linear time; untyped it compares every pair, and
    // a 1 MiB body of distinct strings held the event loop for about a minute.
    events: { type: 'array', minItems: 1, maxItems: EVENT_TYPES.length, uniqueItems: true, items: { type: 'string', enum: EVENT_TYPES } },
  },
} as const;
const webhookInput = new SchemaValidator<{ url: string; events: string[] }>(webhookSchema, 'Webhook');

const endpointView = (e: WebhookEndpoint) => ({ id: e.id, url: e.url, events: e.events, createdAt: e.createdAt.toISOString() });

const deliveryView = (d: WebhookDelivery) => ({
  id: d.id,
  eventId: d.eventId,
  type: d.type,
  sequence: d.sequence,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
  lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  createdAt: d.createdAt.toISOString(),
});

const notFound = () => new DomainError('WEBHOOK_NOT_FOUND', 'No such webhook', 'not_found');

@Injectable()
export class WebhooksService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: EventsRepository,
    private readonly dispatcher: WebhookDispatcher,
    private readonly audit: AuditRepository,
  ) {}

  /**
   * The secret is in the answer, which the idempotency record stores and replays: it is kept in clear anyway (the
   * service signs with it), so the stored answer reveals nothing the table does not.
   */
  create(principal: Principal, body: unknown) {
    const input = webhookInput.validate(body);
    let url: URL | undefined;
    try {
      url = new URL(input.url);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || !url.hostname) {
      throw new DomainError('VALIDATION_FAILED', 'Webhook is invalid: 1 problem(s)', 'invalid', [{ path: '/url', message: 'must be an absolute http or https URL' }]);
    }
    return transactional(async ({ em, now }) => {
      const secret = newSecret((n) => randomBytes(n));
      const e = await this.repo.createEndpoint(em, { tenant: principal.tenant, url: input.url, events: input.events, secret, createdBy: principal.keyId, now });
      await this.audit.append(em, auditEntry(principal, 'admin', now, 'webhook.registered', 'webhook', e.id, { url: input.url, events: input.events }));
      return created({ ...endpointView(e), secret });
    });
  }

  async list(principal: Principal, query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    const after = cursor === undefined ? undefined : decodeIdCursor(cursor);
    const rows = await this.repo.listEndpoints(this.db.em(), principal.tenant, limit + 1, after);
    const page = rows.slice(0, limit);
    return { items: page.map(endpointView), nextCursor: rows.length > limit ? encodeIdCursor(page.at(-1)!.id) : null };
  }

  /** Stops deliveries at once: what the endpoint was still owed is canceled (its log stays in the table). */
  async delete(principal: Principal, id: string): Promise<void> {
    if (!isUuid(id)) throw notFound();
    const now = this.clock.now();
    const deleted = await this.db.em().transactional(async (em) => {
      if (!(await this.repo.deleteEndpoint(em, principal.tenant, id, now))) return false;
      await this.audit.append(em, auditEntry(principal, 'admin', now, 'webhook.deleted', 'webhook', id, {}));
      return true;
    });
    if (!deleted) throw notFound();
  }

  /** Newest first by event sequence; the cursor is the last sequence served. */
  async deliveries(principal: Principal, id: string, query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    const before = cursor === undefined ? undefined : decodeCursor(cursor, (v) => (Number.isSafeInteger(v.before) ? (v.before as number) : undefined));
    const em = this.db.em();
    if (!isUuid(id) || !(await this.repo.findEndpoint(em, principal.tenant, id))) throw notFound();
    const rows = await this.repo.listDeliveries(em, id, limit + 1, before);
    const page = rows.slice(0, limit);
    return { items: page.map(deliveryView), nextCursor: rows.length > limit ? encodeCursor({ before: page.at(-1)!.sequence }) : null };
  }

  /** Sends the event again now (see EventsRepository.redeliver for where it goes in the endpoint's order). */
  redeliver(principal: Principal, id: string, deliveryId: string) {
    return transactional(
      async ({ em, now }) => {
        // Locked as deleteEndpoint locks it: a redelivery cannot make a delivery pending again on a deleted endpoint.
        if (!isUuid(id) || !(await this.repo.findEndpoint(em, principal.tenant, id, true))) throw notFound();
        const d = isUuid(deliveryId) ? await this.repo.redeliver(em, id, deliveryId, now) : undefined;
        if (!d) throw new DomainError('DELIVERY_NOT_FOUND', 'No such delivery of this webhook', 'not_found');
        await this.audit.append(em, auditEntry(principal, 'admin', now, 'webhook.redelivered', 'webhook', id, { delivery: deliveryId }));
        return done(deliveryView(d));
      },
      { afterCommit: () => this.dispatcher.kick() },
    );
  }
}
