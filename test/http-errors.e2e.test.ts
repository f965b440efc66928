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

  it('415 for a body that is not JSON, naming its content type, before the route runs', async () => {
    const keyBody = JSON.stringify({ tenant: 'acme', roles: ['service'], name: 'n' });
    const cases: [string, string][] = [
      ['application/xml', '<a/>'],
      ['text/plain', keyBody],
      ['application/x-www-form-urlencoded', 'tenant=acme&name=n'],
      ['multipart/form-data; boundary=x', '--x--'],
      ['application/json; charset=latin1', keyBody],
      ['application/json; charset=utf-16', keyBody],
      ['text/json', keyBody],
      ['application/jsonx', keyBody],
      ['application/gzip', keyBody], // raw bytes only where a route takes them (the bundle upload)
      ['application/json, text/plain', keyBody], // not a media type at all
    ];
    for (const [type, body] of cases) {
      const r = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: body, headers: { 'content-type': type } });
      expectProblem(r, 415, 'UNSUPPORTED_MEDIA_TYPE', r.headers.get('content-type'));
      expect(r.body.detail).toContain(JSON.stringify(type));
      expect(r.body.errors).toEqual([{ path: 'header:Content-Type', message: expect.stringContaining(JSON.stringify(type)) }]);
    }
    // On the decision route too (the hot path), with a key: still 415, nothing decided.
    const d = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: '{"case":{}}', headers: { 'content-type': 'text/plain' } });
    expectProblem(d, 415, 'UNSUPPORTED_MEDIA_TYPE', d.headers.get('content-type'));
    // A body sent with no Content-Type at all (fetch always adds one: a raw request).
    const bare = await raw(`POST /v1/admin/api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expectProblem(bare, 415, 'UNSUPPORTED_MEDIA_TYPE', bare.headers['content-type']);
    expect(bare.body.errors).toEqual([{ path: 'header:Content-Type', message: 'is missing' }]);
  });

  it('JSON is application/json or application/*+json, in UTF-8 (no charset or utf-8, any case); bodyless requests need no type', async () => {
    for (const type of ['application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/merge-patch+json', 'application/vnd.acme+json; charset=utf-8']) {
      const r = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'acme', roles: ['service'], name: 'n' }, headers: { 'content-type': type } });
      expect({ type, status: r.status }).toEqual({ type, status: 201 });
    }
    // A request without a body is not concerned, whatever Content-Type it names.
    const get = await svc.request('GET', '/v1/decisions?limit=1', { key: service, headers: { 'content-type': 'text/plain' } });
    expect(get.status).toBe(200);
    const empty = await raw(`POST /v1/releases/rollback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${service}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    expect(empty.status).toBe(403); // a service key may not roll back: the route ran, no 415
  });

  it('413 for a body over the limit, 400 for bad or empty JSON', async () => {
    const big = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: `{"case":"${'a'.repeat(2 * 1024 * 1024)}"}` });
    expectProblem(big, 413, 'PAYLOAD_TOO_LARGE', big.headers.get('content-type'));
    const bad = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: '{bad' });
    expectProblem(bad, 400, 'MALFORMED_JSON', bad.headers.get('content-type'));
    expect(bad.body.errors).toEqual([{ path: '/', message: 'is not valid JSON' }]);
    // Valid JSON with a key the parser refuses (prototype poisoning): the path, not "not valid JSON".
    for (const [rawBody, path] of [
      ['{"case":{"__proto__":{"x":1}}}', '/case/__proto__'],
      ['{"case":{"a":[{"constructor":{"prototype":{}}}]}}', '/case/a/0/constructor'],
    ] as const) {
      const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody });
      expectProblem(r, 400, 'MALFORMED_JSON', r.headers.get('content-type'));
      expect(r.body.errors).toEqual([{ path, message: 'is a name every JavaScript object has (not a field of this API)' }]);
    }
    const empty = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, rawBody: '' , headers: { 'content-type': 'application/json' } });
    expectProblem(empty, 400, 'MALFORMED_JSON', empty.headers.get('content-type'));
    // Bytes that are not UTF-8 (a lone 0xFF, a truncated sequence) inside a string: 400, not decided as U+FFFD.
    for (const bytes of [[0xff], [0xe2, 0x82]]) {
      const body = Buffer.concat([Buffer.from('{"case":{"refundId":"'), Buffer.from(bytes), Buffer.from('"}}')]);
      const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), rawBody: new Uint8Array(body), headers: { 'content-type': 'application/json' } });
      expectProblem(r, 400, 'MALFORMED_JSON', r.headers.get('content-type'));
      expect(r.body.errors).toEqual([{ path: '/', message: 'is not valid UTF-8' }]);
    }
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
