/**
 * The log, read from the outside: the built service runs as a process of its own (LOG_LEVEL=debug) and a known sequence
 * of calls goes through it: decisions with personal values and a gift card code, a wrong key, an unknown route, a
 * malformed body, an oversized one, the caller's x-request-id (usable and not), a W3C traceparent. Then every line it
 * wrote to stdout is read: all are JSON, each request has exactly one access line with the right fields, and no key,
 * Authorization value, card code or personal value appears anywhere.
 */
import { ADMIN_TOKEN, newKey } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';
import { ServiceProcess } from './support/service-process.js';

const RAW = {
  customer: 'cus-LOGS-Pangolin-5521',
  device: 'dev-LOGS-Okapi-3307',
  card: 'GCLOGSTAPIR99120417',
  otherCard: 'GCLOGSSAOLA44018832',
  email: 'pangolin.logs@example.org',
  ip: '198.18.91.17',
  wrongKey: 'dk_LOGSwrongKeyThatLooksReal0123456789abcdef',
};
const TRACE_ID = '5c1fd3b2a9e84f0b8c2d7e6f1a0b9c8d';
const PARENT_SPAN = 'a1b2c3d4e5f60718';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Sent {
  what: string;
  method: string;
  route: string | null;
  status: number;
  requestId: string;
  body: any;
}

interface AccessLine {
  level: string;
  msg: string;
  method: string;
  route: string | null;
  status: number;
  durationMs: number;
  requestId: string;
  tenant?: string;
  keyId?: string;
  decisionId?: string;
  traceId?: string;
  parentSpanId?: string;
}

let svc: ServiceProcess | undefined;
let stopped = false;
const sent: Sent[] = [];
const secrets: Record<string, string> = {};
let serviceKeyId = '';
let lines: string[] = [];
let parsed: Record<string, unknown>[] = [];
let access: AccessLine[] = [];

beforeAll(async () => {
  svc = await ServiceProcess.start('logging', { LOG_LEVEL: 'debug', LOG_PRETTY: 'false' });
  const service = svc;
  const call = async (what: string, method: string, route: string | null, path: string, o: Parameters<ServiceProcess['request']>[2] = {}) => {
    const r = await service.request(method, path, o);
    const requestId = r.headers.get('x-request-id') ?? '';
    sent.push({ what, method, route, status: r.status, requestId, body: r.body });
    return r;
  };
  const issued = await call('issue key', 'POST', '/v1/admin/api-keys', '/v1/admin/api-keys', {
    key: ADMIN_TOKEN,
    body: { tenant: 'logs', roles: ['service', 'auditor'], name: 'logging' },
  });
  expect(issued.status).toBe(201);
  const key = issued.body.key as string;
  serviceKeyId = issued.body.id as string;
  Object.assign(secrets, { key, adminToken: ADMIN_TOKEN, wrongKey: RAW.wrongKey, card: RAW.card, otherCard: RAW.otherCard, customer: RAW.customer, device: RAW.device, email: RAW.email, ip: RAW.ip });

  const decide = (what: string, type: string, c: unknown, headers: Record<string, string> = {}) =>
    call(what, 'POST', type === 'refund' ? '/v1/decisions/refund' : '/v1/decisions/:type', `/v1/decisions/${type}`, { key, idempotencyKey: newKey('logs'), body: { case: c }, headers });
  const firstKey = newKey('logs');
  const firstCase = refundCase({ customerId: RAW.customer, deviceId: RAW.device });
  expect(
    (await call('refund decision', 'POST', '/v1/decisions/refund', '/v1/decisions/refund', { key, idempotencyKey: firstKey, body: { case: firstCase }, headers: { 'x-request-id': 'caller-req-0001' } })).status,
  ).toBe(201);
  const card = { cardCode: RAW.card, ip: RAW.ip, deviceId: RAW.device, channel: 'web', requestedAt: '2026-03-02T09:00:00Z' };
  expect((await decide('gift card check', 'giftcard-balance-check', { ...card, cardCode: RAW.otherCard, cardFound: false })).status).toBe(201);
  expect((await decide('gift card redemption', 'giftcard-redemption', { ...card, customerId: RAW.customer, email: RAW.email, amount: 2500, currency: 'EUR' })).status).toBe(201);
  expect((await call('wrong key', 'POST', '/v1/decisions/refund', '/v1/decisions/refund', { key: RAW.wrongKey, idempotencyKey: newKey('logs'), body: { case: {} } })).status).toBe(401);
  expect((await call('unknown route', 'GET', null, '/v1/no-such-route')).status).toBe(404);
  expect(
    (
      await call('bad JSON', 'POST', '/v1/decisions/refund', '/v1/decisions/refund', {
        key,
        idempotencyKey: newKey('logs'),
        rawBody: `{"case":{"customerId":"${RAW.customer}",`,
        headers: { 'x-request-id': 'caller-bad-json' },
      })
    ).status,
  ).toBe(400);
  const huge = `{"case":{"cardCode":"${RAW.card}","pad":"${'x'.repeat(1024 * 1024)}"}}`;
  expect((await call('oversized body', 'POST', '/v1/decisions/:type', '/v1/decisions/giftcard-balance-check', { key, idempotencyKey: newKey('logs'), rawBody: huge })).status).toBe(413);
  expect((await call('unusable request id', 'GET', '/healthz', '/healthz', { headers: { 'x-request-id': 'has spaces and "quotes"' } })).status).toBe(200);
  const made = sent.find((s) => s.what === 'refund decision')!;
  expect(
    (await call('traceparent', 'GET', '/v1/decisions/:id', `/v1/decisions/${made.body.id}`, { key, headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` } })).status,
  ).toBe(200);
  expect((await call('malformed traceparent', 'GET', '/healthz', '/healthz', { headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-1` } })).status).toBe(200);
  // Decisions made by other routes, and answers that name a decision without making one: each access line names it.
  const first = sent.find((s) => s.what === 'refund decision')!;
  const again = await call('idempotent replay', 'POST', '/v1/decisions/refund', '/v1/decisions/refund', { key, idempotencyKey: firstKey, body: { case: firstCase } });
  expect([again.status, again.headers.get('idempotent-replayed'), again.body.id]).toEqual([201, 'true', first.body.id]);
  expect((await call('decision replay', 'POST', '/v1/decisions/:id/replay', `/v1/decisions/${first.body.id}/replay`, { key })).status).toBe(200);
  const account = `acct-logs-${newKey('a')}`;
  expect((await call('ledger account', 'PUT', '/v1/ledger/accounts/:accountId', `/v1/ledger/accounts/${account}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
  // An empty account: the gate refuses (422), and its decision is stored all the same.
  const redemption = { redemptionId: 'rd-logs-1', amount: 10, at: '2026-03-03T00:00:00Z' };
  const redeemKey = newKey('logs');
  expect((await call('redemption gate', 'POST', '/v1/ledger/accounts/:accountId/redemptions', `/v1/ledger/accounts/${account}/redemptions`, { key, idempotencyKey: redeemKey, body: redemption })).status).toBe(422);
  expect((await call('redemption gate replay', 'POST', '/v1/ledger/accounts/:accountId/redemptions', `/v1/ledger/accounts/${account}/redemptions`, { key, idempotencyKey: redeemKey, body: redemption })).status).toBe(422);
  const review = await call('decision for review', 'POST', '/v1/decisions/refund', '/v1/decisions/refund', { key, idempotencyKey: newKey('logs'), body: { case: refundCase({ refundId: 'rf-logs-review', orderId: 'ord-logs-review', disputeOpen: true }) } });
  expect(review.body.outcome).toBe('REVIEW');
  const reviewer = (await service.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'logs', roles: ['reviewer'], name: 'logging-reviewer' } })).body.key as string;
  secrets.reviewerKey = reviewer;
  const queue = await service.request('GET', '/v1/reviews', { key: reviewer });
  const item = (queue.body.items as { id: string; decisionId: string }[]).find((i) => i.decisionId === review.body.id)!;
  expect((await service.request('POST', `/v1/reviews/${item.id}/claim`, { key: reviewer, idempotencyKey: newKey('logs') })).status).toBe(200);
  const resolved = await call('review resolution', 'POST', '/v1/reviews/:id/resolve', `/v1/reviews/${item.id}/resolve`, { key: reviewer, idempotencyKey: newKey('logs'), body: { resolution: 'DENY', reasonCode: 'FRAUD_SUSPECTED' } });
  expect(resolved.status).toBe(200);
  expect(resolved.body.resolutionDecisionId).toEqual(expect.any(String));
  // A raw customer id in a query (a subject-access request): the access line names the route, never the URL.
  expect((await call('subject access', 'GET', '/v1/decisions', `/v1/decisions?customer=${encodeURIComponent(RAW.customer)}`, { key })).status).toBe(200);

  // SIGTERM: the service stops; every line it wrote has been read.
  await service.stop();
  stopped = true;
  lines = service.stdout.filter((l) => l.trim() !== '');
  parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  access = parsed.filter((l) => l.msg === 'request') as unknown as AccessLine[];
}, 120_000);

afterAll(async () => {
  if (!stopped) await svc?.stop();
});

describe('the log of a known sequence of calls', () => {
  it('is JSON lines, every one of them, with a level and a time; Nest wrote its start through it', () => {
    expect(lines.length).toBeGreaterThan(sent.length);
    for (const l of parsed) {
      expect(typeof l.level).toBe('string');
      expect(typeof l.time).toBe('string');
      expect(typeof l.msg).toBe('string');
    }
    expect(parsed.some((l) => l.context === 'NestFactory' && l.msg === 'Starting Nest application...')).toBe(true);
    expect(parsed.some((l) => typeof l.msg === 'string' && l.msg.startsWith('decision-api listening on '))).toBe(true);
  });

  it('has exactly one access line per request, with method, route pattern, status, duration and request id', () => {
    for (const s of sent) {
      const mine = access.filter((a) => a.requestId === s.requestId);
      expect({ what: s.what, lines: mine.length }).toEqual({ what: s.what, lines: 1 });
      const a = mine[0]!;
      expect({ what: s.what, method: a.method, route: a.route, status: a.status, level: a.level }).toEqual({
        what: s.what,
        method: s.method,
        route: s.route,
        status: s.status,
        level: 'info',
      });
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }
    // No request was logged twice (the readiness polls included).
    const ids = access.map((a) => a.requestId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names the tenant, the key and the decision on every route that makes, answers again or reads a decision, and no tenant for a wrong key', () => {
    const refundId = sent.find((x) => x.what === 'refund decision')!.body.id as string;
    const gateId = sent.find((x) => x.what === 'redemption gate')!.body.decisionId as string;
    const expected: Record<string, string> = {
      'refund decision': refundId,
      'gift card check': sent.find((x) => x.what === 'gift card check')!.body.id,
      'gift card redemption': sent.find((x) => x.what === 'gift card redemption')!.body.id,
      traceparent: refundId,
      'idempotent replay': refundId,
      'decision replay': refundId,
      'redemption gate': gateId,
      'redemption gate replay': gateId,
      'review resolution': sent.find((x) => x.what === 'review resolution')!.body.resolutionDecisionId,
    };
    for (const [what, decisionId] of Object.entries(expected)) {
      const s = sent.find((x) => x.what === what)!;
      const a = access.find((x) => x.requestId === s.requestId)!;
      expect(decisionId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
      expect({ what, tenant: a.tenant, decisionId: a.decisionId }).toEqual({ what, tenant: 'logs', decisionId });
      if (what !== 'review resolution') expect({ what, keyId: a.keyId }).toEqual({ what, keyId: serviceKeyId });
    }
    // A ledger write that makes no decision names none.
    expect(access.find((x) => x.requestId === sent.find((s) => s.what === 'ledger account')!.requestId)!.decisionId).toBeUndefined();
    const wrong = access.find((x) => x.requestId === sent.find((s) => s.what === 'wrong key')!.requestId)!;
    expect(wrong.tenant).toBeUndefined();
    expect(wrong.keyId).toBeUndefined();
    expect(wrong.decisionId).toBeUndefined();
  });

  it("keeps the caller's usable x-request-id (header, problem body, log) and replaces an unusable one", () => {
    const decided = sent.find((s) => s.what === 'refund decision')!;
    expect(decided.requestId).toBe('caller-req-0001');
    const bad = sent.find((s) => s.what === 'bad JSON')!;
    expect(bad.requestId).toBe('caller-bad-json');
    expect(bad.body).toMatchObject({ status: 400, code: 'MALFORMED_JSON', requestId: 'caller-bad-json' });
    expect(access.filter((a) => a.requestId === 'caller-bad-json')).toHaveLength(1);
    expect(sent.find((s) => s.what === 'unusable request id')!.requestId).toMatch(UUID);
  });

  it('echoes a generated request id on every answer, in the header and in every problem body', () => {
    for (const s of sent) {
      expect({ what: s.what, requestId: s.requestId }).toEqual({ what: s.what, requestId: expect.stringMatching(/^[\w.:;=+/@~-]{1,128}$/) });
      // A replayed refusal is the stored answer, byte for byte: it names the request that made it.
      const made = s.what === 'redemption gate replay' ? sent.find((x) => x.what === 'redemption gate')!.requestId : s.requestId;
      if (s.status >= 400) expect({ what: s.what, requestId: s.body?.requestId }).toEqual({ what: s.what, requestId: made });
    }
  });

  it('logs the trace id and parent span of a valid traceparent, and nothing of a malformed one', () => {
    const traced = access.find((a) => a.requestId === sent.find((s) => s.what === 'traceparent')!.requestId)!;
    expect(traced).toMatchObject({ traceId: TRACE_ID, parentSpanId: PARENT_SPAN });
    const malformed = access.find((a) => a.requestId === sent.find((s) => s.what === 'malformed traceparent')!.requestId)!;
    expect(malformed.traceId).toBeUndefined();
    expect(access.filter((a) => a.traceId !== undefined)).toHaveLength(1);
  });

  it('holds no API key, Authorization value, card code or personal value anywhere', () => {
    const all = (lines.join('\n') + '\n' + svc!.log).toLowerCase();
    // The scan reads the real log: the decisions' ids and the key's id are there.
    expect(all).toContain(serviceKeyId.toLowerCase());
    const found = Object.entries(secrets).filter(([, v]) => all.includes(v.toLowerCase()));
    expect(found.map(([name]) => name)).toEqual([]);
    expect(all).not.toMatch(/bearer /);
  });
});
