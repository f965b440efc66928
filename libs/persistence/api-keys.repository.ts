/** API keys: issued once, stored as a sha256 hash, looked up by hash; listed, revoked and rotated by their tenant's admin. */
import { createHash, randomBytes } from 'node:crypto';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { isUuid } from '../names/index.js';
import { uuidv7Ids, type IdFactory } from './clock.js';
import { pgTimestamp } from './timestamps.js';

/** The channel a revocation or rotation is announced on (payload: the key id), so every instance drops its cached copy. */
export const API_KEY_CHANNEL = 'decision_platform_api_keys';

export interface Principal {
  keyId: string;
  tenant: string;
  name: string;
  roles: string[];
  /** A reviewer key's approval limit in minor units (an approval above it is refused); null or absent: no limit. */
  approvalLimit?: number | null;
  /** When the key stops working (a rotated key's overlap end); null: no expiry. */
  expiresAt?: Date | null;
}

/** A key as its admin sees it: never the key or its hash. */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name: string;
  roles: string[];
  createdAt: Date;
  revokedAt: Date | null;
  expiresAt: Date | null;
  approvalLimit: number | null;
  /** The key this one replaced through a rotation. */
  rotatedFrom: string | null;
}

export interface IssueKeyInput {
  tenant: string;
  name: string;
  roles: string[];
  now: Date;
  approvalLimit?: number | null;
  rotatedFrom?: string | null;
}

type Row = Record<string, unknown>;
const date = pgTimestamp;
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
// pg answers bigint as a string.
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const roles = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : parseTextArray(String(v)));

/** PGlite may answer a text[] in its literal form `{a,b}`; role names never need quoting. */
function parseTextArray(s: string): string[] {
  const inner = s.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((x) => x.replace(/^"|"$/g, ''));
}

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    name: String(r.name),
    roles: roles(r.roles),
    createdAt: date(r.created_at),
    revokedAt: dateOrNull(r.revoked_at),
    expiresAt: dateOrNull(r.expires_at),
    approvalLimit: numOrNull(r.approval_limit),
    rotatedFrom: typeof r.rotated_from === 'string' ? r.rotated_from : null,
  };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeysRepository {
  constructor(private readonly ids: IdFactory = uuidv7Ids) {}

  /** Creates a key and returns it in clear exactly once; a key is 256 random bits, so a fast hash suffices. */
  async issue(em: SqlEntityManager, input: IssueKeyInput): Promise<{ id: string; key: string }> {
    const id = this.ids.next(input.now);
    const key = `dk_${randomBytes(32).toString('base64url')}`;
    await em.execute(
      `insert into api_keys (id, tenant, name, roles, key_hash, created_at, revoked_at, expires_at, approval_limit, rotated_from)
       values (?, ?, ?, ?::text[], ?, ?, null, null, ?, ?)`,
      [id, input.tenant, input.name, `{${input.roles.join(',')}}`, hashApiKey(key), input.now, input.approvalLimit ?? null, input.rotatedFrom ?? null],
    );
    return { id, key };
  }

  /** The key's principal while it is neither revoked nor expired at `now`. */
  async findByKey(em: SqlEntityManager, key: string, now: Date = new Date()): Promise<Principal | null> {
    const rows = await em.execute<Row[]>(
      'select * from api_keys where key_hash = ? and revoked_at is null and (expires_at is null or expires_at > ?)',
      [hashApiKey(key), now],
    );
    const r = rows[0];
    if (!r) return null;
    const k = toRecord(r);
    return { keyId: k.id, tenant: k.tenant, name: k.name, roles: k.roles, approvalLimit: k.approvalLimit, expiresAt: k.expiresAt };
  }

  /** The tenant's key (locked with `forUpdate`); another tenant's key is absent, like a missing one. */
  async find(em: SqlEntityManager, tenant: string, id: string, o: { forUpdate?: boolean } = {}): Promise<ApiKeyRecord | null> {
    const rows = await em.execute<Row[]>(`select * from api_keys where tenant = ? and id = ?${o.forUpdate ? ' for update' : ''}`, [tenant, id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Newest first; `after` is the last id of the previous page (ids are time-ordered UUIDv7). */
  async list(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<ApiKeyRecord[]> {
    const rows = await em.execute<Row[]>(
      `select * from api_keys where tenant = ?${after ? ' and id < ?' : ''} order by id desc limit ?`,
      after ? [tenant, after, limit] : [tenant, limit],
    );
    return rows.map(toRecord);
  }

  /**
   * Every key of `id`'s rotation chain in this tenant, `id` included: the keys it was rotated from and the keys rotated
   * from it. One holder's keys: four-eyes counts them as one reviewer. An id that is no key (or no uuid): itself only.
   */
  async lineage(em: SqlEntityManager, tenant: string, id: string): Promise<string[]> {
    if (!isUuid(id)) return [id];
    const rows = await em.execute<{ id: string }[]>(
      `with recursive up (id, rotated_from) as (
         select id, rotated_from from api_keys where tenant = ? and id = ?::uuid
         union
         select k.id, k.rotated_from from api_keys k join up on k.id = up.rotated_from where k.tenant = ?
       ), down (id) as (
         select id from api_keys where tenant = ? and id = ?::uuid
         union
         select k.id from api_keys k join down on k.rotated_from = down.id where k.tenant = ?
       )
       select id::text as id from up union select id::text as id from down`,
      [tenant, id, tenant, tenant, id, tenant],
    );
    const ids = rows.map((r) => r.id);
    return ids.includes(id) ? ids : [id, ...ids];
  }

  /** The key a rotation of `id` issued, if any. */
  async successorOf(em: SqlEntityManager, id: string): Promise<ApiKeyRecord | null> {
    const rows = await em.execute<Row[]>('select * from api_keys where rotated_from = ?', [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async revoke(em: SqlEntityManager, id: string, at: Date): Promise<void> {
    await em.execute('update api_keys set revoked_at = ? where id = ? and revoked_at is null', [at, id]);
  }

  async expire(em: SqlEntityManager, id: string, at: Date): Promise<void> {
    await em.execute('update api_keys set expires_at = ? where id = ?', [at, id]);
  }

  /** Tells every instance (LISTEN on API_KEY_CHANNEL) to drop its cached copy of the key; sent on commit. PostgreSQL only. */
  async announce(em: SqlEntityManager, id: string): Promise<void> {
    await em.execute('select pg_notify(?, ?)', [API_KEY_CHANNEL, id]);
  }
}
