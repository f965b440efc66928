/** Idempotency records: one row per (tenant, key), claimed inside the same transaction as the effect it guards. */
import type { SqlEntityManager } from '@mikro-orm/sql';

export interface StoredResponse {
  requestHash: string;
  status: number;
  contentType: string;
  body: string;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: StoredResponse | null; requestHash: string };

export class IdempotencyRepository {
  /**
   * Inserts the key. A concurrent transaction holding the same key makes this insert wait on the unique index until
   * it commits or rolls back, so exactly one request performs the effect and the others see its stored response.
   */
  async claim(
    em: SqlEntityManager,
    r: { tenant: string; key: string; requestHash: string; method: string; path: string; now: Date },
  ): Promise<ClaimResult> {
    const inserted = await em.execute<{ key: string }[]>(
      `insert into idempotency_records (tenant, key, request_hash, method, path, created_at)
       values (?, ?, ?, ?, ?, ?) on conflict (tenant, key) do nothing returning key`,
      [r.tenant, r.key, r.requestHash, r.method, r.path, r.now],
    );
    if (inserted.length === 1) return { claimed: true };
    const rows = await em.execute<{ request_hash: string; status: number | null; content_type: string | null; body: string | null }[]>(
      `select request_hash, status, content_type, body from idempotency_records where tenant = ? and key = ?`,
      [r.tenant, r.key],
    );
    const row = rows[0];
    if (!row) return { claimed: false, existing: null, requestHash: '' };
    return {
      claimed: false,
      requestHash: row.request_hash,
      existing:
        row.status === null
          ? null
          : { requestHash: row.request_hash, status: row.status, contentType: row.content_type ?? 'application/json', body: row.body ?? '' },
    };
  }

  async complete(em: SqlEntityManager, r: { tenant: string; key: string; status: number; contentType: string; body: string }): Promise<void> {
    await em.execute(`update idempotency_records set status = ?, content_type = ?, body = ? where tenant = ? and key = ?`, [
      r.status,
      r.contentType,
      r.body,
      r.tenant,
      r.key,
    ]);
  }
}
