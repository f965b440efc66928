/**
 * GET /metrics over HTTP on a real database (issue 12): after a known sequence of calls (decisions with known
 * outcomes on three code paths and a refused redemption, an idempotent replay, review items in two tenants, a shadow
 * evaluation, an activation whose webhook fails once, refused guesses at a key) the counters and scrape-time gauges
 * say exactly that, in Prometheus text that parses; with METRICS_TOKEN set the route answers 401 without a token, 403
 * with another, 200 with it.
 */
import { connect } from 'node:net';
import { ShadowService } from '../apps/decision-api/releases/shadow.service.js';
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';
import { parsePrometheusText, type Exposition } from './support/prometheus-text.js';
import { refundCase } from './support/refund-cases.js';
import { eventually, WebhookReceiver } from './support/webhook-receiver.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

async function scrape(svc: TestService, headers: Record<string, string> = {}): Promise<Exposition> {
  const r = await svc.request('GET', '/metrics', { headers });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(r.text);
}

/** Sends bytes on a socket of its own (Node's parser refuses them before any route) and answers the status. */
function rawStatus(svc: TestService, bytes: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(svc.baseUrl).port), '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', (e) => (text ? undefined : reject(e)));
    socket.on('close', () => resolve(Number(text.split(' ')[1])));
    socket.write(bytes);
  });
}

describe('GET /metrics after a known sequence of calls', () => {
  let svc: TestService;
  let m: Exposition;
  /** What the answers said: outcome and reason codes of each decision stored, and its release. */
  const stored: { tenant: string; type: string; outcome: string; reasons: string[]; release: string }[] = [];
  let readyz: any;
  let shadowReport: any;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // One failed credential a minute, in bursts of 2: the third wrong key from this address is refused 429.
    svc = await TestService.start('metrics', { authFailuresPerMinute: 1, authFailureBurst: 2, outboxPollMs: 50, webhookRetryBaseMs: 50, webhookRetryMaxMs: 200 });
    const acme = await svc.issueKey('acme', ['service']);
    const publisher = await svc.issueKey('acme', ['publisher']);
    // acme's webhook for release.activated: its first attempt fails (500, retried), the second is delivered.
    receiver = await WebhookReceiver.start((_r, n) => (n === 1 ? 500 : 204));
    const hook = await svc.request('POST', '/v1/webhooks', { key: await svc.issueKey('acme', ['admin']), idempotencyKey: newKey('wh'), body: { url: receiver.url, events: ['release.activated'] } });
    expect(hook.status).toBe(201);
    const globex = await svc.issueKey('globex', ['service']);
    const globexPublisher = await svc.issueKey('globex', ['publisher', 'auditor']);
    const decide = async (key: string, tenant: string, patch: Record<string, unknown>, idempotencyKey = newKey()) => {
      const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey, body: { case: refundCase(patch) } });
      expect(r.status).toBe(201);
      stored.push({ tenant, type: 'refund', outcome: r.body.outcome, reasons: r.body.reasons.map((x: { code: string }) => x.code), release: `${r.body.release.name}@${r.body.release.version}` });
      return r;
    };

    const first = newKey();
    const approved = await decide(acme, 'acme', { refundId: 'rf-1' }, first);
    expect(approved.body.outcome).toBe('APPROVE');
    expect((await decide(acme, 'acme', { refundId: 'rf-2', orderId: 'ord-2' })).body.outcome).toBe('APPROVE');
    expect((await decide(acme, 'acme', { refundId: 'rf-3', orderId: 'ord-3', disputeOpen: true })).body.outcome).toBe('REVIEW');
    // globex evaluates its decisions on default@1.0.0 in shadow too (after the answer, off the request path).
    expect((await svc.request('POST', '/v1/releases/default/1.0.0/shadow', { key: globexPublisher, idempotencyKey: newKey('sh') })).status).toBe(200);
    expect((await decide(globex, 'globex', { refundId: 'rf-9', disputeOpen: true })).body.outcome).toBe('REVIEW');
    await svc.provider(ShadowService).idle();
    shadowReport = (await svc.request('GET', '/v1/releases/shadow/report', { key: globexPublisher })).body;

    // A type of its own route (POST /v1/decisions/{type}) that records the platform's history (another code path).
    const check = { cardCode: 'ABCD7EFGH7JKLMNP', ip: '192.0.2.44', deviceId: 'phone-1', channel: 'mobile_app', requestedAt: '2026-03-04T18:00:00Z', cardFound: true };
    const gc = await svc.request('POST', '/v1/decisions/giftcard-balance-check', { key: acme, idempotencyKey: newKey(), body: { case: check } });
    expect(gc.status).toBe(201);
    expect(gc.body.outcome).toBe('ALLOW');
    stored.push({ tenant: 'acme', type: 'giftcard-balance-check', outcome: 'ALLOW', reasons: gc.body.reasons.map((x: { code: string }) => x.code), release: `${gc.body.release.name}@${gc.body.release.version}` });

    // A redemption on an empty ledger account: the gate refuses it (422), and its decision is stored all the same.
    const account = `acct-${newKey()}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${account}`, { key: globex, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    const redeem = await svc.request('POST', `/v1/ledger/accounts/${account}/redemptions`, { key: globex, idempotencyKey: newKey(), body: { redemptionId: 'rd-1', amount: 10, at: '2026-03-03T00:00:00Z' } });
    expect(redeem.status).toBe(422);
    const gateDecision = (await svc.request('GET', `/v1/decisions/${redeem.body.decisionId}`, { key: globex })).body;
    expect(gateDecision).toMatchObject({ type: 'redemption', outcome: 'DENY' });
    stored.push({ tenant: 'globex', type: 'redemption', outcome: 'DENY', reasons: gateDecision.reasons.map((x: { code: string }) => x.code), release: `${gateDecision.release.name}@${gateDecision.release.version}` });

    // The same request under the same key: the first answer again, not a second decision.
    const replay = await svc.request('POST', '/v1/decisions/refund', { key: acme, idempotencyKey: first, body: { case: refundCase({ refundId: 'rf-1' }) } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const activated = await svc.request('POST', '/v1/releases/default/1.0.0/activate', { key: publisher, idempotencyKey: newKey('act') });
    expect(activated.status).toBe(200);
    expect(activated.body.changed).toBe(true);
    // The dispatcher counts a run once it is recorded, just after the receiver answered. A scrape reuses the stored
    // state it read for 2 s (metrics-scrape.ts): wait for one that also read no delivery pending.
    await eventually('the webhook delivered and recorded', async () => {
      const now = await scrape(svc);
      const delivered = now.value('decision_platform_webhook_deliveries_total', { result: 'delivered' }) === 1;
      return receiver.accepted.length === 1 && delivered && now.matching('decision_platform_webhook_pending_deliveries').length === 0 ? true : undefined;
    });

    // Last (the address is then out of failures, and a key not yet looked up would be refused too): two wrong keys are 401; the third is refused by the failed-credential budget.
    const guesses = [];
    for (let i = 0; i < 3; i++) guesses.push((await svc.request('GET', '/v1/decisions', { key: `dk_wrong_${i}` })).status);
    expect(guesses).toEqual([401, 401, 429]);

    readyz = (await svc.request('GET', '/readyz')).body;
    m = await scrape(svc);
  });

  afterAll(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  it('counts each stored decision once by tenant, type, outcome and release, and each of its reason codes', () => {
    const decisions = m.matching('decision_platform_decisions_total');
    const expected = new Map<string, number>();
    for (const d of stored) {
      const k = JSON.stringify({ tenant: d.tenant, type: d.type, outcome: d.outcome, release: d.release });
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    expect(new Map(decisions.map((s) => [JSON.stringify({ tenant: s.labels.tenant, type: s.labels.type, outcome: s.labels.outcome, release: s.labels.release }), s.value]))).toEqual(expected);
    expect(m.value('decision_platform_decisions_total', { tenant: 'acme', type: 'refund', outcome: 'APPROVE', release: stored[0]!.release })).toBe(2);

    const reasons = new Map<string, number>();
    for (const d of stored) for (const code of d.reasons) {
      const k = `${d.tenant} ${d.type} ${d.outcome} ${code}`;
      reasons.set(k, (reasons.get(k) ?? 0) + 1);
    }
    expect(reasons.size).toBeGreaterThan(0);
    const counted = m.matching('decision_platform_decision_reasons_total');
    expect(new Map(counted.map((s) => [`${s.labels.tenant} ${s.labels.type} ${s.labels.outcome} ${s.labels.reason}`, s.value]))).toEqual(reasons);
    expect(m.value('decision_platform_decisions_total', { tenant: 'acme', type: 'giftcard-balance-check', outcome: 'ALLOW', release: stored[0]!.release })).toBe(1);
    expect(m.value('decision_platform_decisions_total', { tenant: 'globex', type: 'redemption', outcome: 'DENY', release: stored[0]!.release })).toBe(1);
  });

  it('times every evaluation and every answered decision request (the replay included)', () => {
    expect(m.value('decision_platform_decision_evaluation_seconds_count', { tenant: 'acme', type: 'refund' })).toBe(3);
    expect(m.value('decision_platform_decision_evaluation_seconds_count', { tenant: 'globex', type: 'refund' })).toBe(1);
    expect(m.value('decision_platform_decision_request_seconds_count', { tenant: 'acme', type: 'refund' })).toBe(4);
    expect(m.value('decision_platform_decision_evaluation_seconds_bucket', { tenant: 'acme', type: 'refund', le: '+Inf' })).toBe(3);
    expect(m.value('decision_platform_decision_evaluation_seconds_count', { tenant: 'acme', type: 'giftcard-balance-check' })).toBe(1);
    expect(m.value('decision_platform_decision_request_seconds_count', { tenant: 'acme', type: 'giftcard-balance-check' })).toBe(1);
  });

  it('counts HTTP answers by route template and status, the replay and the refusal', () => {
    expect(m.value('decision_platform_http_requests_total', { method: 'POST', route: '/v1/decisions/refund', status: '201' })).toBe(5);
    expect(m.value('decision_platform_http_requests_total', { method: 'POST', route: '/v1/decisions/:type', status: '201' })).toBe(1);
    expect(m.value('decision_platform_http_requests_total', { method: 'GET', route: '/v1/decisions', status: '401' })).toBe(2);
    expect(m.value('decision_platform_http_requests_total', { method: 'GET', route: '/v1/decisions', status: '429' })).toBe(1);
    expect(m.value('decision_platform_idempotent_replays_total', { tenant: 'acme', route: '/v1/decisions/refund' })).toBe(1);
    expect(m.value('decision_platform_rate_limited_total', { limit: 'failed_auth' })).toBe(1);
    expect(m.value('decision_platform_rate_limited_total', { limit: 'api_key' })).toBe(0);
  });

  it('reads the review queue per tenant when scraped', () => {
    expect(m.value('decision_platform_review_queue_depth', { tenant: 'acme' })).toBe(1);
    expect(m.value('decision_platform_review_queue_depth', { tenant: 'globex' })).toBe(1);
    expect(m.value('decision_platform_review_queue_overdue', { tenant: 'acme' })).toBe(0);
    expect(m.value('decision_platform_review_queue_oldest_age_seconds', { tenant: 'acme' })).toBeGreaterThanOrEqual(0);
    expect(m.value('decision_platform_metrics_database_up')).toBe(1);
    expect(m.matching('decision_platform_ledger_integrity_violated_accounts')).toEqual([]);
  });

  it('counts the activation and shows the active release per tenant; /readyz keeps its fields and adds a summary', () => {
    expect(m.value('decision_platform_release_activations_total', { tenant: 'acme', action: 'activate' })).toBe(1);
    expect(m.value('decision_platform_active_release_info', { tenant: 'acme', release: 'default', version: '1.0.0' })).toBe(1);
    // globex only started a shadow: the built-in release still decides for it.
    expect(m.value('decision_platform_active_release_info', { tenant: 'globex', release: 'default', version: '1.8.0' })).toBe(1);
    expect(m.matching('decision_platform_active_release_info')).toHaveLength(2);
    expect(m.matching('decision_platform_release_activations_total', { tenant: 'globex' })).toEqual([]);
    expect(m.value('decision_platform_builtin_release_info', { release: 'default', version: '1.8.0' })).toBe(1);
    expect(readyz).toMatchObject({ status: 'ready', store: svc.db.kind, release: { name: 'default', version: '1.8.0' }, tenants: { activated: 1, builtin: 1, unavailable: 0 } });
  });

  it('counts shadow evaluations as the shadow report does', () => {
    expect(shadowReport).toMatchObject({ total: 1, errors: 0 });
    const result = shadowReport.changed === 1 ? 'changed' : 'same';
    expect(m.matching('decision_platform_shadow_evaluations_total')).toEqual([{ name: 'decision_platform_shadow_evaluations_total', labels: { tenant: 'globex', result }, value: 1 }]);
    expect(m.matching('decision_platform_shadow_dropped_total')).toEqual([]);
  });

  it('counts webhook attempts and the retry, and reads the backlog (none left) when scraped', () => {
    expect(receiver.requests.map((r) => r.status)).toEqual([500, 204]);
    expect(m.value('decision_platform_webhook_deliveries_total', { result: 'failed' })).toBe(1);
    expect(m.value('decision_platform_webhook_deliveries_total', { result: 'delivered' })).toBe(1);
    expect(m.value('decision_platform_job_retries_total', { job: 'webhook_delivery' })).toBe(1);
    expect(m.matching('decision_platform_webhook_pending_deliveries')).toEqual([]);
    expect(m.value('decision_platform_outbox_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('reports the pool (PostgreSQL; PGlite has one connection and no pool) and the process', () => {
    if (svc.db.kind === 'postgresql') {
      expect(m.value('decision_platform_db_pool_connections', { state: 'max' })).toBe(8); // DB_POOL_SIZE's default
      expect(m.value('decision_platform_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
      expect(m.value('decision_platform_db_pool_waiting_requests')).toBe(0);
    } else {
      expect(m.matching('decision_platform_db_pool_connections')).toEqual([]);
    }
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it("counts the router's and the HTTP parser's answers under route unmatched", async () => {
    expect((await svc.request('GET', '/v1/rule-packs/%zz/1.0.0')).status).toBe(400);
    expect((await svc.request('GET', `/v1/rule-packs/${'a'.repeat(3000)}/1.0.0`)).status).toBe(414);
    expect(await rawStatus(svc, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toBe(431);
    expect(await rawStatus(svc, 'GARBAGE\r\n\r\n')).toBe(400);
    const after = await scrape(svc);
    expect(after.value('decision_platform_http_requests_total', { method: 'GET', route: 'unmatched', status: '400' })).toBe(1);
    expect(after.value('decision_platform_http_requests_total', { method: 'GET', route: 'unmatched', status: '414' })).toBe(1);
    expect(after.value('decision_platform_http_requests_total', { method: 'GET', route: 'unmatched', status: '431' })).toBe(1);
    // Not a method Node knows: one series for all of them, whatever bytes a caller sends.
    expect(after.value('decision_platform_http_requests_total', { method: 'other', route: 'unmatched', status: '400' })).toBe(1);
    expect(after.value('decision_platform_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched' })).toBe(3);
  });

  it('a second scrape counts nothing twice', async () => {
    const again = await scrape(svc);
    expect(again.matching('decision_platform_decisions_total')).toEqual(m.matching('decision_platform_decisions_total'));
    expect(again.value('decision_platform_review_queue_depth', { tenant: 'acme' })).toBe(1);
  });
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await TestService.start('metrics-token', { metricsToken: METRICS_TOKEN });
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('401 without a token, 403 with another (an API key or the admin token), 200 with it', async () => {
    const none = await svc.request('GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(none.body.code).toBe('UNAUTHENTICATED');

    const key = await svc.issueKey('acme', ['admin', 'auditor']);
    for (const wrong of [key, ADMIN_TOKEN, `${METRICS_TOKEN}x`]) {
      const r = await svc.request('GET', '/metrics', { key: wrong });
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('FORBIDDEN');
      expect(r.text).not.toContain('decision_platform_');
    }

    const m = await scrape(svc, { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(m.value('decision_platform_http_requests_total', { method: 'GET', route: '/metrics', status: '403' })).toBe(3);
    expect(m.value('decision_platform_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBe(1);
  });
});

describe('GET /metrics with METRICS_TOKEN set, from an address out of failures', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await TestService.start('metrics-token-budget', { metricsToken: METRICS_TOKEN, authFailuresPerMinute: 1, authFailureBurst: 2 });
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('refuses wrong tokens 429 once the budget is spent, and still answers the right one', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await svc.request('GET', '/metrics', { headers: { authorization: `Bearer wrong-${i}` } })).status);
    expect(statuses).toEqual([403, 403, 429, 429]);
    const m = await scrape(svc, { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(m.value('decision_platform_rate_limited_total', { limit: 'failed_auth' })).toBe(2);
  });
});
