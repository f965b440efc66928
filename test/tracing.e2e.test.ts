/**
 * OpenTelemetry tracing (README "Traces"), on the built service as `npm start` runs it (node --import telemetry.js):
 * with OTEL_EXPORTER_OTLP_ENDPOINT naming an OTLP/HTTP receiver in this test (JSON protocol), a decision sent with a W3C
 * traceparent continues that trace, and its spans arrive parented as documented: the HTTP server span under the caller's,
 * Fastify's request and handler spans, the service's own validate / read / evaluate (one span per pipeline step) /
 * persist spans, and pg's statements under the service span that ran them; no address, user agent or raw path leaves.
 * With the variable unset, or without the preload, nothing is sent; a collector that never answers does not hold up
 * the service's stop.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './support/content-root.js';
import { newKey } from './support/harness.js';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { refundCase } from './support/refund-cases.js';
import { ServiceProcess } from './support/service-process.js';

/** What `npm start` passes: the preload that starts the SDK when the endpoint is set. */
const PRELOAD = ['--import', pathToFileURL(join(repoRoot, 'dist/apps/decision-api/telemetry.js')).href];
const onPostgres = !!process.env.TEST_DATABASE_URL;

const SERVER = '@opentelemetry/instrumentation-http';
const FASTIFY = '@fastify/otel';
const PG = '@opentelemetry/instrumentation-pg';
const OURS = 'decision-api';

/** A caller's W3C trace context: a fresh trace id and the caller's span id. */
function caller(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function one(spans: ReceivedSpan[], scope: string, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.scope === scope && s.name === name);
  if (found.length !== 1) throw new Error(`expected one ${scope} span "${name}", got ${found.length}: ${spans.map((s) => `${s.scope}|${s.name}`).join(', ')}`);
  return found[0]!;
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId);

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let receiver: OtlpReceiver;
  let svc: ServiceProcess;
  let key: string;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    svc = await ServiceProcess.start(
      'tracing_on',
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'decision-api-under-test', LOG_LEVEL: 'info' },
      PRELOAD,
    );
    key = await svc.issueKey('acme', ['service']);
  }, 120_000);

  afterAll(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  const decisionSpans = ['decision.validate', 'decision.read', 'decision.evaluate', 'decision.step.features', 'decision.step.derive', 'decision.step.policy', 'decision.step.rules', 'decision.persist'];

  it("continues the caller's trace: server, Fastify, the service's own spans and pg statements, each under its parent", async () => {
    const ctx = caller();
    const body = { case: refundCase({ refundId: `rf-${randomUUID()}` }) };
    const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body, headers: { traceparent: ctx.traceparent } });
    expect(r.status).toBe(201);

    const spans = await receiver.waitFor(ctx.traceId, ['POST /v1/decisions/refund', ...decisionSpans]);
    expect(spans.every((s) => s.service === 'decision-api-under-test')).toBe(true);
    // The readiness probes ServiceProcess polled until the service was up made no trace.
    expect(receiver.spans.filter((s) => s.attributes['url.path'] === '/readyz')).toEqual([]);

    // The HTTP server span continues the caller's: same trace, the caller's span as parent, the route as its name.
    const server = one(spans, SERVER, 'POST /v1/decisions/refund');
    expect(server).toMatchObject({ kind: 2, parentSpanId: ctx.spanId });
    expect(server.attributes).toMatchObject({ 'http.route': '/v1/decisions/refund', 'http.response.status_code': 201 });
    const request = one(spans, FASTIFY, 'request');
    expect(request.parentSpanId).toBe(server.spanId);
    const handler = one(spans, FASTIFY, 'handler - DecisionsController.refund');
    expect(handler.parentSpanId).toBe(request.spanId);

    // The decision's own spans, in the order it makes them, under the handler; each names the decision type.
    const ours = childrenOf(spans, handler).filter((s) => s.scope === OURS);
    expect(ours.map((s) => s.name)).toEqual(expect.arrayContaining(['decision.validate', 'decision.read', 'decision.evaluate', 'decision.persist']));
    for (const s of ours) expect(s.attributes['decision.type']).toBe('refund@1.3.0');

    // One span per pipeline step of refund@1.3.0, in pipeline order, under decision.evaluate.
    const evaluate = one(spans, OURS, 'decision.evaluate');
    const steps = childrenOf(spans, evaluate);
    expect(steps.map((s) => s.name)).toEqual(['decision.step.features', 'decision.step.derive', 'decision.step.policy', 'decision.step.rules']);
    expect(steps.map((s) => s.attributes['decision.step.kind'])).toEqual(['features', 'derive', 'policy', 'rules']);
    expect(one(spans, OURS, 'decision.step.policy').attributes).toMatchObject({ 'decision.step.component': expect.stringMatching(/^refund-risk@/), 'decision.step.entrypoint': expect.any(String) });
    expect(one(spans, OURS, 'decision.step.rules').attributes).toMatchObject({ 'decision.step.component': expect.stringMatching(/^refund-policy@/) });
    for (const s of [...ours, ...steps]) expect(s.status.code ?? 0).not.toBe(2);

    if (onPostgres) {
      // The statements each service span ran are its children: the features read, then the decision's write.
      const read = one(spans, OURS, 'decision.read');
      const persist = one(spans, OURS, 'decision.persist');
      const pgUnder = (parent: ReceivedSpan) => childrenOf(spans, parent).filter((s) => s.scope === PG);
      expect(pgUnder(read).length).toBeGreaterThanOrEqual(1);
      expect(pgUnder(persist).length).toBeGreaterThanOrEqual(1);
      for (const s of [...pgUnder(read), ...pgUnder(persist)]) expect(s).toMatchObject({ kind: 3, attributes: { 'db.system.name': 'postgresql' } });
      // The transaction around them runs in the handler. Its BEGIN and the key's claim (`with claim as …`, held: HELD in
      // prepared-statements.ts) go out in the read's batch (pipelined-begin.ts), so neither has a statement, nor a span,
      // of its own; nor has the COMMIT, which goes out in the write's batch (THEN_COMMIT). (A connection that has named
      // the claim but not parsed it yet sends it alone, with a span: not so for this first decision.)
      const handled = childrenOf(spans, handler).filter((s) => s.scope === PG).map((s) => s.name);
      expect(handled.filter((n) => /^pg\.query:(WITH|s_)/.test(n))).toEqual([]);
      expect(handled.filter((n) => n.startsWith('pg.query:/*'))).toEqual([]);
      expect(handled.filter((n) => /^pg\.query:(BEGIN|COMMIT)/.test(n))).toEqual([]);
    }
  });

  it('a state change under an Idempotency-Key (a ledger purchase) sends its claim with its first statement and its answer with its COMMIT', async () => {
    if (!onPostgres) return; // PGlite sends every statement on its own: there is no batch to look at.
    const account = `acct-${randomUUID()}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${account}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    // Six: from the second purchase on, statements run named (a text is named from its second use).
    const counts: number[] = [];
    for (const n of [1, 2, 3, 4, 5, 6]) {
      const ctx = caller();
      const body = { transactionId: `tx-${n}-${randomUUID()}`, amount: 10_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' };
      const idempotencyKey = newKey();
      const r = await svc.request('POST', `/v1/ledger/accounts/${account}/transactions`, { key, idempotencyKey, body, headers: { traceparent: ctx.traceparent } });
      expect(r.status).toBe(201);
      const spans = await receiver.waitFor(ctx.traceId, ['POST /v1/ledger/accounts/:accountId/transactions', 'handler - LedgerController.purchase']);
      const handler = one(spans, FASTIFY, 'handler - LedgerController.purchase');
      const statements = () => receiver.spans.filter((s) => s.traceId === ctx.traceId && s.scope === PG && s.parentSpanId === handler.spanId).map((s) => s.name);
      // pg's spans end before the server's, but may come in a later export than the one waitFor saw: wait for the
      // three, then for two more export periods (100 ms here), so that a claim's or COMMIT's span, were there one, has
      // arrived too.
      for (let i = 0; i < 60 && statements().length < 3; i++) await new Promise((res) => setTimeout(res, 50));
      await new Promise((res) => setTimeout(res, 300));
      // The ledger's lock and read (with the claim and BEGIN in its batch), its write, the answer with the COMMIT in
      // its batch. The claim has a span of its own where it went out alone: on a pooled connection that had not
      // parsed it yet, its named use parses it first. (A BEGIN, and the write's SET, may have spans: on such a
      // connection they go out ahead of a statement's parse.)
      counts.push(statements().filter((s) => !/^pg\.query:(BEGIN|SET) /.test(s)).length);
      expect(statements().filter((s) => /^pg\.query:COMMIT/.test(s))).toEqual([]);
      // The answer was stored with the claim: the same request again replays it.
      const again = await svc.request('POST', `/v1/ledger/accounts/${account}/transactions`, { key, idempotencyKey, body });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(r.body);
    }
    // The claim is held unnamed (its first use) and, once named, on every connection that parsed it already. (The
    // lock and read it travels with must be parsed there too: on a connection the pool had not lent to these requests
    // yet, the first purchase may send it alone.)
    expect(counts.every((c) => c === 3 || c === 4)).toBe(true);
    expect(counts.slice(2).filter((c) => c === 3).length).toBeGreaterThan(0);
  });

  it("names the request's own trace in its access line, so a log line leads to its trace (no traceparent sent)", async () => {
    const requestId = `trace-log-${randomUUID()}`;
    const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) }, headers: { 'x-request-id': requestId } });
    expect(r.status).toBe(201);
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = svc.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.requestId === requestId);
      if (!line) await new Promise((res) => setTimeout(res, 50));
    }
    expect(line?.traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await receiver.waitFor(line!.traceId as string, ['POST /v1/decisions/refund', 'decision.persist']);
    expect(one(spans, SERVER, 'POST /v1/decisions/refund').parentSpanId ?? '').toBe('');
  });

  it("marks a refused case's validation span failed with the refusal's code, and runs nothing after it", async () => {
    const ctx = caller();
    const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ requestedAmount: 'a lot' }) }, headers: { traceparent: ctx.traceparent } });
    expect(r.status).toBe(400);

    const spans = await receiver.waitFor(ctx.traceId, ['POST /v1/decisions/refund', 'decision.validate']);
    const validate = one(spans, OURS, 'decision.validate');
    expect(validate.status.code).toBe(2);
    expect(validate.attributes['error.type']).toBe('VALIDATION_FAILED');
    expect(one(spans, SERVER, 'POST /v1/decisions/refund').attributes['http.response.status_code']).toBe(400);
    expect(spans.filter((s) => s.scope === OURS).map((s) => s.name)).toEqual(['decision.validate']);
  });

  it('sends no API key, no case value and no query value to the collector', async () => {
    const ctx = caller();
    const c = refundCase({ refundId: `rf-${randomUUID()}` });
    expect((await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: c }, headers: { traceparent: ctx.traceparent } })).status).toBe(201);
    const auditor = await svc.issueKey('acme', ['auditor']);
    const list = caller();
    const listed = await svc.request('GET', `/v1/decisions?customer=${encodeURIComponent(c.customerId)}&limit=5`, { key: auditor, headers: { traceparent: list.traceparent } });
    expect(listed.status).toBe(200);

    // Who called (behind a proxy: the end user's IP, their browser) and which account (a person's name in the path).
    const account = `alice-cashback-${randomUUID()}`;
    const ip = '203.0.113.77';
    const agent = `Mozilla/5.0 (Alice's laptop ${randomUUID()})`;
    const viewed = caller();
    const view = await svc.request('GET', `/v1/ledger/accounts/${account}`, { key: auditor, headers: { traceparent: viewed.traceparent, 'x-forwarded-for': ip, forwarded: `for=${ip}`, 'user-agent': agent } });
    expect([200, 404]).toContain(view.status);

    await receiver.waitFor(ctx.traceId, ['decision.persist']);
    const listSpans = await receiver.waitFor(list.traceId, ['GET /v1/decisions']);
    // The list's query string keeps its names only.
    expect(one(listSpans, SERVER, 'GET /v1/decisions').attributes['url.query']).toBe('customer=&limit=');
    // The account's spans keep the route pattern where the path was, and no address or user agent at all.
    const viewSpans = await receiver.waitFor(viewed.traceId, ['GET /v1/ledger/accounts/:accountId', 'request']);
    expect(one(viewSpans, SERVER, 'GET /v1/ledger/accounts/:accountId').attributes['url.path']).toBe('/v1/ledger/accounts/:accountId');
    expect(one(viewSpans, FASTIFY, 'request').attributes['url.path']).toBe('/v1/ledger/accounts/:accountId');
    const keys = receiver.spans.flatMap((s) => Object.keys(s.attributes));
    for (const k of ['client.address', 'network.peer.address', 'user_agent.original']) expect(keys).not.toContain(k);
    expect(keys.filter((k) => /\.address$|peer/.test(k))).toEqual([]);
    const exported = receiver.bodies.join('\n');
    for (const secret of [key, auditor, c.customerId, c.orderId, c.refundId, account, ip, agent, 'alice-cashback']) expect(exported).not.toContain(secret);
  });
});

describe('shutdown and off', () => {
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('sends the spans still batched when the service stops (SIGTERM)', async () => {
    // A batch delay longer than the test: only the flush at shutdown can send them.
    const svc = await ServiceProcess.start('tracing_flush', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '600000' }, PRELOAD);
    const ctx = caller();
    try {
      const key = await svc.issueKey('acme', ['service']);
      const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) }, headers: { traceparent: ctx.traceparent } });
      expect(r.status).toBe(201);
      expect(receiver.trace(ctx.traceId)).toEqual([]);
    } finally {
      await svc.stop();
    }
    expect(receiver.trace(ctx.traceId).map((s) => s.name)).toEqual(expect.arrayContaining(['POST /v1/decisions/refund', 'decision.evaluate', 'decision.persist']));
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT unset, sends nothing, even with the preload and every other OTEL_* variable pointing at a collector', async () => {
    // The traces-only endpoint is one the SDK would use if it ran: the service must not start it without the main variable.
    const svc = await ServiceProcess.start(
      'tracing_off',
      { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' },
      PRELOAD,
    );
    try {
      const key = await svc.issueKey('acme', ['service']);
      const ctx = caller();
      const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) }, headers: { traceparent: ctx.traceparent } });
      expect(r.status).toBe(201);
    } finally {
      // An SDK that ran would flush its batch on the way out (the test above): nothing may arrive even then.
      await svc.stop();
    }
    expect(receiver.requests).toBe(0);
  });

  it('with the endpoint set but main.js started without the preload, sends nothing and says so in one warn line', async () => {
    const svc = await ServiceProcess.start('tracing_nopreload', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50', LOG_LEVEL: 'info' });
    try {
      const key = await svc.issueKey('acme', ['service']);
      const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) }, headers: { traceparent: caller().traceparent } });
      expect(r.status).toBe(201);
    } finally {
      await svc.stop();
    }
    expect(receiver.requests).toBe(0);
    const warned = svc.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l.msg === 'string' && l.msg.includes('OpenTelemetry was not started'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain('--import');
  });

  it('stops promptly with the spans still batched and a collector that never answers (the flush is bounded)', async () => {
    // Accepts connections and never answers: the exporter would wait out its timeout and retries.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const svc = await ServiceProcess.start('tracing_silent', { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '600000' }, PRELOAD);
      try {
        const key = await svc.issueKey('acme', ['service']);
        const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) }, headers: { traceparent: caller().traceparent } });
        expect(r.status).toBe(201);
      } finally {
        await svc.stop();
      }
      // stop() sends SIGTERM and kills after its grace period: the service exited on its own, with 0, before that.
      expect(svc.exit).toEqual({ code: 0, signal: null });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
