/**
 * A tenant's admin manages the tenant's API keys (api-contract.md §10): lists them (never the key or its hash),
 * revokes one, or rotates one (a successor with the same name, roles and approval limit; the old key keeps working for
 * an overlap). Another tenant's key id is answered like a missing one: 404. An admin may revoke or rotate its own key.
 */
import { Inject, Injectable } from '@nestjs/common';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { isUuid } from '../../../libs/names/index.js';
import { keyActor } from '../../../libs/audit/index.js';
import { ApiKeysRepository, AuditRepository, type ApiKeyRecord, type Database, type Principal } from '../../../libs/persistence/index.js';
import { ApiKeyCache } from '../auth/key-cache.js';
import { createdWithSecret, done, transactional, unchanged, type TransactionalCommand } from '../commands/command.js';
import type { AppConfig } from '../config.js';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';

export interface ApiKeyView {
  id: string;
  name: string;
  roles: string[];
  createdAt: string;
  revokedAt: string | null;
  expiresAt: string | null;
  approvalLimit: number | null;
  rotatedFrom: string | null;
}

export const keyView = (k: ApiKeyRecord): ApiKeyView => ({
  id: k.id,
  name: k.name,
  roles: k.roles,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
  expiresAt: k.expiresAt?.toISOString() ?? null,
  approvalLimit: k.approvalLimit,
  rotatedFrom: k.rotatedFrom,
});

export const rotateSchema = (maxOverlapS: number) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: { overlapSeconds: { type: 'integer', minimum: 0, maximum: maxOverlapS } },
  }) as const;

const notFound = (id: string) => new DomainError('API_KEY_NOT_FOUND', `no API key ${id}`, 'not_found');
const conflict = (code: string, message: string) => new DomainError(code, message, 'conflict');

@Injectable()
export class ApiKeysService {
  private readonly rotation: SchemaValidator<{ overlapSeconds?: number }>;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeysRepository,
    private readonly audit: AuditRepository,
    private readonly cache: ApiKeyCache,
  ) {
    this.rotation = new SchemaValidator(rotateSchema(config.apiKeyRotationMaxOverlapS), 'Rotation');
  }

  async list(p: Principal, limit: number, cursor: string | undefined) {
    const after = cursor === undefined ? undefined : decodeIdCursor(cursor);
    const rows = await this.db.em().transactional((em) => this.keys.list(em, p.tenant, limit + 1, after));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(keyView), nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
  }

  /** Revoked at once; every instance refuses it within 5 s (NOTIFY on commit, and the cache's short life). Again: 200, unchanged. */
  revoke(p: Principal, id: string): TransactionalCommand<ApiKeyView> {
    if (!isUuid(id)) throw notFound(id);
    return transactional(
      async ({ em, now }) => {
        const k = await this.keys.find(em, p.tenant, id, { forUpdate: true });
        if (!k) throw notFound(id);
        if (k.revokedAt) return unchanged(keyView(k));
        await this.keys.revoke(em, id, now);
        await this.audit.append(em, {
          tenant: p.tenant,
          actor: keyActor(p, 'admin'),
          action: 'api_key.revoked',
          subjectType: 'api_key',
          subjectId: id,
          details: { actorName: p.name, name: k.name, roles: k.roles, own: id === p.keyId },
          at: now,
        });
        await this.keys.announce(em, id);
        return done(keyView({ ...k, revokedAt: now }));
      },
      // This instance need not wait for its own notification.
      { afterCommit: () => this.cache.evict(id) },
    );
  }

  /**
   * Issues the successor and gives the old key an expiry of now + overlap. The new key is in the first answer only:
   * the stored answer (what a replay of the Idempotency-Key gets) lacks `key`. A key rotated once, revoked or expired
   * cannot be rotated again: 409.
   */
  rotate(p: Principal, id: string, body: unknown) {
    const input = this.rotation.validate(body ?? {});
    if (!isUuid(id)) throw notFound(id);
    const overlapSeconds = input.overlapSeconds ?? this.config.apiKeyRotationOverlapS;
    return transactional(
      async ({ em, now }) => {
        const old = await this.keys.find(em, p.tenant, id, { forUpdate: true });
        if (!old) throw notFound(id);
        if (old.revokedAt) throw conflict('API_KEY_REVOKED', `API key ${id} is revoked`);
        if (old.expiresAt && old.expiresAt <= now) throw conflict('API_KEY_EXPIRED', `API key ${id} expired at ${old.expiresAt.toISOString()}`);
        const successor = await this.keys.successorOf(em, id);
        if (successor) throw conflict('API_KEY_ALREADY_ROTATED', `API key ${id} was already rotated to ${successor.id}`);
        const expiresAt = new Date(now.getTime() + overlapSeconds * 1000);
        const { id: newId, key } = await this.keys.issue(em, {
          tenant: p.tenant,
          name: old.name,
          roles: old.roles,
          approvalLimit: old.approvalLimit,
          rotatedFrom: id,
          now,
        });
        await this.keys.expire(em, id, expiresAt);
        await this.audit.append(em, {
          tenant: p.tenant,
          actor: keyActor(p, 'admin'),
          action: 'api_key.rotated',
          subjectType: 'api_key',
          subjectId: id,
          details: { actorName: p.name, successor: newId, overlapSeconds, expiresAt: expiresAt.toISOString(), own: id === p.keyId },
          at: now,
        });
        await this.keys.announce(em, id);
        const value = { id: newId, rotatedFrom: id, name: old.name, roles: old.roles, approvalLimit: old.approvalLimit, expiresAt: expiresAt.toISOString() };
        return createdWithSecret(value, { key });
      },
      { afterCommit: () => this.cache.evict(id) },
    );
  }
}
