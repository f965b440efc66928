/**
 * The OpenAPI document is the public contract (api-contract.md, issue 12): every route the server registers is in it,
 * with a success answer and its schema, its problem+json answers, its parameters and its security as the service
 * enforces it; the served document is the committed docs/openapi.json; the JSON Schemas at /schemas/… are the ones the
 * service validates with. A route added without documentation fails here, named.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { ROLES_KEY } from '../apps/decision-api/auth/roles.js';
import { createApp, type RunningApp } from '../apps/decision-api/app.factory.js';
import { loadConfig } from '../apps/decision-api/config.js';
import { loadDecisionTypeSchema } from '../libs/decisions/index.js';
import { loadPackSchema } from '../libs/rules/index.js';
import { ADMIN_TOKEN } from './support/harness.js';
import { committedDocument, ContractValidator, operations, type OpenApiDocument } from './support/openapi-contract.js';

let running: RunningApp;
const PUBLIC_BASE_URL = 'https://decisions.example.com/platform';
let fastify: FastifyInstance;
let served: OpenApiDocument;
const committed = committedDocument();

beforeAll(async () => {
  // The document depends on the code only: an in-memory store, no port.
  running = await createApp(loadConfig({}, { databaseUrl: 'pglite://memory', adminToken: ADMIN_TOKEN, logLevel: 'error', payoutConcurrency: 0, publicBaseUrl: PUBLIC_BASE_URL }));
  fastify = running.app.getHttpAdapter().getInstance();
  served = JSON.parse((await fastify.inject({ method: 'GET', url: '/docs/json' })).body) as OpenApiDocument;
});
afterAll(() => running?.close());

/** Swagger UI's own files: the UI, not the API (the document itself, /docs/json, is documented). */
// Swagger UI's files and the web console's (static pages and scripts, not API: README "The console").
const isUiAsset = (path: string) => (path.startsWith('/docs') && path !== '/docs/json') || path === '/console' || path.startsWith('/console/') || path === '/console*';

/** A path with its parameters' names dropped: the router knows /v1/decisions/:type and /:id as one route. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}').replace(/:[^/|]+(\|:[^/|]+)*/g, '{}');

/** "METHOD /path" of every route Fastify serves, read from its route tree (HEAD is Fastify's own for each GET). */
function registeredRoutes(f: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of f.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─ ]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m || !m[2]) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack[depth] = m[2];
    const path = stack.slice(1).join('') || m[2];
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) routes.push(`${method} ${path}`);
  }
  return routes;
}

/** Credentials are needed unless the route is public (security: []) or lists an empty alternative ({}: optional). */
const needsCredentials = (security: Record<string, string[]>[] | undefined) => (security ?? []).length > 0 && !(security ?? []).some((s) => Object.keys(s).length === 0);

describe('the OpenAPI document', () => {
  it('served at /docs/json is the committed docs/openapi.json (npm run openapi regenerates it)', () => {
    expect(served).toEqual(committed);
  });

  it('has every route the server registers (a route without documentation is named here)', () => {
    const registered = registeredRoutes(fastify).filter((r) => !isUiAsset(r.split(' ')[1]!));
    expect(registered.length).toBeGreaterThan(50);
    const documented = new Set(operations(served).map((o) => `${o.method.toUpperCase()} ${shape(o.path)}`));
    expect(registered.filter((r) => !documented.has(`${r.split(' ')[0]} ${shape(r.split(' ')[1]!)}`))).toEqual([]);
    // and nothing it does not serve
    const served_ = new Set(registered.map((r) => `${r.split(' ')[0]} ${shape(r.split(' ')[1]!)}`));
    expect(operations(served).map((o) => `${o.method.toUpperCase()} ${o.path}`).filter((r) => !served_.has(`${r.split(' ')[0]} ${shape(r.split(' ')[1]!)}`))).toEqual([]);
  });

  it('gives every operation a success answer with a schema and problem+json error answers', () => {
    const missing: string[] = [];
    for (const { method, path, op } of operations(served)) {
      const name = `${method.toUpperCase()} ${path}`;
      const statuses = Object.keys(op.responses);
      const successes = statuses.filter((s) => /^2\d\d$/.test(s));
      if (successes.length === 0) missing.push(`${name}: no 2xx answer`);
      for (const s of successes) {
        if (s === '204') continue;
        const content = op.responses[s]!.content ?? {};
        if (Object.keys(content).length === 0 || Object.values(content).some((m) => !m.schema)) missing.push(`${name}: ${s} without a body schema`);
      }
      const errors = statuses.filter((s) => /^[45]\d\d$/.test(s));
      if (errors.length === 0) missing.push(`${name}: no problem+json answer`);
      for (const s of errors) {
        const content = op.responses[s]!.content ?? {};
        const problem = content['application/problem+json']?.schema as { $ref?: string } | undefined;
        if (Object.keys(content).length !== 1 || problem?.$ref !== '#/components/schemas/Problem') missing.push(`${name}: ${s} is not application/problem+json Problem`);
      }
      if (!op.operationId) missing.push(`${name}: no operationId`);
      if (op.security === undefined) missing.push(`${name}: no security (public routes say security: [])`);
      if (needsCredentials(op.security) && !errors.includes('401')) missing.push(`${name}: needs a key but documents no 401`);
      const body = op.requestBody?.content;
      if (body && Object.values(body).some((m) => !m.schema)) missing.push(`${name}: request body without a schema`);
    }
    expect(missing).toEqual([]);
  });

  it('declares every path parameter, and types every query parameter', () => {
    const wrong: string[] = [];
    for (const { method, path, op } of operations(served)) {
      const params = op.parameters ?? [];
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        if (!params.some((p) => p.in === 'path' && p.name === name && p.required)) wrong.push(`${method.toUpperCase()} ${path}: path parameter ${name} not declared`);
      }
      for (const p of params.filter((x) => x.in === 'query')) {
        if (!(p.schema as { type?: string } | undefined)?.type) wrong.push(`${method.toUpperCase()} ${path}: query parameter ${p.name} untyped`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('documents 403 on every route that needs a role (@Roles, as the auth guard reads it: the handler, else its class)', () => {
    const needsRole: string[] = [];
    for (const module of running.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const cls = wrapper.metatype as (new (...args: never[]) => unknown) | null;
        if (!cls) continue;
        const base = String(Reflect.getMetadata(PATH_METADATA, cls) ?? '');
        for (const name of Object.getOwnPropertyNames(cls.prototype)) {
          const handler = (cls.prototype as Record<string, unknown>)[name];
          if (name === 'constructor' || typeof handler !== 'function') continue;
          const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
          if (method === undefined) continue;
          const roles = (Reflect.getMetadata(ROLES_KEY, handler) ?? Reflect.getMetadata(ROLES_KEY, cls)) as string[] | undefined;
          if (!roles?.length) continue;
          const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler) ?? '')].filter((x) => x !== '' && x !== '/').join('/')}`;
          needsRole.push(`${RequestMethod[method]} ${shape(path)}`);
        }
      }
    }
    expect(needsRole.length).toBeGreaterThan(30);
    const byShape = new Map(operations(served).map((o) => [`${o.method.toUpperCase()} ${shape(o.path)}`, o]));
    const wrong = needsRole.flatMap((r) => {
      const o = byShape.get(r);
      if (!o) return [`${r}: not in the document`];
      return o.op.responses['403'] ? [] : [`${r}: needs a role but documents no 403`];
    });
    expect(wrong).toEqual([]);
  });

  it('names operations uniquely', () => {
    const ids = operations(served).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('says which routes need a key exactly as the service enforces it (no key: 401 on those, never on the public ones)', async () => {
    const wrong: string[] = [];
    let n = 0;
    for (const { method, path, op } of operations(served)) {
      const url = path.replace(/\{[^}]+\}/g, 'x');
      // An address of its own each: failed authentications from one address are soon answered 429 (api-contract.md §2).
      n += 1;
      const res = await fastify.inject({ method: method.toUpperCase() as 'GET', url, remoteAddress: `10.12.${n >> 8}.${n & 255}` });
      const keyed = needsCredentials(op.security);
      if (keyed !== (res.statusCode === 401)) wrong.push(`${method.toUpperCase()} ${path}: security ${JSON.stringify(op.security)} but no key answers ${res.statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it('describes API keys as opaque bearer keys (dk_…), not JWTs, and serves relative to where it is', () => {
    const schemes = served.components.securitySchemes;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(String(schemes.bearer!.bearerFormat)).not.toMatch(/jwt/i);
    expect(String(schemes.bearer!.description)).toContain('dk_');
    expect(served.servers).toEqual([expect.objectContaining({ url: '/' })]);
    for (const path of ['/healthz', '/readyz', '/docs/json', '/schemas/rule-pack.json']) expect(served.paths[path]?.get?.security).toEqual([]);
  });

  it('as a test oracle, refuses an answer it does not describe', () => {
    const oracle = new ContractValidator(committed);
    expect(oracle.check('GET', '/v1/decisions/{id}', 200, 'application/json', { id: 'not a decision' })).not.toEqual([]);
    expect(oracle.check('GET', '/v1/decisions/{id}', 418, 'application/json', {})).not.toEqual([]);
    expect(oracle.check('GET', '/v1/decisions/{id}', 404, 'application/json', {})).not.toEqual([]);
    const problem = { type: 'https://decision-platform.dev/problems/not-found', title: 'Not Found', status: 404, detail: 'no', code: 'NOT_FOUND', errors: [], requestId: 'r-1' };
    expect(oracle.check('GET', '/v1/decisions/{id}', 404, 'application/problem+json', problem)).toEqual([]);
    const { requestId: _id, ...anonymous } = problem;
    expect(oracle.check('GET', '/v1/decisions/{id}', 404, 'application/problem+json', anonymous)).not.toEqual([]);
  });

  it('as a test oracle, finds the operation of a concrete path, a literal segment before a parameter', () => {
    const oracle = new ContractValidator(committed);
    expect(oracle.template('GET', '/v1/releases/shadow/report')).toBe('/v1/releases/shadow/report');
    expect(oracle.template('GET', '/v1/releases/default/1.3.0')).toBe('/v1/releases/{name}/{version}');
    expect(oracle.template('POST', '/v1/decisions/refund')).toBe('/v1/decisions/refund');
    expect(oracle.template('GET', '/v1/nothing')).toBeUndefined();
    expect(oracle.template('PATCH', '/v1/webhooks/x')).toBeUndefined();
  });

  it('as a test oracle, checks an NDJSON answer line by line against its x-item-schema', () => {
    const oracle = new ContractValidator(committed);
    const row = {
      id: '01a2379a-7c27-7107-9ae2-e4fdec682f3c',
      tenant: 'acme',
      seq: 1,
      at: '2026-12-02T16:00:00.000Z',
      actor: 'system',
      actorRole: 'system',
      action: 'api_key.rotated',
      subjectType: 'api_key',
      subjectId: 'k1',
      details: {},
      prevHash: null,
      hash: 'ab',
    };
    const ndjson = (...rows: unknown[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
    const check = (text: string) => oracle.checkText('GET', '/v1/audit/export', 200, 'application/x-ndjson', text);
    expect(check('')).toEqual([]);
    expect(check(ndjson(row, { ...row, seq: 2, prevHash: 'ab' }))).toEqual([]);
    const { hash: _hash, ...unhashed } = row;
    expect(check(ndjson(row, unhashed))).toEqual([expect.stringContaining("line 2: data must have required property 'hash'")]);
    expect(check('{"not json\n')).toEqual([expect.stringContaining('line 1 is not JSON')]);
  });

  it('documents the 413 and 415 of every POST, PUT, PATCH and DELETE (the body is read before the route, with or without one)', () => {
    const missing = operations(served)
      .filter(({ method }) => ['post', 'put', 'patch', 'delete'].includes(method))
      .flatMap(({ method, path, op }) => ['413', '415'].filter((s) => !op.responses[s]).map((s) => `${method.toUpperCase()} ${path}: no ${s}`));
    expect(missing).toEqual([]);
  });
});

describe('the JSON Schemas at /schemas/…', () => {
  const read = async (url: string) => {
    const res = await fastify.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/schema\+json/);
    return JSON.parse(res.body) as Record<string, unknown>;
  };
  const json = (path: string) => JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')) as Record<string, unknown>;

  it('are the schemas the service and the CLI validate with, their $id naming where they are served (PUBLIC_BASE_URL)', async () => {
    expect(await read('/schemas/rule-pack.json')).toEqual({ ...loadPackSchema(), $id: `${PUBLIC_BASE_URL}/schemas/rule-pack.json` });
    expect(await read('/schemas/decision-type.json')).toEqual({ ...loadDecisionTypeSchema(), $id: `${PUBLIC_BASE_URL}/schemas/decision-type.json` });
    for (const name of ['rule-pack', 'decision-type', 'release-manifest']) {
      expect((await read(`/schemas/${name}.json`)).$id).toBe(`${PUBLIC_BASE_URL}/schemas/${name}.json`);
    }
  });

  it('validate the built-in packs, types and releases as served (and refuse a broken one)', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const pack = ajv.compile(await read('/schemas/rule-pack.json'));
    const type = ajv.compile(await read('/schemas/decision-type.json'));
    const release = ajv.compile(await read('/schemas/release-manifest.json'));
    expect(pack(json('rule-packs/refund-policy/1.2.0.json'))).toBe(true);
    expect(type(json('decision-types/refund/1.2.0.json'))).toBe(true);
    const { $schema: _s, ...manifest } = json('releases/default/1.3.0.json');
    expect(release(manifest)).toBe(true);
    expect(pack({ ...json('rule-packs/refund-policy/1.2.0.json'), version: 'one' })).toBe(false);
  });
});
