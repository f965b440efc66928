/**
 * Answers Fastify and Node's HTTP parser make on their own (unknown route, URL or headers too large, wrong media type,
 * body too large, bad JSON, not HTTP at all) are application/problem+json with a code, like every other error.
 */
import { connect } from 'node:net';
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';

let svc: TestService;
let service: string;

beforeAll(async () => {
  svc = await TestService.start('http_errors');
  service = await svc.issueKey('acme', ['service']);
});
afterAll(() => svc?.stop());

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Sends bytes as they are on a socket of its own (fetch would refuse or fix most of these) and reads the answer. */
function raw(bytes: string | Buffer): Promise<RawAnswer> {
  const { port } = new URL(svc.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e) => (chunks.length ? undefined : reject(e)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const bodyText = rest.join('\r\n\r\n');
      let body: unknown;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = bodyText;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.write(bytes);
  });
}

function expectProblem(r: { status: number; body: any }, status: number, code: string, contentType: string | null | undefined): void {
  expect({ status: r.status, code: r.body?.code }).toEqual({ status, code });
  expect(contentType).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\//), title: expect.any(String), detail: expect.any(String) });
}

describe('the router and the body parser', () => {
  it('404 for an unknown route or method', async () => {
    for (const [method, path] of [['GET', '/nope'], ['DELETE', '/healthz'], ['POST', '/v1/decisions']] as const) {
      const r = await svc.request(method, path, { key: service });
      expectProblem(r, 404, 'NOT_FOUND', r.headers.get('content-type'));
    }
  });

  it('414 for a path parameter longer than the router takes', async () => {
    const r = await svc.request('GET', `/v1/rule-packs/${'a'.repeat(3000)}/1.0.0`, { key: service });
    expectProblem(r, 414, 'URI_TOO_LONG', r.headers.get('content-type'));
  });

  it('400 for a percent-escape that does not decode', async () => {
    const r = await svc.request('GET', '/v1/rule-packs/%zz/1.0.0', { key: service });
    expectProblem(r, 400, 'MALFORMED_URL', r.headers.get('content-type'));
  });

  it('415 for a body that is not JSON', async () => {
    const r = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: '<a/>', headers: { 'content-type': 'application/xml' } });
    expectProblem(r, 415, 'UNSUPPORTED_MEDIA_TYPE', r.headers.get('content-type'));
  });

  it('413 for a body over the limit, 400 for bad or empty JSON', async () => {
    const big = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: `{"case":"${'a'.repeat(2 * 1024 * 1024)}"}` });
    expectProblem(big, 413, 'PAYLOAD_TOO_LARGE', big.headers.get('content-type'));
    const bad = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: '{bad' });
    expectProblem(bad, 400, 'MALFORMED_JSON', bad.headers.get('content-type'));
    const empty = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: '' , headers: { 'content-type': 'application/json' } });
    expectProblem(empty, 400, 'MALFORMED_JSON', empty.headers.get('content-type'));
  });
});

describe("Node's HTTP parser, before any route", () => {
  it('431 for headers over 16 KiB', async () => {
    const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectProblem(r, 431, 'HEADERS_TOO_LARGE', r.headers['content-type']);
  });

  it('414 for a request line over the limit', async () => {
    const r = await raw(`GET /v1/decisions/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectProblem(r, 414, 'URI_TOO_LONG', r.headers['content-type']);
  });

  it('400 for bytes that are not HTTP, a broken header, or a conflicting length', async () => {
    for (const bytes of [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /v1/admin/api-keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', // no Host
    ]) {
      const r = await raw(bytes);
      expectProblem(r, 400, 'MALFORMED_REQUEST', r.headers['content-type']);
    }
  });

  it('keeps serving afterwards', async () => {
    expect((await svc.request('GET', '/healthz')).status).toBe(200);
  });
});
