/** What the scrubber leaves of a span the instrumentations filled: no address, no user agent, no raw path, no pg message. */
import { ScrubbingSpanProcessor, scrubSpan, type ScrubbableSpan } from './span-scrubber.js';

const span = (scope: string, attributes: Record<string, unknown>, status: { code: number; message?: string } = { code: 0 }, events: ScrubbableSpan['events'] = []): ScrubbableSpan => ({
  attributes: { ...attributes },
  status: { ...status },
  instrumentationScope: { name: scope },
  events,
});

describe('scrubSpan', () => {
  it("drops the caller's addresses and user agent from an HTTP server span, and puts the route where the path was", () => {
    const s = span('@opentelemetry/instrumentation-http', {
      'http.request.method': 'GET',
      'http.route': '/v1/ledger/accounts/:accountId',
      'url.path': '/v1/ledger/accounts/alice-cashback',
      'url.full': 'http://127.0.0.1:3000/v1/ledger/accounts/alice-cashback?x=',
      'http.target': '/v1/ledger/accounts/alice-cashback',
      'url.query': 'x=',
      'client.address': '203.0.113.7',
      'client.port': 51234,
      'network.peer.address': '10.0.0.5',
      'network.peer.port': 51234,
      'net.sock.peer.addr': '10.0.0.5',
      'http.client_ip': '203.0.113.7',
      'server.address': '127.0.0.1',
      'user_agent.original': 'Mozilla/5.0 (Alice)',
      'http.user_agent': 'Mozilla/5.0 (Alice)',
      'http.response.status_code': 200,
    });
    new ScrubbingSpanProcessor().onEnd(s);
    expect(s.attributes).toEqual({
      'http.request.method': 'GET',
      'http.route': '/v1/ledger/accounts/:accountId',
      'url.path': '/v1/ledger/accounts/:accountId',
      'url.full': '/v1/ledger/accounts/:accountId',
      'http.target': '/v1/ledger/accounts/:accountId',
      'url.query': 'x=',
      'http.response.status_code': 200,
    });
  });

  it('drops the raw path of a request no route matched', () => {
    const s = span('@fastify/otel', { 'url.path': '/v1/nothing/alice', 'http.request.method': 'GET' });
    scrubSpan(s);
    expect(s.attributes).toEqual({ 'http.request.method': 'GET' });
  });

  it("replaces a failed statement's PostgreSQL message (which may quote a value) with its SQLSTATE code", () => {
    const message = 'duplicate key value violates unique constraint "refunds_pkey": Key (refund_id)=(rf-alice) already exists';
    const withType = span('@opentelemetry/instrumentation-pg', { 'error.type': '23505' }, { code: 2, message });
    scrubSpan(withType);
    expect(withType.status).toEqual({ code: 2, message: '23505' });

    const fromEvent = span('@opentelemetry/instrumentation-pg', {}, { code: 2, message }, [{ attributes: { 'exception.message': "PostgreSQL error of type 'error' occurred (code: 23505)" } }]);
    scrubSpan(fromEvent);
    expect(fromEvent.status).toEqual({ code: 2, message: '23505' });

    const bare = span('@opentelemetry/instrumentation-pg', {}, { code: 2, message });
    scrubSpan(bare);
    expect(bare.status.message).toBe('PostgreSQLError');
  });

  it("leaves the service's own spans and their failure codes as they are", () => {
    const s = span('decision-api', { 'decision.type': 'refund@1.2.0', 'error.type': 'VALIDATION_FAILED' }, { code: 2, message: 'VALIDATION_FAILED' });
    scrubSpan(s);
    expect(s.attributes).toEqual({ 'decision.type': 'refund@1.2.0', 'error.type': 'VALIDATION_FAILED' });
    expect(s.status).toEqual({ code: 2, message: 'VALIDATION_FAILED' });
  });
});
