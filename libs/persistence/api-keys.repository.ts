/** API keys: issued once, stored as a sha256 hash, looked up by hash. */
import { createHash, randomBytes } from 'node:crypto';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { ApiKeySchema } from './entities.js';
import { uuidv7Ids, type IdFactory } from './clock.js';

export interface Principal {
  keyId: string;
  tenant: string;
  name: string;
  roles: string[];
  /** A reviewer key's approval limit in minor units (an approval above it is refused); null or absent: no limit. */
  approvalLimit?: number | null;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeysRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /** Creates a key and returns it in clear exactly once; a key is 256 random bits, so a fast hash suffices. */
  async issue(em: SqlEntityManager, input: { tenant: string; name: string; roles: string[]; now: Date }): Promise<{ id: string; key: string }> {
    const id = this.ids.next(input.now);
    const key = `dk_${randomBytes(32).toString('base64url')}`;
    em.create(ApiKeySchema, {
      id,
      tenant: input.tenant,
      name: input.name,
      roles: input.roles,
      keyHash: hashApiKey(key),
      createdAt: input.now,
      revokedAt: null,
    });
    await em.flush();
    return { id, key };
  }

  async findByKey(em: SqlEntityManager, key: string): Promise<Principal | null> {
    const row = await em.findOne(ApiKeySchema, { keyHash: hashApiKey(key), revokedAt: null });
    return row ? { keyId: row.id, tenant: row.tenant, name: row.name, roles: [...row.roles] } : null;
  }
}
