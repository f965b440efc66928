/** Unknown query parameters are a 400 naming them, on every route: those that read a query and those that take none. */
import { ADMIN_TOKEN, newKey, TestService, type HttpResult } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let keys: { service: string; auditor: string; admin: string; author: string };

beforeAll(async () => {
  svc = await TestService.start('query_parameters');
  keys = {
    service: await svc.issueKey('acme', ['service']),
    auditor: await svc.issueKey('acme', ['auditor']),
    admin: await svc.issueKey('acme', ['admin']),
    author: await svc.issueKey('acme', ['author']),
  };
});
afterAll(() => svc?.stop());

function expectUnknown(r: HttpResult, names: string[]): void {
  expect(r.status).toBe(400);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe('VALIDATION_FAILED');
  expect(r.body.errors.map((e: { path: string }) => e.path)).toEqual(names.map((n) => `query:${n}`));
  for (const n of names) expect(r.body.detail).toContain(n);
}

describe('routes that take no query parameters refuse any', () => {
  it('the decision route (the hot path): 400 naming the parameter, nothing decided', async () => {
    const c = refundCase();
    const idem = newKey();
    const r = await svc.request('POST', '/v1/decisions/refund?dryRun=true', { key: keys.service, idempotencyKey: idem, body: { case: c } });
    expectUnknown(r, ['dryRun']);
    expect(r.body.errors[0].message).toContain('this route takes no query parameters');
    // Nothing was decided or remembered under that Idempotency-Key: the same request without the query decides now.
    const ok = await svc.request('POST', '/v1/decisions/refund', { key: keys.service, idempotencyKey: idem, body: { case: c } });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    // Decision types by name too.
    expectUnknown(await svc.request('POST', '/v1/decisions/refund?a=1&b=2', { key: keys.service, idempotencyKey: newKey(), body: { case: refundCase() } }), ['a', 'b']);
  });

  it('a read by id, the health probes and the admin route', async () => {
    const d = await svc.request('POST', '/v1/decisions/refund', { key: keys.service, idempotencyKey: newKey(), body: { case: refundCase() } });
    expectUnknown(await svc.request('GET', `/v1/decisions/${d.body.decisionId}?fields=outcome`, { key: keys.auditor }), ['fields']);
    expectUnknown(await svc.request('GET', '/healthz?verbose=1'), ['verbose']);
    expectUnknown(await svc.request('GET', '/readyz?x'), ['x']);
    expectUnknown(await svc.request('POST', '/v1/admin/api-keys?tenant=acme', { key: ADMIN_TOKEN, body: { tenant: 'acme', roles: ['service'], name: 'n' } }), ['tenant']);
  });

  it('a query string with no parameters in it is no parameter', async () => {
    expect((await svc.request('GET', '/healthz?')).status).toBe(200);
  });

  it('authentication comes first: without a key the answer is 401, whatever the query', async () => {
    expect((await svc.request('GET', '/v1/decisions?nope=1')).status).toBe(401);
  });

  it('routes with their own credentials check them first: no ADMIN_TOKEN → 404 whatever the query, METRICS_TOKEN → 401/403 before 400', async () => {
    // A service of its own (it shares nothing with svc), so this runs on the embedded store too.
    const other = await TestService.start('query_parameters_credentials', { adminToken: undefined, metricsToken: 'metrics-secret' });
    try {
      const body = { tenant: 'acme', roles: ['service'], name: 'n' };
      // Without ADMIN_TOKEN the route looks absent: a query must not reveal it by a 400.
      expect((await other.request('POST', '/v1/admin/api-keys', { body })).status).toBe(404);
      expect((await other.request('POST', '/v1/admin/api-keys?x=1', { body })).status).toBe(404);
      expect((await other.request('GET', '/metrics?x=1')).status).toBe(401);
      expect((await other.request('GET', '/metrics?x=1', { key: 'not-the-token' })).status).toBe(403);
      expectUnknown(await other.request('GET', '/metrics?x=1', { key: 'metrics-secret' }), ['x']);
    } finally {
      await other.stop();
    }
    // With ADMIN_TOKEN: a missing token is 401 whatever the query, the right token with a stray parameter is the 400.
    expect((await svc.request('POST', '/v1/admin/api-keys?x=1', { body: {} })).status).toBe(401);
  });

  it('a parameter with an empty name (`?=x`) is named as ""', async () => {
    const r = await svc.request('GET', '/healthz?=x');
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain('Unknown query parameter: ""');
  });
});

describe('routes that read a query refuse the parameters they do not read', () => {
  it('a list route: its own parameters work, a typo is a 400 naming it (not silently ignored), with what the route takes', async () => {
    expect((await svc.request('GET', '/v1/decisions?limit=1&outcome=APPROVE', { key: keys.auditor })).status).toBe(200);
    const r = await svc.request('GET', '/v1/decisions?limt=1&outcome=APPROVE&sort=desc', { key: keys.auditor });
    expectUnknown(r, ['limt', 'sort']);
    expect(r.body.errors[0].message).toContain('limit');
  });

  it('other list routes and the bundle upload alike', async () => {
    expect((await svc.request('GET', '/v1/audit?limit=2', { key: keys.auditor })).status).toBe(200);
    expectUnknown(await svc.request('GET', '/v1/audit?limit=2&tenant=globex', { key: keys.auditor }), ['tenant']);
    expect((await svc.request('GET', '/v1/api-keys?limit=2', { key: keys.admin })).status).toBe(200);
    expectUnknown(await svc.request('GET', '/v1/api-keys?all=true', { key: keys.admin }), ['all']);
    expectUnknown(await svc.request('GET', '/v1/refunds?customer=cus-1', { key: keys.auditor }), ['customer']); // it is customerId here
    expectUnknown(await svc.request('GET', '/v1/ledger/accounts?integrity=violated&tenant=x', { key: keys.auditor }), ['tenant']);
    expectUnknown(await svc.request('POST', '/v1/policy-bundles?name=p&version=1.0.0&force=1', { key: keys.author, idempotencyKey: newKey(), rawBody: new Uint8Array([1]), headers: { 'content-type': 'application/gzip' } }), ['force']);
  });
});
