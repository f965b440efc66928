/** The decision API's contract: persistence, idempotency, tenancy, roles, errors, listing, replay, probes. */
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;
let auditor: string;
let otherTenant: string;
let author: string;

beforeAll(async () => {
  svc = await TestService.start('decisions_api');
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  author = await svc.issueKey('acme', ['author']);
  otherTenant = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

const post = (body: unknown, o: { key?: string; idempotencyKey?: string } = {}) =>
  svc.request('POST', '/v1/decisions/refund', { key: o.key ?? service, idempotencyKey: o.idempotencyKey ?? newKey(), body });

describe('persistence and explanation', () => {
  it('answers 201 and GET returns the stored decision byte for byte, trace included', async () => {
    const r = await post({ case: refundCase({ disputeOpen: true }) });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    const d = r.body;
    expect(d).toMatchObject({ tenant: 'acme', domain: 'refund', outcome: 'REVIEW' });
    expect(d.refundId).toMatch(/^rf_\d+$/);
    expect(d.release).toEqual({ name: 'default', version: '1.8.0', components: { refund: '1.3.0', redemption: '1.0.0', 'refund-policy': '1.2.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0', 'giftcard-abuse': '1.2.0', 'giftcard-balance-check': '1.2.0', 'giftcard-balance-check-policy': '1.0.0', 'giftcard-challenge': '1.1.0', 'giftcard-challenge-policy': '1.1.0', 'giftcard-redemption': '1.3.0', 'giftcard-redemption-policy': '1.2.0' } });
    expect(Date.parse(d.createdAt)).not.toBeNaN();

    const got = await svc.request('GET', `/v1/decisions/${d.id}`, { key: auditor });
    expect(got.status).toBe(200);
    expect(got.text).toBe(r.text);
  });

  it('traces every rule and policy evaluated, fired or not, with the fact values used', async () => {
    const r = await post({ case: refundCase({ customer: { refundCount30d: 4 }, disputeOpen: true }) });
    const trace = r.body.trace as { source: string; rule: string; fired: boolean; [k: string]: unknown }[];
    const risk = trace.filter((t) => t.source === 'refund-risk@1.0.0');
    const pack = trace.filter((t) => t.source === 'refund-policy@1.2.0');
    expect(risk.map((t) => t.rule)).toEqual(
      expect.arrayContaining(['signal.REFUND_VELOCITY_HIGH', 'signal.HIGH_AMOUNT', 'signal.NEW_ACCOUNT', 'signal.PRIOR_CHARGEBACK', 'signal.IP_RISK_HIGH', 'signal.DEVICE_SHARED', 'risk.band']),
    );
    expect(risk.find((t) => t.rule === 'signal.REFUND_VELOCITY_HIGH')).toMatchObject({ fired: true, value: 4 });
    expect(risk.find((t) => t.rule === 'signal.HIGH_AMOUNT')).toMatchObject({ fired: false, value: 4999 });
    // every pack rule appears, fired or not
    expect(pack.length).toBeGreaterThanOrEqual(10);
    expect(pack.filter((t) => t.fired).map((t) => t.rule)).toEqual(['chargeback-in-progress']);
    const window = pack.find((t) => t.rule === 'policy-window-exceeded');
    expect(window?.fired).toBe(false);
    expect(JSON.stringify(window)).toContain('daysSinceDelivery');
  });
});

describe('idempotency', () => {
  it('replays the first answer byte for byte with Idempotent-Replayed', async () => {
    const k = newKey();
    const body = { case: refundCase({ refundId: 'rf_idem' }) };
    const first = await post(body, { idempotencyKey: k });
    const again = await post(body, { idempotencyKey: k });
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
  });

  it('the same body with keys in another order is the same request', async () => {
    const k = newKey();
    const c = refundCase({ refundId: 'rf_order' });
    const reordered = Object.fromEntries(Object.entries(c).reverse());
    const first = await post({ case: c }, { idempotencyKey: k });
    const again = await post({ case: reordered }, { idempotencyKey: k });
    expect(again.text).toBe(first.text);
  });

  it('refuses the same key with another body: 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const k = newKey();
    await post({ case: refundCase({ refundId: 'rf_a' }) }, { idempotencyKey: k });
    const r = await post({ case: refundCase({ refundId: 'rf_b' }) }, { idempotencyKey: k });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('requires the header: 400 naming it', async () => {
    const r = await svc.request('POST', '/v1/decisions/refund', { key: service, body: { case: refundCase() } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('IDEMPOTENCY_KEY_MISSING');
    expect(r.body.errors[0].path).toBe('header:Idempotency-Key');
    const spaced = await post({ case: refundCase() }, { idempotencyKey: `order 42 ${Date.now()}` }); // printable ASCII includes space
    expect(spaced.status).toBe(201);
    const long = await post({ case: refundCase() }, { idempotencyKey: 'x'.repeat(256) });
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('IDEMPOTENCY_KEY_INVALID');
  });

  it('50 concurrent requests with one key make one decision', async () => {
    const k = newKey('concurrent');
    const body = { case: refundCase({ refundId: 'rf_concurrent' }) };
    const results = await Promise.all(Array.from({ length: 50 }, () => post(body, { idempotencyKey: k })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    // exactly one stored row carries this refundId
    const listed = await svc.request('GET', '/v1/decisions?limit=500', { key: auditor });
    expect(listed.body.items.filter((d: any) => d.refundId === 'rf_concurrent')).toHaveLength(1);
  });

  it('keys are per tenant: the same key in another tenant is a different request', async () => {
    const k = newKey();
    const a = await post({ case: refundCase() }, { idempotencyKey: k });
    const b = await post({ case: refundCase() }, { idempotencyKey: k, key: otherTenant });
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.body.tenant).toBe('globex');
  });
});

describe('tenancy and roles', () => {
  it("another tenant's decision is answered exactly as a missing one", async () => {
    const r = await post({ case: refundCase() });
    const cross = await svc.request('GET', `/v1/decisions/${r.body.id}`, { key: otherTenant });
    const missing = await svc.request('GET', `/v1/decisions/01900000-0000-7000-8000-000000000000`, { key: otherTenant });
    expect(cross.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(cross.body.code).toBe(missing.body.code);
    const replay = await svc.request('POST', `/v1/decisions/${r.body.id}/replay`, { key: otherTenant });
    expect(replay.status).toBe(404);
    const listed = await svc.request('GET', '/v1/decisions?limit=500', { key: otherTenant });
    expect(listed.body.items.every((d: any) => d.tenant === 'globex')).toBe(true);
  });

  it('401 without a key or with an unknown one; 403 without the role', async () => {
    expect((await svc.request('POST', '/v1/decisions/refund', { idempotencyKey: newKey(), body: { case: refundCase() } })).status).toBe(401);
    const bad = await post({ case: refundCase() }, { key: 'dk_not-a-key' });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('UNAUTHENTICATED');
    const asAuditor = await post({ case: refundCase() }, { key: auditor });
    expect(asAuditor.status).toBe(403);
    expect(asAuditor.body.code).toBe('FORBIDDEN');
    const d = await post({ case: refundCase() });
    expect((await svc.request('GET', `/v1/decisions/${d.body.id}`, { key: author })).status).toBe(403);
    expect((await svc.request('GET', `/v1/decisions/${d.body.id}`, { key: service })).status).toBe(200);
    expect((await svc.request('POST', `/v1/decisions/${d.body.id}/replay`, { key: service })).status).toBe(403);
  });
});

describe('bad input is a clear 4xx naming the field, never a 500', () => {
  it('malformed JSON: 400 problem+json', async () => {
    const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: '{"case": {' });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
    expect(typeof r.body.type).toBe('string');
    expect(typeof r.body.title).toBe('string');
    expect(typeof r.body.detail).toBe('string');
  });

  it('wrong types, unknown enum values and missing fields: every offending path', async () => {
    const c = refundCase({ requestedAmount: '12', reasonCode: 'BORED', order: { items: [{ sku: 'A', amount: 1.5, finalSale: 'no', category: 'x' }] } });
    delete c.currency;
    delete c.customer.priorChargebacks;
    const r = await post({ case: c });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
    const paths = r.body.errors.map((e: any) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/case/requestedAmount',
        '/case/reasonCode',
        '/case/currency',
        '/case/customer/priorChargebacks',
        '/case/order/items/0/amount',
        '/case/order/items/0/finalSale',
      ]),
    );
  });

  it.each([
    ['requestedAmount 0', { requestedAmount: 0 }, '/case/requestedAmount'],
    ['negative capturedAmount', { order: { capturedAmount: -1 } }, '/case/order/capturedAmount'],
    ['deviceAccounts 0', { signals: { deviceAccounts: 0 } }, '/case/signals/deviceAccounts'],
    ['requestedAt not a date-time', { requestedAt: 'yesterday' }, '/case/requestedAt'],
    ['deliveredAt a number', { order: { deliveredAt: 5 } }, '/case/order/deliveredAt'],
    ['currency lowercase', { currency: 'eur' }, '/case/currency'],
    ['currency not in ISO 4217', { currency: 'ZZZ' }, '/case/currency'],
    ['currency withdrawn from ISO 4217', { currency: 'HRK' }, '/case/currency'],
    ['unknown field', { surprise: true }, '/case/surprise'],
    ['float money', { requestedAmount: 10.5 }, '/case/requestedAmount'],
    // JSON's "\ud800" escape parses to a lone surrogate, which neither PostgreSQL nor a policy's JSON reader takes: the
    // body check (http/json-body.ts) makes it the caller's 400, never a 503 from the policy.
    ['a lone surrogate in an id', { orderId: 'ord_\ud800' }, '/case/orderId'],
    ['a lone surrogate deep in the case', { order: { items: [{ sku: '\udc00', amount: 100, finalSale: false, category: 'x' }] } }, '/case/order/items/0/sku'],
  ])('%s → 400 at %s', async (_n, patch, path) => {
    const r = await post({ case: refundCase(patch) });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.path)).toContain(path);
  });

  it('no case at all, or a non-object body', async () => {
    const r = await post({});
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.path)).toContain('/case');
    const arr = await post([1, 2]);
    expect(arr.status).toBe(400);
  });

  it('a body over 1 MiB is 413', async () => {
    const huge = JSON.stringify({ case: refundCase({ refundId: 'x'.repeat(1024 * 1024 + 10) }) });
    const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: huge });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('nothing half-written: a refused request stores no decision', async () => {
    const before = await svc.request('GET', '/v1/decisions?limit=500', { key: auditor });
    await post({ case: refundCase({ requestedAmount: 'lots' }) });
    const after = await svc.request('GET', '/v1/decisions?limit=500', { key: auditor });
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it('unknown routes are problem+json 404', async () => {
    const r = await svc.request('GET', '/v1/nothing-here', { key: service });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});

describe('listing', () => {
  it('pages with opaque cursors, newest first, with filters', async () => {
    const tenantKey = await svc.issueKey('listco', ['service', 'auditor']);
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await post({ case: refundCase({ refundId: `rf_list_${i}`, disputeOpen: i % 2 === 0 }) }, { key: tenantKey });
      made.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/decisions?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page: any = await svc.request('GET', q, { key: tenantKey });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      for (const item of page.body.items) expect(item.trace).toBeUndefined();
      seen.push(...page.body.items.map((d: any) => d.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());

    const reviews = await svc.request('GET', '/v1/decisions?outcome=REVIEW&domain=refund', { key: tenantKey });
    expect(reviews.body.items).toHaveLength(4);
    expect(reviews.body.items.every((d: any) => d.outcome === 'REVIEW')).toBe(true);

    const future = await svc.request('GET', `/v1/decisions?from=${encodeURIComponent('2999-01-01T00:00:00Z')}`, { key: tenantKey });
    expect(future.body).toEqual({ items: [], nextCursor: null });
    const past = await svc.request('GET', `/v1/decisions?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`, { key: tenantKey });
    expect(past.body.items).toHaveLength(0);
  });

  it.each([
    ['limit=0', 'query:limit'],
    ['limit=501', 'query:limit'],
    ['limit=abc', 'query:limit'],
    ['outcome=MAYBE', 'query:outcome'],
    ['from=tuesday', 'query:from'],
    ['from=0000-01-01T00:00:00Z', 'query:from'],
    ['cursor=garbage', 'query:cursor'],
  ])('%s → 400', async (q, path) => {
    const r = await svc.request('GET', `/v1/decisions?${q}`, { key: auditor });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.path)).toContain(path);
  });
});

describe('replay', () => {
  it('re-evaluates stored decisions under their pinned release: identical', async () => {
    for (const patch of [{}, { disputeOpen: true }, { customer: { refundCount30d: 5, priorChargebacks: 1, accountAgeDays: 2 } }, { returnStatus: 'REJECTED' }]) {
      const d = await post({ case: refundCase(patch) });
      const r = await svc.request('POST', `/v1/decisions/${d.body.id}/replay`, { key: auditor });
      expect(r.status).toBe(200);
      expect(r.body.identical).toBe(true);
      expect(r.body.original).toEqual(d.body);
      expect(r.body.replayed.outcome).toBe(d.body.outcome);
    }
  });
});

describe('operations', () => {
  it('healthz and readyz need no key', async () => {
    expect((await svc.request('GET', '/healthz')).status).toBe(200);
    const ready = await svc.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.release.name).toBe('default');
  });

  it('serves OpenAPI 3.1 at /docs/json and a UI at /docs', async () => {
    const json = await svc.request('GET', '/docs/json');
    expect(json.status).toBe(200);
    expect(json.body.openapi).toBe('3.1.0');
    expect(Object.keys(json.body.paths)).toEqual(expect.arrayContaining(['/v1/decisions/refund', '/v1/decisions/{id}', '/v1/decisions/{id}/replay']));
    const ui = await svc.request('GET', '/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toMatch(/swagger/i);
  });

  it('admin key issuance: validated, token checked, key shown once', async () => {
    const noToken = await svc.request('POST', '/v1/admin/api-keys', { body: { tenant: 'x', roles: ['service'], name: 'n' } });
    expect(noToken.status).toBe(401);
    const wrong = await svc.request('POST', '/v1/admin/api-keys', { key: 'nope-nope-nope-nope', body: { tenant: 'x', roles: ['service'], name: 'n' } });
    expect(wrong.status).toBe(401);
    const bad = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'X Y', roles: ['wizard'], name: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(['/tenant', '/roles/0', '/name']));
    const ok = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'newco', roles: ['auditor'], name: 'audit' } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ tenant: 'newco', roles: ['auditor'] });
    expect(typeof ok.body.id).toBe('string');
    expect(ok.body.key).toMatch(/^dk_/);
  });

  it('without ADMIN_TOKEN the admin routes answer 404', async () => {
    const bare = await TestService.start('no_admin', { adminToken: undefined });
    try {
      const r = await bare.request('POST', '/v1/admin/api-keys', { key: 'anything-at-all-here', body: { tenant: 'x', roles: ['service'], name: 'n' } });
      expect(r.status).toBe(404);
    } finally {
      await bare.stop();
    }
  });
});
