/**
 * An admin key manages its own tenant's keys (api-contract.md §10): list, revoke, rotate. Two service instances on one
 * PostgreSQL database: a key revoked through one is refused on BOTH within 5 s (the contract's bound), a rotated key
 * works on both until its overlap ends and is refused after.
 */
import { ApiKeysRepository } from '../libs/persistence/index.js';
import { ADMIN_TOKEN, newKey, type HttpResult, TestService } from './support/harness.js';

const REVOCATION_BOUND_MS = 5000;
const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
if (!process.env.TEST_DATABASE_URL) console.warn('api-keys e2e skipped: set TEST_DATABASE_URL (two instances share one PostgreSQL database)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

onPostgres('API keys managed by the tenant admin, two instances on one PostgreSQL database', () => {
  let a: TestService;
  let b: TestService;
  let admin: { id: string; key: string };
  let auditor: string;

  async function issue(tenant: string, roles: string[], name = 'k', extra: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const r = await a.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant, roles, name, ...extra } });
    expect(r.status).toBe(201);
    return r.body;
  }
  const ping = (svc: TestService, key: string) => svc.request('GET', '/v1/decisions?limit=1', { key });
  const post = (svc: TestService, path: string, key: string, body?: unknown, idempotencyKey = newKey()) =>
    svc.request('POST', path, { key, idempotencyKey, body });

  /** Polls until `svc` answers 401 for `key`; the time that took (ms), failing past twice the bound. */
  async function refusedWithin(svc: TestService, key: string, since: number): Promise<number> {
    for (;;) {
      const r = await ping(svc, key);
      const elapsed = performance.now() - since;
      if (r.status === 401) return elapsed;
      expect(r.status).toBe(200);
      if (elapsed > REVOCATION_BOUND_MS * 2) throw new Error(`${svc.baseUrl} still accepts the key after ${Math.round(elapsed)} ms`);
      await sleep(25);
    }
  }

  beforeAll(async () => {
    a = await TestService.start('api_keys');
    // B trusts its cache far past the bound (config caps it at 5 s; a test may go beyond): on B only the revocation
    // NOTIFY can make a cached key refused in time, so B proves the LISTEN path and A the default cache.
    b = await TestService.join(a, { apiKeyCacheMs: 60_000 });
    admin = await issue('acme', ['admin'], 'key-admin');
    auditor = (await issue('acme', ['auditor'], 'auditor')).key;
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('lists the tenant\'s own keys, newest first, never the key or its hash, with cursor pagination', async () => {
    const mine = [await issue('acme', ['service'], 'one'), await issue('acme', ['reviewer'], 'two', { approvalLimit: 50000 })];
    const theirs = await issue('globex', ['service'], 'other');
    const seen: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: HttpResult = await b.request('GET', `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: admin.key });
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    const ids = seen.map((k) => k.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([admin.id, ...mine.map((k) => k.id)]));
    expect(ids).not.toContain(theirs.id);
    for (const k of seen) expect(Object.keys(k).sort()).toEqual(['approvalLimit', 'createdAt', 'expiresAt', 'id', 'name', 'revokedAt', 'roles', 'rotatedFrom']);
    expect(seen.find((k) => k.id === mine[1]!.id)).toMatchObject({ name: 'two', roles: ['reviewer'], approvalLimit: 50000, revokedAt: null, expiresAt: null, rotatedFrom: null });
    const text = JSON.stringify(seen);
    for (const k of mine) expect(text).not.toContain(k.key);
  });

  it('the approval limit given at issue is on the principal; the admin answer is unchanged otherwise; bad limits are 400', async () => {
    const plain = await a.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'acme', roles: ['service'], name: 'plain' } });
    expect(Object.keys(plain.body).sort()).toEqual(['id', 'key', 'name', 'roles', 'tenant']);
    const limited = await issue('acme', ['reviewer'], 'limited', { approvalLimit: 0 });
    const repo = new ApiKeysRepository();
    expect(await repo.findByKey(a.db.em().fork(), limited.key)).toMatchObject({ keyId: limited.id, approvalLimit: 0 });
    expect(await repo.findByKey(a.db.em().fork(), plain.body.key)).toMatchObject({ approvalLimit: null });
    for (const approvalLimit of [-1, 1.5, '100']) {
      const r = await a.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'acme', roles: ['reviewer'], name: 'x', approvalLimit } });
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { path: string }) => e.path)).toContain('/approvalLimit');
    }
  });

  it('only admin keys: other roles 403, no key 401', async () => {
    const service = await issue('acme', ['service', 'auditor']);
    expect((await a.request('GET', '/v1/api-keys', { key: service.key })).status).toBe(403);
    expect((await post(a, `/v1/api-keys/${service.id}/revoke`, service.key)).status).toBe(403);
    expect((await post(a, `/v1/api-keys/${service.id}/rotate`, service.key, {})).status).toBe(403);
    expect((await a.request('GET', '/v1/api-keys')).status).toBe(401);
    expect((await ping(a, service.key)).status).toBe(200);
  });

  it("another tenant's key, a missing one and a malformed id are 404, and the other tenant's key keeps working", async () => {
    const theirs = await issue('globex', ['service']);
    for (const id of [theirs.id, '0190f0f0-0000-7000-8000-000000000000', 'not-a-uuid']) {
      const r1 = await post(a, `/v1/api-keys/${id}/revoke`, admin.key);
      const r2 = await post(a, `/v1/api-keys/${id}/rotate`, admin.key, { overlapSeconds: 0 });
      expect([r1.status, r2.status]).toEqual([404, 404]);
    }
    expect((await ping(b, theirs.key)).status).toBe(200);
    expect((await ping(a, theirs.key)).status).toBe(200);
  });

  it('bad input is 400 naming the field', async () => {
    const k = await issue('acme', ['service']);
    const cases: [unknown, string][] = [
      [{ overlapSeconds: -1 }, '/overlapSeconds'],
      [{ overlapSeconds: 1.5 }, '/overlapSeconds'],
      [{ overlapSeconds: '60' }, '/overlapSeconds'],
      [{ overlapSeconds: 604_801 }, '/overlapSeconds'],
      [{ overlap: 5 }, '/overlap'],
    ];
    for (const [body, path] of cases) {
      const r = await post(a, `/v1/api-keys/${k.id}/rotate`, admin.key, body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body.errors)).toContain(path);
    }
    const noKey = await a.request('POST', `/v1/api-keys/${k.id}/revoke`, { key: admin.key });
    expect(noKey.status).toBe(400);
    expect(noKey.body.errors[0].path).toBe('header:Idempotency-Key');
    expect((await a.request('GET', '/v1/api-keys?limit=0', { key: admin.key })).status).toBe(400);
    expect((await a.request('GET', '/v1/api-keys?cursor=nonsense', { key: admin.key })).status).toBe(400);
    // Nothing happened to the key.
    expect((await ping(a, k.key)).status).toBe(200);
  });

  it('a key revoked through A is refused on A and on B within 5 s; revoking again answers it unchanged; audited', async () => {
    const victim = await issue('acme', ['service'], 'leaked');
    // Both instances have it cached.
    expect((await ping(a, victim.key)).status).toBe(200);
    expect((await ping(b, victim.key)).status).toBe(200);
    const idem = newKey();
    const t0 = performance.now();
    const r = await post(a, `/v1/api-keys/${victim.id}/revoke`, admin.key, undefined, idem);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: victim.id, name: 'leaked', revokedAt: expect.any(String) });
    const [onA, onB] = await Promise.all([refusedWithin(a, victim.key, t0), refusedWithin(b, victim.key, t0)]);
    console.log(`revoked key refused on A after ${Math.round(onA)} ms, on B after ${Math.round(onB)} ms`);
    expect(Math.max(onA, onB)).toBeLessThan(REVOCATION_BOUND_MS);

    const replay = await post(a, `/v1/api-keys/${victim.id}/revoke`, admin.key, undefined, idem);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text).toBe(r.text);
    const again = await post(b, `/v1/api-keys/${victim.id}/revoke`, admin.key);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(r.body.revokedAt);

    const audit = await a.request('GET', '/v1/audit?limit=500', { key: auditor });
    const entries = audit.body.items.filter((e: { subjectId: string; action: string }) => e.subjectId === victim.id && e.action === 'api_key.revoked');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: admin.id, details: { actorName: 'key-admin', own: false } });
  });

  it('concurrent revocations of one key under different Idempotency-Keys: one revocation, one audit entry', async () => {
    const k = await issue('acme', ['service']);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => post(i % 2 ? a : b, `/v1/api-keys/${k.id}/revoke`, admin.key)));
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(new Set(answers.map((r) => r.body.revokedAt)).size).toBe(1);
    const rows = await a.sql<{ n: string }>(`select count(*) as n from audit_log where subject_id = ? and action = 'api_key.revoked'`, [k.id]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('rotate: the new key (shown once) works at once on both; the old one until the overlap ends, then 401 on both', async () => {
    const old = await issue('acme', ['reviewer'], 'reviewer-bot', { approvalLimit: 70000 });
    expect((await ping(b, old.key)).status).toBe(403); // reviewer cannot list decisions: the key is known, though
    const svcKey = await issue('acme', ['service', 'reviewer'], 'svc');
    expect((await ping(b, svcKey.key)).status).toBe(200);
    const idem = newKey();
    const r = await post(a, `/v1/api-keys/${svcKey.id}/rotate`, admin.key, { overlapSeconds: 2 }, idem);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ rotatedFrom: svcKey.id, name: 'svc', roles: ['service', 'reviewer'], key: expect.stringMatching(/^dk_/) });
    const expiresAt = Date.parse(r.body.expiresAt);
    const fresh = r.body.key as string;
    expect((await ping(a, fresh)).status).toBe(200);
    expect((await ping(b, fresh)).status).toBe(200);

    // Within the overlap the old key works on both instances (only asked while the overlap surely lasts).
    if (Date.now() < expiresAt - 500) {
      expect((await ping(a, svcKey.key)).status).toBe(200);
      expect((await ping(b, svcKey.key)).status).toBe(200);
    }
    // Then 401 on both, never before the overlap ends.
    for (const svc of [a, b]) {
      for (;;) {
        const sentAt = Date.now();
        const s = (await ping(svc, svcKey.key)).status;
        if (s === 401) {
          expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
          break;
        }
        expect(s).toBe(200);
        expect(sentAt).toBeLessThan(expiresAt + REVOCATION_BOUND_MS);
        await sleep(50);
      }
    }
    expect((await ping(b, fresh)).status).toBe(200);

    // A replay of the Idempotency-Key answers the same, without the key.
    const replay = await post(a, `/v1/api-keys/${svcKey.id}/rotate`, admin.key, { overlapSeconds: 2 }, idem);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).not.toHaveProperty('key');
    expect(replay.text).not.toContain(fresh);
    const { key: _shown, ...withoutKey } = r.body;
    expect(replay.body).toEqual(withoutKey);
    // Not stored anywhere in clear.
    const stored = await a.sql<{ n: string }>(`select count(*) as n from idempotency_records where body::text like ?`, [`%${fresh}%`]);
    expect(Number(stored[0]!.n)).toBe(0);

    // The list shows the pair; a second rotation of the old key is refused.
    const list = await a.request('GET', '/v1/api-keys?limit=500', { key: admin.key });
    expect(list.body.items.find((k: { id: string }) => k.id === r.body.id)).toMatchObject({ rotatedFrom: svcKey.id, expiresAt: null, revokedAt: null });
    expect(list.body.items.find((k: { id: string }) => k.id === svcKey.id)).toMatchObject({ expiresAt: r.body.expiresAt });
    const twice = await post(b, `/v1/api-keys/${svcKey.id}/rotate`, admin.key, { overlapSeconds: 0 });
    expect(twice.status).toBe(409);

    // The approval limit goes with the rotation.
    const rotatedReviewer = await post(a, `/v1/api-keys/${old.id}/rotate`, admin.key, { overlapSeconds: 0 });
    expect(rotatedReviewer.body).toMatchObject({ approvalLimit: 70000, roles: ['reviewer'] });
    expect(await new ApiKeysRepository().findByKey(a.db.em().fork(), rotatedReviewer.body.key)).toMatchObject({ approvalLimit: 70000 });
    // overlap 0: the old key is refused at once on both.
    expect((await ping(a, old.key)).status).toBe(401);
    const t0 = performance.now();
    expect(await refusedWithin(b, old.key, t0)).toBeLessThan(REVOCATION_BOUND_MS);

    const audit = await a.sql<{ details: { successor: string; overlapSeconds: number } }>(
      `select details from audit_log where subject_id = ? and action = 'api_key.rotated'`,
      [svcKey.id],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ successor: r.body.id, overlapSeconds: 2 });
  });

  it('concurrent rotations of one key: one successor, the others 409', async () => {
    const k = await issue('acme', ['service']);
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => post(i % 2 ? a : b, `/v1/api-keys/${k.id}/rotate`, admin.key, { overlapSeconds: 60 })));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    const rows = await a.sql<{ n: string }>('select count(*) as n from api_keys where rotated_from = ?', [k.id]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('rotating a revoked key is 409', async () => {
    const k = await issue('acme', ['service']);
    expect((await post(a, `/v1/api-keys/${k.id}/revoke`, admin.key)).status).toBe(200);
    const r = await post(a, `/v1/api-keys/${k.id}/rotate`, admin.key, {});
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('API_KEY_REVOKED');
  });

  it('an admin may revoke its own key, which then answers 401', async () => {
    const self = await issue('acme', ['admin'], 'self');
    const r = await post(b, `/v1/api-keys/${self.id}/revoke`, self.key);
    expect(r.status).toBe(200);
    expect((await b.request('GET', '/v1/api-keys', { key: self.key })).status).toBe(401);
    expect(await refusedWithin(a, self.key, performance.now())).toBeLessThan(REVOCATION_BOUND_MS);
  });
});
