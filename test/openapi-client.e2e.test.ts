/**
 * The typed client generated from docs/openapi.json (openapi-typescript + openapi-fetch) drives the real service: the
 * paths, parameters and bodies below type-check only while the document describes them (npm run typecheck), and every
 * answer is checked against the status, media type and schema the document gives for it.
 */
import { randomUUID } from 'node:crypto';
import createClient from 'openapi-fetch';
import type { components, paths } from './support/api-client.js';
import { newKey, TestService } from './support/harness.js';
import { committedDocument, ContractValidator } from './support/openapi-contract.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let client: ReturnType<typeof createClient<paths>>;
let service: string;
let auditor: string;

type RefundCase = components['schemas']['RefundCase'];

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A case written against the generated type: a field the document renames or retypes breaks the typecheck here. */
function typedCase(id: string): RefundCase {
  return {
    refundId: `rf_${id}`,
    orderId: `ord_${id}`,
    customerId: `cus_${id}`,
    requestedAmount: 4999,
    currency: 'EUR',
    reasonCode: 'DAMAGED',
    channel: 'customer_portal',
    requestedAt: '2026-03-11T12:00:00Z',
    order: {
      placedAt: '2026-02-28T09:00:00Z',
      deliveredAt: '2026-03-02T15:30:00Z',
      capturedAmount: 12999,
      refundedAmount: 0,
      items: [{ sku: 'SKU-1', amount: 4999, finalSale: false, category: 'apparel' }],
    },
    customer: { accountAgeDays: 400, refundCount30d: 0, goodwillRefunds12m: 0, priorChargebacks: 0 },
    payment: { tender: 'card', cardExpired: false },
    returnStatus: 'RECEIVED',
    disputeOpen: false,
    signals: { ipRisk: 'low', deviceAccounts: 1 },
  };
}

beforeAll(async () => {
  // The calls made through the harness (keys, arranging) are checked against the document too.
  TestService.checkContract = true;
  svc = await TestService.start('openapi_client');
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  client = createClient<paths>({ baseUrl: svc.baseUrl });
  client.use(new ContractValidator(committedDocument()).middleware());
});
afterAll(() => svc?.stop());

async function decide(c: RefundCase = refundCase() as RefundCase) {
  return client.POST('/v1/decisions/refund', {
    params: { header: { 'Idempotency-Key': newKey('oa') } },
    headers: bearer(service),
    body: { case: c },
  });
}

describe('the generated client against the running service', () => {
  it('decides a refund (201, the decision document) and reads it back, trace included', async () => {
    const { data, error, response } = await decide(typedCase(randomUUID()));
    expect(error).toBeUndefined();
    expect(response.status).toBe(201);
    expect(data!.outcome).toBe('APPROVE');
    expect(data!.approvedAmount).toBe(4999);
    expect(data!.type).toBe('refund');

    const read = await client.GET('/v1/decisions/{id}', { params: { path: { id: data!.id } }, headers: bearer(auditor) });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual(data);
    expect(read.data!.trace?.length).toBeGreaterThan(0);
  });

  it('a custom type route decides too (POST /v1/decisions/{type} is the document path /v1/decisions/{id})', async () => {
    const { data, response } = await client.POST('/v1/decisions/{id}', {
      params: { path: { id: 'refund' }, header: { 'Idempotency-Key': newKey('oa') } },
      headers: bearer(service),
      body: { case: typedCase(randomUUID()) },
    });
    expect(response.status).toBe(201);
    expect(data!.release.components).toBeDefined();
  });

  it('pages through decisions with the cursor: every decision once, newest first, then nextCursor null', async () => {
    for (let i = 0; i < 3; i++) expect((await decide()).response.status).toBe(201);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { data, response } = await client.GET('/v1/decisions', { params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } }, headers: bearer(auditor) });
      expect(response.status).toBe(200);
      expect(data!.items.length).toBeLessThanOrEqual(2);
      seen.push(...data!.items.map((d) => d.id));
      cursor = data!.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort().reverse()).toEqual(seen); // UUIDv7 ids: newest first
  });

  it('answers errors as the documented problem+json: 400 naming the field, 403 for the wrong role, 404 for an unknown id', async () => {
    const bad = await decide({ ...typedCase(randomUUID()), requestedAmount: -5 });
    expect(bad.response.status).toBe(400);
    expect(bad.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.error!.code).toBe('VALIDATION_FAILED');
    expect(bad.error!.errors.map((e) => e.path)).toContain('/case/requestedAmount');

    const forbidden = await client.POST('/v1/decisions/refund', {
      params: { header: { 'Idempotency-Key': newKey('oa') } },
      headers: bearer(auditor),
      body: { case: typedCase(randomUUID()) },
    });
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.error!.code).toBe('FORBIDDEN');

    const missing = await client.GET('/v1/decisions/{id}', { params: { path: { id: randomUUID() } }, headers: bearer(auditor) });
    expect(missing.response.status).toBe(404);
    expect(missing.error!.status).toBe(404);

    const list = await client.GET('/v1/decisions', { params: { query: { limit: 501 } }, headers: bearer(auditor) });
    expect(list.response.status).toBe(400);
    expect(list.error!.errors).toEqual([{ path: 'query:limit', message: 'must be an integer from 1 to 500' }]);
  });

  it('answers 200, not the generator default 201, where the service does: replay and activation', async () => {
    const { data } = await decide();
    const replay = await client.POST('/v1/decisions/{id}/replay', { params: { path: { id: data!.id } }, headers: bearer(auditor) });
    expect(replay.response.status).toBe(200);
    expect(replay.data!.identical).toBe(true);

    const publisher = await svc.issueKey('acme', ['publisher']);
    const active = await client.GET('/v1/releases/active', { headers: bearer(publisher) });
    const activate = await client.POST('/v1/releases/{name}/{version}/activate', {
      params: { path: { name: active.data!.name, version: active.data!.version }, header: { 'Idempotency-Key': newKey('oa') } },
      headers: bearer(publisher),
    });
    expect(activate.response.status).toBe(200);
    expect(activate.data!.name).toBe(active.data!.name);
  });

  it('documents what it answers beyond the client: a body-less POST refusing a body (415), X-Request-Id, Idempotent-Replayed', async () => {
    const doc = committedDocument();
    const { data } = await decide();
    // The body is read before the route: a route that takes none still refuses one of a type no parser takes.
    const refused = await svc.request('POST', `/v1/decisions/${data!.id}/replay`, {
      key: auditor,
      rawBody: 'hello',
      headers: { 'content-type': 'text/plain', 'x-request-id': 'oa-refused-1' },
    });
    expect(refused.status).toBe(415);
    expect(refused.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', requestId: 'oa-refused-1' });
    expect(refused.headers.get('x-request-id')).toBe('oa-refused-1');
    const replayOp = doc.paths['/v1/decisions/{id}/replay']!.post!;
    expect(Object.keys(replayOp.responses['415']!.headers ?? {})).toContain('X-Request-Id');

    const key = newKey('oa');
    const body = { case: typedCase(randomUUID()) };
    const first = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: key, body });
    const again = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: key, body });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(Object.keys(doc.paths['/v1/decisions/refund']!.post!.responses['201']!.headers ?? {})).toEqual(expect.arrayContaining(['X-Request-Id', 'Idempotent-Replayed']));
  });

  it('serves the published JSON Schemas without a key, with $ids naming where they are', async () => {
    for (const path of ['/schemas/rule-pack.json', '/schemas/decision-type.json', '/schemas/release-manifest.json'] as const) {
      const { data, response } = await client.GET(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/schema\+json/);
      expect((data as { $id: string }).$id).toBe(`${svc.baseUrl}${path}`);
    }
  });
});
