/**
 * JSON request bodies: parsed by Fastify's own parser (prototype-poisoning refused), then checked once, iteratively,
 * before anything recursive or anything that writes touches them (request hashing, schema validation, SQL): too deep
 * a body, a string PostgreSQL cannot store (NUL, a lone surrogate) or a property named like a member of every object
 * (toString, valueOf, …) is a 400 naming the path, never a stack overflow, a driver error or a TypeError. One place,
 * for every route.
 */
import { isUtf8 as isWellFormedUtf8 } from 'node:buffer';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../../libs/errors/index.js';
import { pointer } from '../../../libs/names/index.js';
import { isUtf8, JSON_MEDIA_TYPE, unsupportedMediaType } from './media-type.js';

/** Nesting allowed in any body. A representation limit (the deepest real document, a pack's conditions, is far less). */
export const MAX_JSON_DEPTH = 64;

// A lone surrogate: half of a UTF-16 pair with no other half (PostgreSQL cannot store it; JSON.parse lets it through).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (s: string): boolean => s.includes('\u0000') || LONE_SURROGATE.test(s);

/**
 * An own property with one of these names shadows what every object inherits: code that trusts `o.toString` or
 * `o.valueOf` to be the inherited function (ajv's uniqueItems and const compare with fast-deep-equal, which calls
 * them; String(o); comparisons) throws a TypeError on such a body. No field of this API has one of these names.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

interface Node {
  v: unknown;
  depth: number;
  parent?: Node;
  key?: string | number;
}

function pathOf(n: Node): string {
  const keys: (string | number)[] = [];
  for (let at: Node | undefined = n; at?.key !== undefined; at = at.parent) keys.push(at.key);
  return pointer(...keys.reverse());
}

/**
 * The first problem of a parsed body, or undefined. Iterative, and a node keeps only a link to its parent (the path is
 * built on failure): a 100,000-deep body costs a loop, not the stack, and an ordinary one almost nothing.
 */
export function jsonBodyProblem(value: unknown): { path: string; message: string } | undefined {
  const stack: Node[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const v = n.v;
    if (typeof v === 'string') {
      if (unstorable(v)) return { path: pathOf(n), message: 'must not contain a NUL character (\\u0000) or an unpaired surrogate' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (n.depth >= MAX_JSON_DEPTH) return { path: pathOf(n), message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    const depth = n.depth + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth, parent: n, key: i });
      continue;
    }
    for (const k of Object.keys(v)) {
      if (unstorable(k)) return { path: pathOf(n), message: 'has a property name with a NUL character or an unpaired surrogate' };
      if (RESERVED_NAMES.has(k)) return { path: pathOf({ v: undefined, depth, parent: n, key: k }), message: 'is a name every JavaScript object has (not a field of this API)' };
      stack.push({ v: (v as Record<string, unknown>)[k], depth, parent: n, key: k });
    }
  }
  return undefined;
}

/**
 * A NUL or a surrogate written as a JSON escape (the only way either reaches a parsed string: raw bytes are UTF-8), any
 * ASCII character written as one (a reserved name could be spelled so), or a reserved name in quotes.
 */
const SUSPECT = new RegExp(`\\\\u(?:00[0-7][0-9a-f]|d[89a-f][0-9a-f]{2})|"(?:${[...RESERVED_NAMES].join('|')})"`, 'i');

/**
 * Whether the parsed value needs the walk at all, read off the text: it cannot nest deeper than its count of `{` and
 * `[`, and a NUL, a lone surrogate or a reserved name must be written as an escape or in quotes. An ordinary body
 * answers no after one pass over its characters, with no allocation.
 */
export function mayHaveProblem(text: string): boolean {
  if (SUSPECT.test(text)) return true;
  let opens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 123 || c === 91) && ++opens > MAX_JSON_DEPTH) return true;
  }
  return false;
}

/**
 * Why a body the parser refused is refused, when it is valid JSON: the parser refuses `__proto__` (and `constructor`
 * holding `prototype`) keys without saying where, and "not valid JSON" would be false. Only on that error path.
 */
function poisonedKey(text: string): DomainError | undefined {
  // Such a key is in quotes or spelled with escapes: ordinary invalid JSON is not parsed twice.
  if (!SUSPECT.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text); // keeps `__proto__` as an own data property, which the walk names
  } catch {
    return undefined;
  }
  const problem = jsonBodyProblem(value);
  return problem && new DomainError('MALFORMED_JSON', `Body ${problem.path || '/'} ${problem.message}`, 'invalid', [problem]);
}

/**
 * JSON bodies for every route (application/json and application/*+json, UTF-8), and 415 for any other body (media-type.ts):
 * Fastify's own text/plain parser goes, and a catch-all refuses what no parser takes (binary-body.ts takes the bundle
 * types first). Nest's default form parser is never registered (bodyParser: false in app.factory.ts).
 */
export function registerJsonBodies(app: NestFastifyApplication, bodyLimit: number): void {
  const instance: FastifyInstance = app.getHttpAdapter().getInstance();
  const parse = instance.getDefaultJsonParser('error', 'error');
  instance.removeContentTypeParser('text/plain');
  instance.addContentTypeParser('*', (req, _payload, done) => {
    // No such route: its 404 needs no body. A Content-Type on a request with no body (Content-Length: 0) is not a body.
    if (req.is404 || (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined)) done(null, undefined);
    else done(unsupportedMediaType(req.headers['content-type']), undefined);
  });
  const parseJson = (req: FastifyRequest, body: Buffer | string, done: (err: Error | null, value: unknown) => void): void => {
    const contentType = req.headers['content-type'];
    if (!isUtf8(contentType)) return done(unsupportedMediaType(contentType), undefined);
    // JSON is UTF-8 (RFC 8259 §8.1): bytes that are not would be decoded into U+FFFD and decided on, not refused.
    if (typeof body !== 'string' && !isWellFormedUtf8(body)) {
      return done(new DomainError('MALFORMED_JSON', 'Body is not valid UTF-8', 'invalid', [{ path: '/', message: 'is not valid UTF-8' }]), undefined);
    }
    // The default parser answers through the callback; its return value is not a promise to wait for.
    const text = typeof body === 'string' ? body : body.toString('utf8');
    void parse(req, text, (err: Error | null, value?: unknown) => {
      if (err) return done(poisonedKey(text) ?? err, undefined);
      const problem = mayHaveProblem(text) ? jsonBodyProblem(value) : undefined;
      if (problem) return done(new DomainError('MALFORMED_JSON', `Body ${problem.path || '/'} ${problem.message}`, 'invalid', [problem]), undefined);
      done(null, value);
    });
  };
  app.useBodyParser('application/json', { bodyLimit }, parseJson);
  // application/*+json: the same parser (Nest's useBodyParser takes names only; Fastify takes a pattern).
  instance.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, (req, body, done) => parseJson(req, body, done));
}
