/**
 * The API the console stands on, over plain HTTP: who a key is (GET /v1/session), the tenant's releases and activation
 * history, the decision search's release and reason-code filters, a reviewer reading the decision under review, and
 * how /console is served (built, not built, switched off).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;
let author: string;
let publisher: string;
let auditor: string;

beforeAll(async () => {
  svc = await TestService.start('console_api');
  service = await svc.issueKey('acme', ['service'], 'checkout');
  author = await svc.issueKey('acme', ['author'], 'Al Author');
  publisher = await svc.issueKey('acme', ['publisher'], 'Pat Publisher');
  auditor = await svc.issueKey('acme', ['auditor'], 'Ann Auditor');
});
afterAll(() => svc?.stop());

const get = (key: string, path: string) => svc.request('GET', path, { key });
const post = (key: string, path: string, body?: unknown) => svc.request('POST', path, { key, idempotencyKey: newKey(), body });

describe('GET /v1/session', () => {
  it('says who the key is, for any role, and never the key', async () => {
    const r = await get(author, '/v1/session');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ tenant: 'acme', keyId: expect.any(String), name: 'Al Author', roles: ['author'], approvalLimit: null, expiresAt: null });
    expect(r.text).not.toContain(author);
  });

  it('a wrong key is 401, a query parameter 400', async () => {
    expect((await get('dk_not-a-key', '/v1/session')).status).toBe(401);
    expect((await get(author, '/v1/session?x=1')).status).toBe(400);
  });
});

describe('GET /v1/releases and /v1/releases/activations', () => {
  const manifest = async (version: string) => {
    const active = (await get(author, '/v1/releases/active')).body;
    return { name: 'acme-console', version, components: active.components };
  };

  it('lists the stored releases newest first in pages, with the built-in one beside them', async () => {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) expect((await post(author, '/v1/releases', await manifest(v))).status).toBe(201);
    const first = await get(author, '/v1/releases?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((r: { version: string }) => r.version)).toEqual(['1.2.0', '1.1.0']);
    expect(first.body.builtin).toMatchObject({ name: 'default', source: 'builtin' });
    expect(first.body.items[0]).toMatchObject({ source: 'tenant', createdBy: expect.any(String), createdAt: expect.any(String) });
    const second = await get(author, `/v1/releases?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((r: { version: string }) => r.version)).toEqual(['1.0.0']);
    expect(second.body.nextCursor).toBeNull();
    // Another tenant sees none of them.
    const other = await svc.issueKey('globex', ['author']);
    expect((await get(other, '/v1/releases')).body.items).toEqual([]);
  });

  it('refuses a bad cursor and a key without the role', async () => {
    expect((await get(author, '/v1/releases?cursor=nope')).body.code).toBe('CURSOR_INVALID');
    // Forged cursors PostgreSQL could not cast (or names no release can have) are the client's 400, never a 500.
    const forged = (v: Record<string, unknown>) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const good = { at: '2026-03-01T00:00:00.000Z', name: 'acme-console', version: '1.0.0' };
    for (const bad of [{ at: '1' }, { at: 'x 1' }, { at: '+010000-01-01T00:00:00.000Z' }, { at: '0000-01-01T00:00:00.000Z' }, { at: '2026-02-30T00:00:00.000Z' }, { name: 'a\u0000b' }, { version: 'not semver' }]) {
      const r = await get(author, `/v1/releases?cursor=${forged({ ...good, ...bad })}`);
      expect([r.status, r.body.code]).toEqual([400, 'CURSOR_INVALID']);
    }
    expect((await get(author, `/v1/releases?cursor=${forged(good)}`)).status).toBe(200);
    expect((await get(service, '/v1/releases')).status).toBe(403);
    expect((await get(service, '/v1/releases/activations')).status).toBe(403);
  });

  it('records activations and rollbacks, newest first, with what each replaced and who did it', async () => {
    expect((await post(publisher, '/v1/releases/acme-console/1.0.0/activate')).status).toBe(200);
    expect((await post(publisher, '/v1/releases/acme-console/1.1.0/activate')).status).toBe(200);
    expect((await post(publisher, '/v1/releases/rollback')).status).toBe(200);
    const h = await get(auditor, '/v1/releases/activations?limit=2');
    expect(h.status).toBe(200);
    expect(h.body.items).toEqual([
      expect.objectContaining({ slot: 'active', action: 'rollback', release: { name: 'acme-console', version: '1.0.0' }, replaced: { name: 'acme-console', version: '1.1.0' }, actor: { keyId: expect.any(String), name: 'Pat Publisher' } }),
      expect.objectContaining({ action: 'activate', release: { name: 'acme-console', version: '1.1.0' }, replaced: { name: 'acme-console', version: '1.0.0' } }),
    ]);
    const rest = await get(auditor, `/v1/releases/activations?cursor=${h.body.nextCursor}`);
    // The tenant's first activation replaced the built-in release of that day, as the row recorded it (not today's).
    expect(rest.body.items).toEqual([expect.objectContaining({ action: 'activate', release: { name: 'acme-console', version: '1.0.0' }, replaced: { name: 'default', version: '1.8.0' } })]);
    expect(rest.body.items[0].replaced).toEqual(rest.body.items[0].previous);
    expect(rest.body.nextCursor).toBeNull();
    expect((await post(publisher, '/v1/releases/rollback')).status).toBe(200); // back to the built-in one for the suites below
  });
});

describe('GET /v1/decisions: release and reason code', () => {
  it('finds the decisions that pinned a release or carry a reason code, with the other filters and by customer', async () => {
    const review = refundCase({ requestedAmount: 60_000, order: { capturedAmount: 70_000, items: [{ sku: 'S', amount: 70_000, finalSale: false, category: 'apparel' }] } });
    const approve = refundCase();
    for (const c of [review, approve]) expect((await post(service, '/v1/decisions/refund', { case: c })).status).toBe(201);
    const ids = async (q: string) => (await get(auditor, `/v1/decisions?${q}`)).body.items.map((d: { refundId: string }) => d.refundId);
    expect(await ids('reasonCode=AMOUNT_OVER_AUTO_APPROVE_LIMIT')).toEqual([review.refundId]);
    expect(await ids('reasonCode=AMOUNT_OVER_AUTO_APPROVE_LIMIT&outcome=APPROVE')).toEqual([]);
    expect(await ids(`reasonCode=AMOUNT_OVER_AUTO_APPROVE_LIMIT&customer=${review.customerId}`)).toEqual([review.refundId]);
    expect(await ids(`release=default@1.8.0&customer=${approve.customerId}`)).toEqual([approve.refundId]);
    expect((await ids('release=default@1.8.0')).length).toBeGreaterThanOrEqual(2);
    expect(await ids('release=default@9.9.9')).toEqual([]);
    // A code nobody has is an empty page (an index lookup), not a scan of every decision into the statement timeout.
    expect(await ids('reasonCode=NEVER_SEEN_CODE')).toEqual([]);
    // A name and a version may each be 100 characters: the longest reference is searchable.
    expect(await ids(`release=${'a'.repeat(100)}@${'1'.repeat(100)}`)).toEqual([]);
  });

  it('matches the reasons of a decision type shipped as data (a gift-card redemption challenged)', async () => {
    const pack = JSON.parse(await readFile(join(repoRoot, 'rule-packs/giftcard-redemption-policy/1.0.0.json'), 'utf8')) as { parameters: { newDeviceAmount: number } };
    const c = { cardCode: 'CONSOLEAPI000001', ip: '192.0.2.77', deviceId: 'never-seen', channel: 'mobile_app', customerId: 'cus-gc-1', email: 'gc@example.com', currency: 'EUR', amount: pack.parameters.newDeviceAmount + 1, requestedAt: '2026-03-04T18:00:00Z' };
    const d = await post(service, '/v1/decisions/giftcard-redemption', { case: c });
    expect([d.status, d.body.outcome]).toEqual([201, 'CHALLENGE']);
    const found = await get(auditor, '/v1/decisions?type=giftcard-redemption&reasonCode=NEW_DEVICE_HIGH_AMOUNT');
    expect(found.body.items.map((x: { id: string }) => x.id)).toEqual([d.body.id]);
  });

  it('names a malformed release or reason code', async () => {
    const r = await get(auditor, '/v1/decisions?release=default&reasonCode=lower_case');
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query:reasonCode', 'query:release']);
  });

  it('a reviewer reads the decision under review and no other; an author reads none', async () => {
    const reviewer = await svc.issueKey('acme', ['reviewer']);
    const d = await post(service, '/v1/decisions/refund', { case: refundCase({ disputeOpen: true }) });
    expect((await get(reviewer, `/v1/decisions/${d.body.id}`)).body).toMatchObject({ id: d.body.id, outcome: 'REVIEW', trace: expect.any(Array) });
    expect((await get(author, `/v1/decisions/${d.body.id}`)).status).toBe(403);
    // Only what is under review: an approved decision (no review item) is as missing to a reviewer.
    const approved = await post(service, '/v1/decisions/refund', { case: refundCase() });
    expect((await get(reviewer, `/v1/decisions/${approved.body.id}`)).body.code).toBe('DECISION_NOT_FOUND');
    expect((await get(auditor, `/v1/decisions/${approved.body.id}`)).status).toBe(200);
  });
});

describe('/console', () => {
  it('serves the built console with its security headers, and 404 for a file it does not have', async () => {
    const page = await fetch(`${svc.baseUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect([page.headers.get('x-frame-options'), page.headers.get('referrer-policy'), page.headers.get('x-content-type-options')]).toEqual(['DENY', 'no-referrer', 'nosniff']);
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await page.text())![1]!;
    const asset = await fetch(`${svc.baseUrl}${script}`, { headers: { 'accept-encoding': 'br' } });
    expect([asset.status, asset.headers.get('cache-control'), asset.headers.get('x-content-type-options')]).toEqual([200, 'public, max-age=31536000, immutable', 'nosniff']);
    expect((await fetch(`${svc.baseUrl}/console/assets/nope.js`)).status).toBe(404);
  });

  it('says when the console is not built, and serves none when switched off', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'console-'));
    const unbuilt = await TestService.start('console_unbuilt', { consoleRoot: empty });
    const off = await TestService.start('console_off', { consoleRoot: undefined });
    try {
      const r = await unbuilt.request('GET', '/console/');
      expect([r.status, r.body.code]).toEqual([404, 'CONSOLE_NOT_BUILT']);
      expect((await off.request('GET', '/console/')).body.code).toBe('NOT_FOUND');
    } finally {
      await unbuilt.stop();
      await off.stop();
    }
  });
});
