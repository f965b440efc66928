/**
 * Issue 8, finding 1: an author's Wasm that never returns (or loops as long as its input says) used to hold the
 * service's one thread for good. Each evaluation now has a step budget: over it, that one request fails with
 * EVALUATION_BUDGET_EXCEEDED and everything else is answered. The service runs as a child process here, so that a
 * regression shows as a request that times out (the hang guard), not as a test run that never ends.
 */
import { randomUUID } from 'node:crypto';
import { neverReturningBundle, regoBundle } from './support/policy-bundles.js';
import { ServiceProcess } from './support/service-process.js';
import { newKey } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

/** How long a request may take here before the service counts as stuck (a budget is spent in well under a second). */
const HANG_GUARD_MS = 20_000;

let svc: ServiceProcess;
let author: string;
let publisher: string;
let service: string;
let otherService: string;

const post = (path: string, key: string, o: { body?: unknown; gzip?: Uint8Array } = {}) =>
  svc.request('POST', path, {
    key,
    idempotencyKey: newKey(),
    timeoutMs: HANG_GUARD_MS,
    ...(o.gzip ? { rawBody: o.gzip, headers: { 'content-type': 'application/gzip' } } : { body: o.body }),
  });

/** Another tenant's refund decision on the built-in release: what must keep working whatever this tenant uploads. */
const otherTenantDecides = () => post('/v1/decisions/refund', otherService, { body: { case: refundCase({ refundId: `rf-${randomUUID()}` }) } });

beforeAll(async () => {
  svc = await ServiceProcess.start('evaluation_budget');
  author = await svc.issueKey('acme', ['author']);
  publisher = await svc.issueKey('acme', ['publisher']);
  service = await svc.issueKey('acme', ['service']);
  otherService = await svc.issueKey('globex', ['service']);
}, 120_000);

afterAll(async () => {
  await svc?.stop();
});

describe('a bundle whose entrypoint never returns', () => {
  it('is refused at upload with 422 EVALUATION_BUDGET_EXCEEDED naming /policy.wasm, while /healthz and another tenant are answered', async () => {
    const bundle = await neverReturningBundle('spin-risk', '1.0.0');
    const [upload, health, other] = await Promise.all([
      post('/v1/policy-bundles?name=spin-risk&version=1.0.0', author, { gzip: bundle }),
      svc.request('GET', '/healthz', { timeoutMs: HANG_GUARD_MS }),
      otherTenantDecides(),
    ]);
    expect(upload.status).toBe(422);
    expect(upload.headers.get('content-type')).toContain('application/problem+json');
    expect(upload.body).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', errors: [expect.objectContaining({ path: '/policy.wasm', rule: 'refund/risk/assessment' })] });
    expect(upload.body.detail).toContain('spin-risk@1.0.0');
    expect(health.status).toBe(200);
    expect(other.status).toBe(201);

    // Nothing was stored, and the service goes on as before.
    expect((await svc.request('GET', '/v1/policy-bundles/spin-risk/1.0.0', { key: author, timeoutMs: HANG_GUARD_MS })).status).toBe(404);
    expect((await svc.request('GET', '/healthz', { timeoutMs: HANG_GUARD_MS })).status).toBe(200);
    expect((await otherTenantDecides()).status).toBe(201);
  });
});

describe('a policy that loops as long as its input says', () => {
  const LOOP_REGO = `package loopcheck

import rego.v1

# The multiples of 7 up to input.n: the work grows with the input.
sevens := count([x | some x in numbers.range(1, input.n); x % 7 == 0])

decision := {"sevens": sevens}
`;
  const TYPE = {
    kind: 'decision-type',
    name: 'loop-check',
    version: '1.0.0',
    description: 'Counts the multiples of 7 up to n, in Rego: as slow as n is large.',
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['checkId', 'n'],
      properties: { checkId: { type: 'string', minLength: 1, maxLength: 64 }, n: { type: 'integer', minimum: 0, maximum: 100_000_000 } },
    },
    caseRef: '/checkId',
    pipeline: [
      {
        step: 'policy',
        entrypoint: 'loopcheck/decision',
        as: 'check',
        outputSchema: { type: 'object', required: ['sevens'], properties: { sevens: { type: 'integer', minimum: 0 } } },
      },
    ],
    outcomes: ['DENY', 'APPROVE'],
    output: { sevens: { from: '/check/sevens' } },
    tests: { defaults: { checkId: 't-1', n: 70 }, cases: [{ name: 'seventy has ten', expect: { outcome: 'APPROVE', output: { sevens: 10 } } }] },
  };

  it('is uploaded, released and activated (its smoke test and test case are cheap)', async () => {
    const bundle = await regoBundle('loop-policy', '1.0.0', 'loopcheck/decision', LOOP_REGO);
    expect((await post('/v1/policy-bundles?name=loop-policy&version=1.0.0', author, { gzip: bundle })).status).toBe(201);
    expect((await post('/v1/decision-types', author, { body: TYPE })).status).toBe(201);
    const release = await post('/v1/releases', author, { body: { name: 'acme-loop', version: '1.0.0', components: { 'loop-check': '1.0.0', 'loop-policy': '1.0.0' } } });
    expect(release.status).toBe(201);
    const activated = await post('/v1/releases/acme-loop/1.0.0/activate', publisher);
    expect(activated.status).toBe(200);
  }, 120_000);

  it('fails that one decision with EVALUATION_BUDGET_EXCEEDED; /healthz, another tenant and the next decision are answered', async () => {
    const small = await post('/v1/decisions/loop-check', service, { body: { case: { checkId: 'c-1', n: 700 } } });
    expect(small.status).toBe(201);
    expect(small.body).toMatchObject({ outcome: 'APPROVE', sevens: 100 });

    const [huge, health, other] = await Promise.all([
      post('/v1/decisions/loop-check', service, { body: { case: { checkId: 'c-2', n: 1_000_000 } } }),
      svc.request('GET', '/healthz', { timeoutMs: HANG_GUARD_MS }),
      otherTenantDecides(),
    ]);
    // The status a failed policy evaluation always had (POLICY_EVALUATION_FAILED): the policy could not answer.
    expect(huge.status).toBe(503);
    expect(huge.body).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED' });
    expect(huge.body.detail).toContain('loop-policy@1.0.0');
    expect(health.status).toBe(200);
    expect(other.status).toBe(201);

    const next = await post('/v1/decisions/loop-check', service, { body: { case: { checkId: 'c-3', n: 7_000 } } });
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ outcome: 'APPROVE', sevens: 1000 });
  });
});

describe('a bundle needing a builtin that runs outside the budget', () => {
  it('is refused at upload: regex.split runs in JavaScript with a backtracking engine', async () => {
    const rego = `package splitter

import rego.v1

parts := regex.split("^(a+)+$", input.s)
`;
    const bundle = await regoBundle('split-policy', '1.0.0', 'splitter/parts', rego);
    const r = await post('/v1/policy-bundles?name=split-policy&version=1.0.0', author, { gzip: bundle });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'POLICY_BUNDLE_INVALID', errors: [expect.objectContaining({ path: '/policy.wasm' })] });
    expect(r.body.detail).toContain('regex.split');
  }, 60_000);
});
