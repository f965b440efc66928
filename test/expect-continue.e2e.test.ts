/**
 * `Expect: 100-continue`: a request the service answers from its headers alone (a declared body over the limit, a
 * media type no route takes) gets that answer without a `100 Continue` first, so the client never sends the body; a
 * request whose body is read gets the 100, then its answer. Node's http client sends the body only on 'continue'.
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { newKey, TestService } from './support/harness.js';

let svc: TestService;
let service: string;

beforeAll(async () => {
  svc = await TestService.start('expect_continue');
  service = await svc.issueKey('acme', ['service']);
});
afterAll(() => svc?.stop());

interface Exchange {
  continued: boolean;
  /** Body bytes this client wrote (only after a 100 Continue). */
  sent: number;
  status: number;
  connection: string | undefined;
  body: string;
}

/** A POST that declares `length` bytes and asks for a 100 Continue; `body` is sent only if one comes. */
function expecting(path: string, headers: Record<string, string>, body: Buffer, length = body.length): Promise<Exchange> {
  const { port } = new URL(svc.baseUrl);
  return new Promise((resolve, reject) => {
    let continued = false;
    let sent = 0;
    const req = request({ host: '127.0.0.1', port: Number(port), method: 'POST', path, headers: { ...headers, expect: '100-continue', 'content-length': String(length) } });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('continue', () => {
      continued = true;
      sent = body.length;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ continued, sent, status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(chunks).toString() });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

it('a declared body over the limit is answered 413 with no 100 Continue before it, and the connection closes', async () => {
  const a = await expecting('/v1/decisions/refund', { authorization: `Bearer ${service}`, 'content-type': 'application/json', 'idempotency-key': newKey() }, Buffer.alloc(0), 10 * 1024 * 1024);
  expect(a).toMatchObject({ continued: false, sent: 0, status: 413, connection: 'close' });
  expect(JSON.parse(a.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
});

it('a media type no route takes is answered 415 with no 100 Continue before it', async () => {
  const a = await expecting('/v1/decisions/refund', { authorization: `Bearer ${service}`, 'content-type': 'text/plain', 'idempotency-key': newKey() }, Buffer.from('hello'));
  expect(a).toMatchObject({ continued: false, sent: 0, status: 415, connection: 'close' });
});

it('a body the route reads gets its 100 Continue, then the answer, on a connection that stays open', async () => {
  const body = readFileSync(new URL('../docs/examples/refund-case.json', import.meta.url));
  const a = await expecting('/v1/decisions/refund', { authorization: `Bearer ${service}`, 'content-type': 'application/json', 'idempotency-key': newKey() }, body);
  expect(a).toMatchObject({ continued: true, sent: body.length, status: 201 });
  expect(a.connection).not.toBe('close');
  expect(JSON.parse(a.body)).toMatchObject({ type: 'refund' });
});

it('a bundle upload over its own limit is refused from its headers too', async () => {
  const author = await svc.issueKey('acme', ['author']);
  const a = await expecting('/v1/policy-bundles', { authorization: `Bearer ${author}`, 'content-type': 'application/gzip' }, Buffer.alloc(0), 1024 * 1024 * 1024);
  expect(a).toMatchObject({ continued: false, sent: 0, status: 413, connection: 'close' });
});

it('another expectation is answered as if it were absent, with a problem body and a request id (not a bare 417)', async () => {
  const { port } = new URL(svc.baseUrl);
  const body = '{}';
  const answer = await new Promise<{ status: number; type: string | undefined; requestId: string | undefined }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: Number(port),
      method: 'POST',
      path: '/v1/decisions/refund',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json', expect: 'foo', 'idempotency-key': newKey(), 'content-length': String(body.length) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], requestId: res.headers['x-request-id'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
  expect(answer.status).toBe(400);
  expect(answer.type).toMatch(/^application\/problem\+json/);
  expect(answer.requestId).toBeTruthy();
});
