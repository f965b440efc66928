/**
 * Builds one route's fuzzed requests: its own valid-shaped path parameters, query and body (routes.ts), mixed with
 * the oddities every route gets (values.ts for bodies; here paths, queries and headers), so most requests reach the
 * handler and the rest probe every layer in front of it.
 */
import fc from 'fast-check';
import { applyMutations, encode, encoding, mutation, oddValue, toJsonText, tweak } from './values.js';
import { printable, type WireRequest } from './wire.js';

/** Replaced by a new Idempotency-Key each time the request is sent (so a shrunk request is still a first request). */
export const FRESH_KEY = '<fresh>';

export interface Credentials {
  /** A key of the fuzzed tenant with every role. */
  key: string;
  /** A key of another tenant with every role. */
  otherTenant: string;
  /** A key of the fuzzed tenant with a role no route needs. */
  noRole: string;
  adminToken: string;
}

/** What a route's requests look like when they are well-formed: the part a route's own generator supplies. */
export interface RouteGenerator {
  /** Per path parameter, valid-shaped values (unencoded). */
  params?: Record<string, fc.Arbitrary<string>>;
  /** Per query parameter, valid-shaped values (unencoded). */
  query?: Record<string, fc.Arbitrary<string>>;
  /** A valid-shaped JSON body. */
  body?: fc.Arbitrary<unknown>;
  /** Binary bodies (policy bundles) instead of JSON. */
  binary?: fc.Arbitrary<Buffer>;
  /** Well-formed binary uploads whose query must match the bytes (a bundle's name and version): used together. */
  upload?: fc.Arbitrary<{ query: Record<string, string>; body: Buffer }>;
  /** Authorised by ADMIN_TOKEN rather than an API key; or no credentials needed. */
  auth?: 'admin' | 'none';
}

export interface RouteShape {
  method: string;
  /** OpenAPI template: /v1/decisions/{id}. */
  template: string;
  /** Query parameters the OpenAPI document declares (besides those of the generator). */
  queryNames: string[];
  /** Of those, the ones it requires: always there in a well-formed request. */
  requiredQuery: string[];
  idempotent: boolean;
  hasBody: boolean;
}

/** Percent-encodes every byte outside the unreserved set (a lone surrogate becomes U+FFFD, as UTF-8 has no other way). */
export const encodeWire = (s: string): string =>
  [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

/** Path segments as they appear on the wire: bad escapes, encoded slashes and dots, NUL, raw bytes, lengths. */
const oddSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(
    '%00', 'a%00b', '%2F', 'a%2Fb', '%2f..%2f', '..', '.', '%2e%2e', '%2E', '%C0%80', '%C0%AF', '%FF', '%E0%80%80', '%ED%A0%80', '%F4%90%80%80',
    '%uD800', '%', '%zz', '%2', '%25', '+', '%20', '%09', '%0A', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null',
    'undefined', '-1', '0', '1e400', '%E2%80%AE', '\u00c3\u00a9' /* é as raw UTF-8 bytes */, '\u00ff', '\u00c0\u0080', ';', 'a;b=c', '~', '*', '@',
    'a@1.0.0', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-7fff-bfff-ffffffffffff', '019a0000-0000-7000-8000-000000000000', 'ABCDEF00-0000-7000-8000-000000000000',
    '1.0.0', '01.0.0', '1.0.0-rc.1%2Bbuild.5', '999999999999999999999.0.0', 'refund', 'default', 'Refund', 'a-', '-a', 'a--b',
  ) },
  { weight: 1, arbitrary: fc.integer({ min: 99, max: 102 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(300, 2_000, 20_000).map((n) => 'a'.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map(encodeWire) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map(encodeWire) },
);

function segment(valid: fc.Arbitrary<string> | undefined, odd: boolean): fc.Arbitrary<string> {
  const ok = (valid ?? fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/)).map(encodeWire);
  return odd ? fc.oneof({ weight: 3, arbitrary: ok }, { weight: 1, arbitrary: oddSegment }) : ok;
}

/** A query string: the route's parameters valid, odd, repeated or bracketed, plus parameters no route knows. */
function queryArb(names: Record<string, fc.Arbitrary<string>>, odd: boolean, required: string[]): fc.Arbitrary<string> {
  const text = (v: unknown) => encodeWire(typeof v === 'string' ? v : toJsonText(v));
  const value = (valid: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 5, arbitrary: valid.map(encodeWire) },
      // Of the parameter's own kind, past an edge: a date by an odd date, a number by an odd number.
      { weight: 3, arbitrary: fc.tuple(valid, fc.nat()).map(([v, pick]) => text(tweak(/^\d+$/.test(v) ? Number(v) : v, pick))) },
      { weight: 2, arbitrary: oddSegment },
      { weight: 1, arbitrary: oddValue.map(text) },
    );
  if (!odd) {
    const clean = Object.entries(names).map(([name, valid]) => {
      const pair = valid.map((v) => `${name}=${encodeWire(v)}`);
      return required.includes(name) ? pair : fc.option(pair, { nil: undefined });
    });
    return fc.tuple(...clean).map((parts) => {
      const set = parts.filter((p) => p !== undefined);
      return set.length === 0 ? '' : `?${set.join('&')}`;
    });
  }
  const perName = Object.entries(names).map(([name, valid]) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant([] as string[]) },
      { weight: 6, arbitrary: value(valid).map((v) => [`${name}=${v}`]) },
      { weight: 1, arbitrary: fc.tuple(value(valid), value(valid)).map(([a, b]) => [`${name}=${a}`, `${name}=${b}`]) },
      { weight: 1, arbitrary: value(valid).map((v) => [`${name}[]=${v}`, `${name}[x]=${v}`]) },
      { weight: 1, arbitrary: fc.constant([name, `${name}=`]) },
    ),
  );
  const extra = fc.array(
    fc.constantFrom('__proto__=x', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1', 'toString=1', '%ZZ=1', '=', '&', 'a=%', 'a=%00', '%00=1',
      `x=${'a'.repeat(5000)}`, 'limit=1&limit=2', 'a[b][c][d]=1', 'a.b=1', '+=+', ';=;'),
    { maxLength: 2 },
  );
  return fc.tuple(fc.tuple(...perName), extra).map(([parts, x]) => {
    const all = [...parts.flat(), ...x];
    return all.length === 0 ? '' : `?${all.join('&')}`;
  });
}

function authArb(gen: RouteGenerator, c: Credentials): fc.Arbitrary<[string, string][]> {
  const valid = gen.auth === 'admin' ? c.adminToken : c.key;
  const odd = fc.constantFrom<[string, string][]>(
    [],
    [['authorization', 'Bearer']],
    [['authorization', 'Bearer ']],
    [['authorization', `bearer ${valid}`]],
    [['authorization', `BEARER   ${valid}   `]],
    [['authorization', `Bearer ${valid}x`]],
    [['authorization', `Bearer ${valid.slice(0, -1)}`]],
    [['authorization', `Basic ${Buffer.from(`x:${valid}`).toString('base64')}`]],
    [['authorization', valid]],
    [['authorization', `Bearer ${valid} ${valid}`]],
    [['authorization', `Bearer ${valid}, Bearer ${valid}`]],
    [['authorization', `Bearer ${valid}`], ['authorization', 'Bearer wrong']],
    [['authorization', 'Bearer wrong'], ['authorization', `Bearer ${valid}`]],
    [['authorization', `Bearer ${'k'.repeat(8_000)}`]],
    [['authorization', 'Bearer \u00e9\u00ff\u00c0\u0080']],
    [['authorization', `Bearer ${gen.auth === 'admin' ? c.key : c.adminToken}`]],
    [['authorization', 'Bearer %00']],
    [['authorization', 'Bearer __proto__']],
  );
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<[string, string][]>([['authorization', `Bearer ${valid}`]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([['authorization', `Bearer ${c.otherTenant}`]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([['authorization', `Bearer ${c.noRole}`]]) },
    { weight: 3, arbitrary: odd },
  );
}

const contentTypes = fc.constantFrom(
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset="utf-8"',
  'application/json; boundary=x; charset=utf-8',
  'application/json ; charset=utf-8',
  'application/json, text/plain',
  'application/problem+json',
  'application/vnd.api+json',
  'application/jsonx',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/gzip',
  'application/octet-stream',
  '*/*',
  '',
  ';',
  'application/',
  'application/json; charset=\u00e9',
);

function contentTypeArb(binary: boolean): fc.Arbitrary<[string, string][]> {
  const main = binary ? 'application/gzip' : 'application/json';
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<[string, string][]>([['content-type', main]]) },
    { weight: 3, arbitrary: contentTypes.map((t): [string, string][] => [['content-type', t]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 1, arbitrary: contentTypes.map((t): [string, string][] => [['content-type', main], ['content-type', t]]) },
  );
}

const idempotencyKeyArb: fc.Arbitrary<[string, string][]> = fc.oneof(
  { weight: 14, arbitrary: fc.constant<[string, string][]>([['idempotency-key', FRESH_KEY]]) },
  // A small pool: reused keys meet other bodies and other routes (422) or the same request again (a replay).
  { weight: 3, arbitrary: fc.constantFrom('fuzz-a', 'fuzz-b', 'fuzz-c').map((k): [string, string][] => [['idempotency-key', k]]) },
  { weight: 3, arbitrary: fc.constantFrom<[string, string][]>(
    [],
    [['idempotency-key', '']],
    [['idempotency-key', ' ']],
    [['idempotency-key', 'k'.repeat(255)]],
    [['idempotency-key', 'k'.repeat(256)]],
    [['idempotency-key', 'k'.repeat(9_000)]],
    [['idempotency-key', 'caf\u00e9']],
    [['idempotency-key', 'a\tb']],
    [['idempotency-key', '%00']],
    [['idempotency-key', '__proto__']],
    [['idempotency-key', FRESH_KEY], ['idempotency-key', FRESH_KEY]],
    [['idempotency-key', 'fuzz-a'], ['idempotency-key', 'fuzz-b']],
    [['Idempotency-Key', FRESH_KEY]],
  ) },
);

/** Headers no route expects, which must not change an answer into a 5xx. */
const extraHeaders = fc.array(
  fc.constantFrom<[string, string]>(
    ['accept', 'application/xml'],
    ['accept', '*/*;q=0'],
    ['accept-charset', 'utf-16'],
    ['accept-encoding', 'gzip, br, zstd'],
    ['content-encoding', 'gzip'],
    ['content-encoding', 'identity'],
    ['x-request-id', 'x'.repeat(2_000)],
    ['x-request-id', '\u00e9\u00ff'],
    ['x-forwarded-for', '1.2.3.4, ::1, garbage'],
    ['x-http-method-override', 'DELETE'],
    ['origin', 'null'],
    ['cookie', '__proto__=1; constructor=2'],
    ['range', 'bytes=0-1'],
    ['if-none-match', '*'],
    ['__proto__', 'x'],
    ['constructor', 'x'],
    ['x-a', 'b'],
  ),
  { maxLength: 2 },
);

/** Header bytes Node's client will not write; only the raw socket sends them. */
const rawOnlyHeaders = fc.constantFrom<[string, string][]>(
  [['x-nul', 'a\u0000b']],
  [['x-cr', 'a\rb']],
  [['x-folded', 'a\r\n b']],
  [['x bad name', '1']],
  [['content-length', '1'], ['content-length', '2']],
  [['transfer-encoding', 'chunked']],
  [['x-long', 'h'.repeat(20_000)]],
  [['x-del', '\u007f']],
);

/** Bodies that are not JSON at all, or only nearly. */
const junkText = fc.oneof(
  fc.constantFrom('', ' ', '{', '}', '{"a":', 'null', '"x"', '[]', '{}{}', 'NaN', 'Infinity', '{"a":1}garbage', "{'a':1}", '{"a":1,}', '{"a":01}', '{"a":.5}',
    '{"a":"\\x41"}', '{"a":"\\ud800"}', '{"a":"\\u0000"}', '{"\\u0000":1}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\u0000', '\ufeff{}',
    '/* c */ {}', '{"a":1}\n{"a":2}', 'a=1&b=2', '<xml/>', '--x\r\n\r\n--x--'),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

function jsonBodyArb(valid: fc.Arbitrary<unknown> | undefined): fc.Arbitrary<Buffer> {
  const shaped = valid ?? fc.jsonValue({ maxDepth: 2 });
  const text = fc.oneof(
    { weight: 5, arbitrary: shaped.map(toJsonText) },
    { weight: 8, arbitrary: fc.tuple(shaped, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => toJsonText(applyMutations(b, ms))) },
    { weight: 1, arbitrary: oddValue.map(toJsonText) },
    { weight: 1, arbitrary: junkText },
    // Just past the 1 MiB limit, or exactly at it, with a valid-shaped body inside.
    { weight: 1, arbitrary: fc.tuple(shaped, fc.constantFrom(1024 * 1024 - 200, 1024 * 1024 + 1)).map(([b, n]) => {
      const t = toJsonText(b);
      return t.startsWith('{') && t.length < n ? `{"pad":"${'p'.repeat(n - t.length - 10)}",${t.slice(1)}` : t;
    }) },
  );
  return fc.tuple(text, encoding).map(([t, e]) => encode(t, e));
}

/** How much of a request is odd: none of it (the handler's own paths), its input only, or anything. */
type Mode = 'valid' | 'input' | 'wild';

const none = fc.constant<[string, string][]>([]);

function parts(shape: RouteShape, g: RouteGenerator, c: Credentials, mode: Mode) {
  const wild = mode === 'wild';
  const odd = mode !== 'valid';
  const names = [...shape.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const path = fc.tuple(...names.map((n) => segment(g.params?.[n], odd))).map((values) => {
    let i = 0;
    return shape.template.replace(/\{(\w+)\}/g, () => values[i++]!);
  });
  const queryNames: Record<string, fc.Arbitrary<string>> = { ...Object.fromEntries(shape.queryNames.map((n) => [n, fc.string({ maxLength: 20 })])), ...(g.query ?? {}) };
  const validAuth = fc.constant<[string, string][]>(g.auth === 'none' ? [] : [['authorization', `Bearer ${g.auth === 'admin' ? c.adminToken : c.key}`]]);
  const wantsBody = shape.hasBody || g.binary !== undefined;
  const main = g.binary ? 'application/gzip' : 'application/json';
  const validBody: fc.Arbitrary<Buffer | undefined> = !wantsBody ? fc.constant(undefined) : g.binary ?? (g.body ?? fc.jsonValue({ maxDepth: 2 })).map((b) => Buffer.from(toJsonText(b), 'utf8'));
  const oddBody: fc.Arbitrary<Buffer | undefined> = wantsBody
    ? fc.oneof({ weight: 12, arbitrary: g.binary ? fc.oneof({ weight: 6, arbitrary: g.binary }, { weight: 1, arbitrary: jsonBodyArb(undefined) }) : jsonBodyArb(g.body) }, { weight: 1, arbitrary: fc.constant(undefined) })
    : fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: jsonBodyArb(undefined) });
  const record = fc.record({
    method: wild
      ? fc.oneof(
          { weight: 15, arbitrary: fc.constant(shape.method) },
          { weight: 1, arbitrary: fc.constantFrom(shape.method === 'GET' ? 'HEAD' : 'GET', 'PATCH', 'OPTIONS', 'DELETE', 'PUT', 'POST', shape.method.toLowerCase()) },
        )
      : fc.constant(shape.method),
    path,
    query: queryArb(queryNames, odd, shape.requiredQuery),
    auth: wild ? (g.auth === 'none' ? fc.oneof({ weight: 3, arbitrary: validAuth }, { weight: 1, arbitrary: authArb(g, c) }) : authArb(g, c)) : validAuth,
    contentType: wild ? contentTypeArb(g.binary !== undefined) : fc.constant<[string, string][]>([['content-type', main]]),
    idem: wild
      ? shape.idempotent ? idempotencyKeyArb : fc.oneof({ weight: 8, arbitrary: none }, { weight: 1, arbitrary: idempotencyKeyArb })
      : fc.constant<[string, string][]>(shape.idempotent ? [['idempotency-key', FRESH_KEY]] : []),
    extra: wild ? extraHeaders : none,
    body: odd ? oddBody : validBody,
    raw: wild ? fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: rawOnlyHeaders }) : fc.constant(undefined),
  });
  if (mode !== 'valid' || !g.upload) return record;
  return fc.tuple(record, g.upload).map(([r, u]) => ({
    ...r,
    query: `?${Object.entries(u.query).map(([k, v]) => `${k}=${encodeWire(v)}`).join('&')}`,
    body: u.body,
  }));
}

/** Every request for one route; `gen` is undefined for a route without its own generator (the suite then fails it). */
export function requestArb(shape: RouteShape, gen: RouteGenerator | undefined, c: Credentials): fc.Arbitrary<WireRequest> {
  const g = gen ?? {};
  return fc
    .oneof({ weight: 3, arbitrary: parts(shape, g, c, 'valid') }, { weight: 4, arbitrary: parts(shape, g, c, 'input') }, { weight: 3, arbitrary: parts(shape, g, c, 'wild') })
    .map((r) => {
      const headers: [string, string][] = [...r.auth, ...(r.body !== undefined ? r.contentType : []), ...r.idem, ...r.extra, ...(r.raw ?? [])];
      // A raw space or control byte in the target, or a header Node refuses: only a plain socket can send it.
      const target = r.path + r.query;
      const raw = r.raw !== undefined || [...target].some((ch) => ch.charCodeAt(0) <= 0x20 || ch.charCodeAt(0) === 0x7f);
      return printable({ method: r.method, target, headers, body: r.body, raw: raw || undefined, route: `${shape.method} ${shape.template}` });
    });
}
