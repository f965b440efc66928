/** The HTTP adapter against a fake Stripe-style provider on a loopback port (node:http), one behaviour per test. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpProvider } from './http.js';
import { payoutIdempotencyKey, type RefundRequest } from './provider.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server;
let url: string;
let handler: Handler;
const seen: { key: string | undefined; body: string; auth: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ key: req.headers['idempotency-key'] as string | undefined, body, auth: req.headers.authorization });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
});

const req: RefundRequest = { refundId: 'rf-1', amount: 1250, currency: 'EUR', idempotencyKey: payoutIdempotencyKey('t1', 'rf-1') };
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const refundObject = (over: Record<string, unknown> = {}) => ({
  id: 're_123',
  object: 'refund',
  amount: 1250,
  currency: 'eur',
  status: 'succeeded',
  metadata: { refundId: 'rf-1' },
  ...over,
});

describe('HttpProvider', () => {
  // Generous for answers (a loaded CI machine can take >300 ms to schedule the fake server); the timeout test uses its own short one.
  const provider = (timeoutMs = 10_000) => new HttpProvider({ url, timeoutMs, apiKey: 'sk_test' });

  it('sends a form-encoded Stripe-style refund with the idempotency key and reads a succeeded refund', async () => {
    handler = (_r, _b, res) => json(res, 200, refundObject());
    await expect(provider().refund(req)).resolves.toEqual({ status: 'succeeded', providerRef: 're_123' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.key).toBe(req.idempotencyKey);
    expect(seen[0]!.auth).toBe('Bearer sk_test');
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({ amount: '1250', currency: 'eur', 'metadata[refundId]': 'rf-1' });
  });

  it('a key answered twice (the provider replays the same refund object) is the same success, not a second one', async () => {
    const paid = new Map<string, ReturnType<typeof refundObject>>();
    handler = (r, _b, res) => {
      const key = r.headers['idempotency-key'] as string;
      if (!paid.has(key)) paid.set(key, refundObject({ id: `re_${paid.size + 1}` }));
      json(res, 200, paid.get(key));
    };
    const first = await provider().refund(req);
    const again = await provider().refund(req);
    expect(first).toEqual({ status: 'succeeded', providerRef: 're_1' });
    expect(again).toEqual(first);
    expect(paid.size).toBe(1);
    expect(new Set(seen.map((s) => s.key))).toEqual(new Set([req.idempotencyKey]));
  });

  it('a 500 is a retryable failure naming the provider error', async () => {
    handler = (_r, _b, res) => json(res, 500, { error: { type: 'api_error', code: 'internal', message: 'boom' } });
    await expect(provider().refund(req)).resolves.toEqual({ status: 'failed', reason: 'HTTP 500: internal: boom', retryable: true });
  });

  it('a 402 decline is a failure that is not retried; a refund object that failed is one too', async () => {
    handler = (_r, _b, res) => json(res, 402, { error: { code: 'charge_disputed', message: 'disputed' } });
    await expect(provider().refund(req)).resolves.toEqual({ status: 'failed', reason: 'HTTP 402: charge_disputed: disputed', retryable: false });
    handler = (_r, _b, res) => json(res, 200, refundObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' }));
    await expect(provider().refund(req)).resolves.toEqual({ status: 'failed', reason: 'refund re_123 failed: expired_or_canceled_card', retryable: false });
  });

  it('no answer within the timeout is unknown (never a success, never a failure)', async () => {
    handler = () => undefined; // never answers
    const r = await provider(300).refund(req);
    expect(r.status).toBe('unknown');
    expect(r).toMatchObject({ reason: expect.stringContaining('no answer within 300 ms') });
  });

  it.each([
    ['not JSON', (res: ServerResponse) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html>ok</html>'))],
    ['an empty body', (res: ServerResponse) => (res.writeHead(200), res.end())],
    ['an array', (res: ServerResponse) => json(res, 200, [refundObject()])],
    ['another refund id', (res: ServerResponse) => json(res, 200, refundObject({ metadata: { refundId: 'rf-2' } }))],
    ['another amount', (res: ServerResponse) => json(res, 200, refundObject({ amount: 1251 }))],
    ['another currency', (res: ServerResponse) => json(res, 200, refundObject({ currency: 'usd' }))],
    ['no id', (res: ServerResponse) => json(res, 200, refundObject({ id: '' }))],
    ['a pending refund', (res: ServerResponse) => json(res, 200, refundObject({ status: 'pending' }))],
    ['a status it does not know', (res: ServerResponse) => json(res, 200, refundObject({ status: 'paid' }))],
    ['409 (the key is in use by a concurrent request)', (res: ServerResponse) => json(res, 409, { error: { code: 'idempotency_key_in_use' } })],
  ])('a 2xx with garbage — %s — is unknown', async (_what, answer) => {
    handler = (_r, _b, res) => answer(res);
    await expect(provider().refund(req)).resolves.toMatchObject({ status: 'unknown' });
  });

  it('a provider that cannot be reached is unknown', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(new HttpProvider({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 }).refund(req)).resolves.toMatchObject({ status: 'unknown' });
  });

  it('the idempotency key depends on tenant and refund id only', () => {
    expect(payoutIdempotencyKey('t1', 'rf-1')).toBe(payoutIdempotencyKey('t1', 'rf-1'));
    expect(payoutIdempotencyKey('t1', 'rf-1')).not.toBe(payoutIdempotencyKey('t2', 'rf-1'));
    expect(payoutIdempotencyKey('t1', 'rf-1')).not.toBe(payoutIdempotencyKey('t1', 'rf-2'));
    // Unambiguous: (a, "b\0c") and ("a\0b", c) are different refunds.
    expect(payoutIdempotencyKey('a', 'b\u0000c')).not.toBe(payoutIdempotencyKey('a\u0000b', 'c'));
    expect(payoutIdempotencyKey('t1', 'rf-1')).toMatch(/^[\x21-\x7e]{1,255}$/);
  });
});
