/**
 * The fuzz suite (issue 8, item 6): fast-check over every route of the OpenAPI document (so a new route is fuzzed
 * as soon as it exists, and this suite fails until it has a generator of its own), with valid-shaped requests of a
 * seeded tenant mixed with odd types, sizes, depths, encodings, prototype and duplicate keys, numbers, headers, path
 * parameters and queries. A client cannot cause a 5xx, every request is answered within a generous deadline, every
 * error answer is problem+json, and every answer of a documented route is one its OpenAPI operation documents (status,
 * media type, body schema): the document is checked against what the service says, not only against its decorators.
 *
 * FUZZ_SEED (default below) and FUZZ_RUNS (total requests, default 2,000) vary a run; FUZZ_ROUTE keeps only the
 * routes whose "METHOD /template" contains it (or one of its comma-separated parts); FUZZ_LOG=<file> appends every
 * request and the start of its answer there. The counts per route and the status histogram go to stdout.
 */
import fc from 'fast-check';
import { appendFileSync } from 'node:fs';
import { newKey, TestService } from './support/harness.js';
import { ContractValidator, type OpenApiDocument } from './support/openapi-contract.js';
import { FRESH_KEY, requestArb, type RouteShape } from './support/fuzz/requests.js';
import { regressions } from './support/fuzz/regressions.js';
import { routeGenerators, seedWorld, type World } from './support/fuzz/routes.js';
import { describe as describeRequest, Hang, send, type WireRequest } from './support/fuzz/wire.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_808);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const ONLY = process.env.FUZZ_ROUTE?.split(',');
/** A file to append every request and the start of its answer to (for looking at what the generators reach). */
const LOG = process.env.FUZZ_LOG;
/** Per request; the slowest legitimate answer here (a bundle upload with its smoke test) takes well under a second. */
const DEADLINE_MS = 10_000;

/** Served by Fastify plugins or nobody, so not in the OpenAPI document; fuzzed all the same. */
const NOT_IN_OPENAPI: RouteShape[] = [
  { method: 'GET', template: '/docs', queryNames: [], requiredQuery: [], idempotent: false, hasBody: false },
  { method: 'GET', template: '/{path}', queryNames: [], requiredQuery: [], idempotent: false, hasBody: false },
];

interface ErrorAnswer {
  status: number;
  body: string;
  request: string;
}
/** Every 4xx/5xx answer of the fuzz run that was not application/problem+json. */
const notProblemJson: ErrorAnswer[] = [];
/** Answers off the OpenAPI document, one example request per distinct problem. */
const offContract = new Map<string, string>();
/**
 * Answered before any route is found, by Node's HTTP parser or Fastify (URI too long, headers too large): a property of
 * the server, not of an operation.
 */
const SERVER_STATUSES = new Set([0, 414, 431]);

let svc: TestService;
let world: World;
let documented: RouteShape[];
let contract: ContractValidator;

interface OpenApiOperation {
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: unknown;
}

function routesOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): RouteShape[] {
  return Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      queryNames: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      requiredQuery: (op.parameters ?? []).filter((p) => p.in === 'query' && p.required === true).map((p) => p.name),
      idempotent: (op.parameters ?? []).some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
      hasBody: op.requestBody !== undefined,
    })),
  );
}

const routeKey = (r: RouteShape) => `${r.method} ${r.template}`;

beforeAll(async () => {
  svc = await TestService.start('fuzz');
  world = await seedWorld(svc);
  const doc = await svc.request('GET', '/docs/json');
  if (doc.status !== 200) throw new Error(`GET /docs/json answered ${doc.status}`);
  documented = routesOf(doc.body);
  contract = new ContractValidator(doc.body as OpenApiDocument);
}, 120_000);
afterAll(() => svc?.stop());

it('has a generator for every route of the OpenAPI document, and none for a route that is gone', () => {
  const generators = routeGenerators(world);
  const keys = [...documented, ...NOT_IN_OPENAPI].map(routeKey);
  expect(documented.length).toBeGreaterThan(30);
  expect(keys.filter((k) => !(k in generators))).toEqual([]);
  expect(Object.keys(generators).filter((k) => !keys.includes(k))).toEqual([]);
});

it(`answers ${RUNS} fuzzed requests over every route without a 5xx or a hang, every error as problem+json`, async () => {
  const generators = routeGenerators(world);
  const examples = regressions(world);
  const base = new URL(svc.baseUrl);
  const routes = [...documented, ...NOT_IN_OPENAPI].filter((r) => ONLY === undefined || ONLY.some((o) => routeKey(r).includes(o)));
  const perRoute = Math.ceil(RUNS / routes.length);
  const perRouteCounts = new Map<string, Map<number, number>>();
  const perRouteSeconds = new Map<string, number>();
  const histogram = new Map<number, number>();
  const failures: string[] = [];
  let hung = false;
  const started = performance.now();

  for (const [i, shape] of routes.entries()) {
    const key = routeKey(shape);
    const counts = new Map<number, number>();
    perRouteCounts.set(key, counts);
    const property = fc.asyncProperty(requestArb(shape, generators[key], world.credentials), async (req: WireRequest) => {
      // After a hang the service may be stuck: shrinking would wait out the deadline again and again, so the
      // hanging request is reported as found.
      if (hung) return true;
      const wire = { ...req, headers: req.headers.map(([k, v]): [string, string] => [k, v === FRESH_KEY ? newKey('fuzz') : v]) };
      let answer;
      try {
        answer = await send(base, wire, DEADLINE_MS);
      } catch (e) {
        if (e instanceof Hang) {
          hung = true;
          counts.set(-1, 1);
          histogram.set(-1, (histogram.get(-1) ?? 0) + 1);
        }
        throw e;
      }
      if (LOG) appendFileSync(LOG, `${JSON.stringify({ status: answer.status, request: describeRequest(wire), answer: answer.body.slice(0, 300) })}\n`);
      counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
      histogram.set(answer.status, (histogram.get(answer.status) ?? 0) + 1);
      if (answer.status >= 400 && !answer.contentType.startsWith('application/problem+json')) {
        notProblemJson.push({ status: answer.status, body: answer.body.slice(0, 300), request: describeRequest(wire) });
      }
      // The answer of a documented operation (the method it documents; another method is another route or a 404/405).
      const inDocument = !NOT_IN_OPENAPI.includes(shape) && wire.method === shape.method && !SERVER_STATUSES.has(answer.status);
      if (inDocument) {
        for (const p of contract.checkText(shape.method, shape.template, answer.status, answer.contentType, answer.body)) {
          if (!offContract.has(p)) offContract.set(p, `${describeRequest(wire)}\n  answered ${answer.body.slice(0, 300)}`);
        }
      }
      if (answer.status >= 500) throw new Error(`answered ${answer.status}: ${answer.body.slice(0, 600)}`);
      return true;
    });
    const routeStarted = performance.now();
    const result = await fc.check(property, { seed: SEED + i, numRuns: perRoute, examples: (examples[key] ?? []).map((r) => [r] as [WireRequest]) });
    perRouteSeconds.set(key, (performance.now() - routeStarted) / 1000);
    if (result.failed) failures.push(`${key}\n${fc.defaultReportMessage(result) ?? ''}`);
  }

  // Whatever was sent, the service still answers.
  const alive = await send(base, { method: 'GET', target: '/healthz', headers: [], route: 'GET /healthz' }, DEADLINE_MS);
  expect(alive.status).toBe(200);

  const seconds = (performance.now() - started) / 1000;
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  // -1: no answer within the deadline; 0: the connection closed without an answer.
  const fmt = (m: Map<number, number>) => [...m.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s === -1 ? 'hang' : s === 0 ? 'closed' : s}×${n}`).join(' ');
  const lines = [
    `fuzz: ${total} requests over ${routes.length} routes in ${seconds.toFixed(1)} s (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS}, ${perRoute} runs per route plus shrinking)`,
    `fuzz: statuses ${fmt(histogram)}`,
    `fuzz: error answers not application/problem+json: ${notProblemJson.length === 0 ? 'none' : fmt(notProblemJson.reduce((m, a) => m.set(a.status, (m.get(a.status) ?? 0) + 1), new Map<number, number>()))}`,
    'fuzz: per route: requests, seconds, statuses',
    ...[...perRouteCounts.entries()].map(
      ([k, m]) => `  ${k.padEnd(58)} ${String([...m.values()].reduce((a, b) => a + b, 0)).padStart(4)} ${perRouteSeconds.get(k)!.toFixed(1).padStart(5)} s  ${fmt(m)}`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (failures.length > 0) throw new Error(`${failures.length} route(s) answered a 5xx or hung:\n\n${failures.join('\n\n')}`);
  expect(total).toBeGreaterThanOrEqual(ONLY === undefined ? RUNS : 1);
  // Node's and Fastify's own answers (400, 414, 431, ...) included: in the same test, so it cannot pass without a run.
  expect(notProblemJson.map((a) => `${a.status} ${a.body}\n${a.request}`)).toEqual([]);
  expect([...offContract.entries()].map(([problem, example]) => `${problem}\n  e.g. ${example}`)).toEqual([]);
}, 20 * 60_000);
