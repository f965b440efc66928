/**
 * The audit trail an auditor can trust (issue 12 item 4): every change names its actor; each tenant's audit rows form
 * a hash chain that GET /v1/audit/verify walks, naming the first broken link when a row is edited or deleted behind the
 * service's back; GET /v1/audit/export streams a time range as NDJSON whose lines re-verify offline.
 */
import pg from 'pg';
import { ChainVerifier, type ChainedAuditRow } from '../libs/audit/index.js';
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
if (!process.env.TEST_DATABASE_URL) console.warn('audit-chain e2e skipped: set TEST_DATABASE_URL (it tampers through a second connection)');

onPostgres('audit chain on PostgreSQL', () => {
  let svc: TestService;

  async function issue(tenant: string, roles: string[], name = 'k'): Promise<{ id: string; key: string }> {
    const r = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant, roles, name } });
    expect(r.status).toBe(201);
    return r.body;
  }

  /** A tenant with an admin and an auditor key. */
  async function tenant(name: string) {
    const admin = await issue(name, ['admin'], 'admin');
    const auditor = await issue(name, ['auditor'], 'auditor');
    return { admin, auditor };
  }

  const verify = (key: string) => svc.request('GET', '/v1/audit/verify', { key });

  async function rows(key: string): Promise<ChainedAuditRow[]> {
    const all: ChainedAuditRow[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: { items: ChainedAuditRow[]; nextCursor: string | null } } = await svc.request('GET', `/v1/audit?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(r.status).toBe(200);
      all.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    return all.sort((a, b) => a.seq - b.seq);
  }

  /** SQL as a database administrator would run it, on a connection of its own, around the append-only trigger. */
  async function behindTheServicesBack(statement: string, params: unknown[]): Promise<void> {
    const c = new pg.Client({ connectionString: svc.databaseUrl });
    await c.connect();
    try {
      await c.query('alter table audit_log disable trigger audit_log_append_only');
      await c.query(statement, params);
      await c.query('alter table audit_log enable trigger audit_log_append_only');
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    svc = await TestService.start('audit_chain');
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('verifies an intact chain: seq 1, 2, 3, … each linked to the one before', async () => {
    const t = await tenant('intact');
    const r = await svc.request('POST', `/v1/api-keys/${t.admin.id}/rotate`, { key: t.admin.key, idempotencyKey: newKey(), body: {} });
    expect(r.status).toBe(201);
    const chain = await rows(t.auditor.key);
    expect(chain.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(chain[0]!.prevHash).toBeNull();
    expect(chain[1]!.prevHash).toBe(chain[0]!.hash);
    expect(chain[2]).toMatchObject({ action: 'api_key.rotated', actor: t.admin.id, actorRole: 'admin', prevHash: chain[1]!.hash });
    expect(chain[0]).toMatchObject({ action: 'api_key.issued', actor: 'admin-token', actorRole: 'admin' });
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: 3, firstBroken: null });
  });

  it('keeps one chain under 20 concurrent appends in one tenant: ok, seqs contiguous', async () => {
    const t = await tenant('concurrent');
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'concurrent', roles: ['service'], name: `k${i}` } })));
    expect(made.map((r) => r.status)).toEqual(Array(20).fill(201));
    const chain = await rows(t.auditor.key);
    expect(chain.map((x) => x.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: 22, firstBroken: null });
  });

  it('names a row edited in the database with the trigger disabled (content hash mismatch)', async () => {
    const t = await tenant('edited');
    await issue('edited', ['service'], 'victim');
    const chain = await rows(t.auditor.key);
    const target = chain[1]!;
    await behindTheServicesBack(`update audit_log set details = jsonb_set(details, '{name}', '"someone else"') where id = $1`, [target.id]);
    const r = await verify(t.auditor.key);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      ok: false,
      checked: 2,
      firstBroken: { id: target.id, seq: 2, at: target.at, reason: 'content_hash_mismatch', expected: expect.any(String), found: target.hash },
    });
    // Reported, never repaired: the same answer again, and the row as tampered.
    expect((await verify(t.auditor.key)).body).toEqual(r.body);
  });

  it('names the row after a deleted one (missing seq)', async () => {
    const t = await tenant('deleted');
    for (const n of ['a', 'b', 'c']) await issue('deleted', ['service'], n);
    const chain = await rows(t.auditor.key);
    await behindTheServicesBack('delete from audit_log where id = $1', [chain[2]!.id]);
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 3,
      firstBroken: { id: chain[3]!.id, seq: 4, at: chain[3]!.at, reason: 'missing_seq', expected: 3, found: 4 },
    });
  });

  it('finds rows deleted from the end of the chain (the recorded head is further on)', async () => {
    const t = await tenant('truncated');
    await issue('truncated', ['service'], 'last');
    const chain = await rows(t.auditor.key);
    await behindTheServicesBack('delete from audit_log where id = $1', [chain[2]!.id]);
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 2,
      firstBroken: { id: null, seq: 3, at: null, reason: 'missing_seq', expected: 3, found: 2 },
    });
  });
});
