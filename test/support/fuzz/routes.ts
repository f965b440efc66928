/**
 * The fuzz suite's generator per route: the well-formed shape of each route's path parameters, query and body, over
 * real objects of a seeded tenant (a decision, a ledger account and its transactions, a simulation, a stored pack and
 * release), so that most requests get past validation into the handler. Keyed "METHOD /openapi/{template}": the suite
 * fails for a route of the OpenAPI document that has no entry here.
 */
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readPack, repoRoot } from '../content-root.js';
import { newKey, type TestService, ADMIN_TOKEN } from '../harness.js';
import { refundCase } from '../refund-cases.js';
import { refundRiskVersion, bundleBytes } from '../release-content.js';
import type { Credentials, RouteGenerator } from './requests.js';

export const TENANT = 'fuzz';
const ROLES = ['service', 'author', 'publisher', 'reviewer', 'auditor', 'admin'];
const BUILTIN = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0', refund: '1.0.0', redemption: '1.0.0' };

/** Real objects of the fuzzed tenant (and one of another tenant), made through the API before fuzzing. */
export interface World {
  credentials: Credentials;
  decisionId: string;
  refundId: string;
  otherTenantDecisionId: string;
  simulationId: string;
  accountId: string;
  /** A key of the fuzzed tenant that no request uses: the one revoke and rotate may reach (never the fuzzing key). */
  apiKeyId: string;
  pendingTx: string;
  settledTx: string;
  /** A stored refund-policy version and a stored release naming it. */
  packVersion: string;
  release: { name: string; version: string };
  /** A review item of the tenant (an open one when refund decisions open reviews; else any uuid). */
  reviewId: string;
  /** A webhook endpoint (to a closed port: its deliveries stay pending) and one of its deliveries. */
  webhookId: string;
  deliveryId: string;
  /** A real next-page cursor per list. */
  cursors: Record<string, string>;
  refundPolicy: Record<string, any>;
  rewardProgram: Record<string, any>;
  refundType: Record<string, any>;
  bundles: { version: string; bytes: Buffer }[];
  /** 64 MiB of zeros, gzipped to ~64 KiB. */
  gzipBomb: Buffer;
}

async function ok<T = any>(r: Promise<{ status: number; text: string; body: T }>, what: string): Promise<T> {
  const a = await r;
  if (a.status >= 300) throw new Error(`fuzz seed: ${what} answered ${a.status} ${a.text}`);
  return a.body;
}

export async function seedWorld(svc: TestService): Promise<World> {
  const key = await svc.issueKey(TENANT, ROLES, 'fuzz');
  const otherTenant = await svc.issueKey(`${TENANT}-other`, ROLES, 'fuzz');
  const noRole = await svc.issueKey(TENANT, ['reviewer'], 'fuzz-reviewer');
  const post = (k: string, path: string, body: unknown) => svc.request('POST', path, { key: k, idempotencyKey: newKey('seed'), body });

  const simulation = await ok(
    post(key, '/v1/simulations', { domain: 'refund', release: { name: 'default', version: '1.1.0', components: BUILTIN }, cases: [refundCase()] }),
    'simulation',
  );
  const accountId = 'acct-seed';
  await ok(svc.request('PUT', `/v1/ledger/accounts/${accountId}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } }), 'account');
  for (const tx of ['tx-pending', 'tx-settled']) {
    await ok(post(key, `/v1/ledger/accounts/${accountId}/transactions`, { transactionId: tx, amount: 10_000, category: 'GROCERY', occurredAt: '2026-03-01T10:00:00Z' }), tx);
  }
  await ok(post(key, '/v1/ledger/transactions/tx-settled/settle', { settledAt: '2026-03-02T10:00:00Z' }), 'settle');

  // The tenant decides on a release of its own, with a decision type of its own, and shadows the built-in one: the
  // decision, type and shadow routes then reach the tenant's catalogue, not only the built-in files.
  // Registered before the events below, so the relay gives it deliveries.
  const webhook = await ok(post(key, '/v1/webhooks', { url: 'http://127.0.0.1:9/fuzz', events: ['decision.created', 'release.activated'] }), 'webhook');
  await ok(post(key, '/v1/webhooks', { url: 'https://example.test/second', events: ['review.created'] }), 'second webhook');
  // A refund with a lifecycle, decided on the built-in release before the tenant activates its own.
  const refund = await ok(post(key, '/v1/decisions/refund', { case: refundCase({ refundId: 'rf-fuzz-lifecycle' }) }), 'refund');
  await ok(post(key, '/v1/decisions/refund', { case: refundCase({ refundId: 'rf-fuzz-review', disputeOpen: true }) }), 'refund in review');
  const refundPolicy = await readPack('refund-policy');
  const refundType = JSON.parse(await readFile(join(repoRoot, 'decision-types/refund/1.0.0.json'), 'utf8')) as Record<string, any>;
  const packVersion = '1.0.1';
  await ok(post(key, '/v1/rule-packs', { ...refundPolicy, version: packVersion }), 'pack');
  await ok(post(key, '/v1/decision-types', { ...refundType, name: 'fuzz-type' }), 'type');
  const release = { name: 'fuzz-release', version: '1.0.0' };
  await ok(post(key, '/v1/releases', { ...release, components: { ...BUILTIN, 'refund-policy': packVersion, 'fuzz-type': '1.0.0' } }), 'release');
  await ok(post(key, `/v1/releases/${release.name}/${release.version}/activate`, undefined), 'activate');
  await ok(post(key, '/v1/releases/default/1.1.0/shadow', undefined), 'shadow');
  const decision = await ok(post(key, '/v1/decisions/refund', { case: refundCase() }), 'decision');
  await ok(post(key, '/v1/decisions/fuzz-type', { case: refundCase({ refundId: 'rf-fuzz-type' }) }), 'decision of the tenant type');
  const other = await ok(post(otherTenant, '/v1/decisions/refund', { case: refundCase() }), 'other decision');
  // REVIEW outcomes (a dispute is open): review items to claim and resolve, where refund decisions open them.
  for (const n of [1, 2]) await ok(post(key, '/v1/decisions/refund', { case: refundCase({ refundId: `rf-fuzz-review-${n}`, disputeOpen: true }) }), 'review decision');
  const reviews = await ok(svc.request('GET', '/v1/reviews?state=OPEN', { key }), 'reviews');

  const spare = await ok(svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: TENANT, roles: ['service'], name: 'fuzz-spare' } }), 'spare key');

  const cursors: Record<string, string> = {};
  // Every list's cursor is its own: one list's cursor in another is a 400, which the odd queries cover.
  await ok(post(key, '/v1/simulations', { domain: 'refund', release: { name: 'default', version: '1.1.0', components: BUILTIN }, cases: [refundCase()] }), 'simulation');
  for (const [list, path] of Object.entries({
    audit: '/v1/audit',
    decisions: '/v1/decisions',
    'rule-packs': '/v1/rule-packs',
    entries: `/v1/ledger/accounts/${accountId}/entries`,
    simulations: '/v1/simulations',
    reviews: '/v1/reviews',
    'api-keys': '/v1/api-keys',
    refunds: '/v1/refunds',
    webhooks: '/v1/webhooks',
    releases: '/v1/releases',
    activations: '/v1/releases/activations',
  })) {
    const c = (await ok(svc.request('GET', `${path}?limit=1`, { key }), path)).nextCursor;
    if (typeof c === 'string') cursors[list] = c;
  }
  // The relay numbers events and fans them out within its poll interval.
  let deliveries: { id: string }[] = [];
  for (let i = 0; i < 200; i++) {
    const page = await ok(svc.request('GET', `/v1/webhooks/${webhook.id}/deliveries?limit=1`, { key }), 'deliveries');
    deliveries = page.items;
    if (typeof page.nextCursor === 'string') {
      cursors.deliveries = page.nextCursor;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!deliveries[0]) throw new Error('fuzz seed: the webhook got no delivery');
  const bundles = [{ version: '1.0.0', bytes: await bundleBytes('refund-risk') }];
  for (const v of ['1.0.7', '1.0.8', '1.0.9']) bundles.push({ version: v, bytes: await refundRiskVersion(v) });

  return {
    credentials: { key, otherTenant, noRole, adminToken: ADMIN_TOKEN },
    decisionId: decision.id,
    refundId: refund.refundId,
    otherTenantDecisionId: other.id,
    reviewId: (reviews.items[0] as { id: string } | undefined)?.id ?? '0190a8a4-0000-7000-8000-00000000a11d',
    simulationId: simulation.id,
    accountId,
    apiKeyId: spare.id,
    pendingTx: 'tx-pending',
    settledTx: 'tx-settled',
    packVersion,
    release,
    webhookId: webhook.id,
    deliveryId: deliveries[0].id,
    cursors,
    refundPolicy,
    rewardProgram: await readPack('cashback-default'),
    refundType,
    bundles,
    gzipBomb: gzipSync(Buffer.alloc(64 * 1024 * 1024)),
  };
}

const instant = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
/** A period boundary (UTC midnight of the 1st): what a statement close takes. */
const boundary = fc.tuple(fc.integer({ min: 2020, max: 2029 }), fc.integer({ min: 0, max: 11 })).map(([y, m]) => new Date(Date.UTC(y, m, 1)).toISOString());
/** An ordered window. */
const timeWindow = fc.tuple(instant, instant).map(([a, b]) => (a < b ? [a, b] : [b, a]));
const smallId = (prefix: string) => fc.integer({ min: 1, max: 40 }).map((n) => `${prefix}-${n}`);
const semver = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 })).map((v) => v.join('.'));
const amount = fc.oneof(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));

const refundCaseArb = fc
  .record({
    refundId: smallId('rf'),
    requestedAmount: fc.integer({ min: 1, max: 60_000 }),
    reasonCode: fc.constantFrom('DAMAGED', 'NOT_RECEIVED', 'NOT_AS_DESCRIBED', 'CHANGED_MIND', 'GOODWILL', 'OTHER'),
    channel: fc.constantFrom('customer_portal', 'agent', 'api'),
    requestedAt: instant,
    returnStatus: fc.constantFrom('NOT_REQUIRED', 'LABEL_CREATED', 'IN_TRANSIT', 'RECEIVED', 'INSPECTED_OK', 'REJECTED'),
    disputeOpen: fc.boolean(),
    tender: fc.constantFrom('card', 'gift_card', 'store_credit', 'wallet'),
    ipRisk: fc.constantFrom('low', 'medium', 'high'),
    refundCount30d: fc.integer({ min: 0, max: 10 }),
    items: fc.array(fc.record({ sku: fc.string({ minLength: 1, maxLength: 10 }), amount: fc.integer({ min: 0, max: 20_000 }), finalSale: fc.boolean(), category: fc.constantFrom('apparel', 'electronics', 'grocery') }), { maxLength: 4 }),
    delivered: fc.option(instant, { nil: null }),
  })
  .map((p) =>
    refundCase({
      refundId: p.refundId,
      requestedAmount: p.requestedAmount,
      reasonCode: p.reasonCode,
      channel: p.channel,
      requestedAt: p.requestedAt,
      returnStatus: p.returnStatus,
      disputeOpen: p.disputeOpen,
      payment: { tender: p.tender },
      signals: { ipRisk: p.ipRisk },
      customer: { refundCount30d: p.refundCount30d },
      order: { deliveredAt: p.delivered, items: p.items },
    }),
  );

const ledgerEvent = fc.oneof(
  fc.record({ op: fc.constant('purchase'), transactionId: smallId('t'), amount, category: fc.constantFrom('GROCERY', 'DINING', 'OTHER'), occurredAt: instant }),
  fc.record({ op: fc.constant('settle'), transactionId: smallId('t'), settledAt: instant }),
  fc.record({ op: fc.constant('refund'), transactionId: smallId('t'), refundId: smallId('r'), amount, at: instant }),
  fc.record({ op: fc.constant('chargeback'), transactionId: smallId('t'), chargebackId: smallId('c'), amount, at: instant }),
  fc.record({ op: fc.constant('redeem'), redemptionId: smallId('d'), amount, at: instant }),
  fc.record({ op: fc.constant('close'), periodEnd: instant }),
);

/** Every route's generator. Extra keys (not in the OpenAPI document) are routes Nest does not own: the docs. */
export function routeGenerators(w: World): Record<string, RouteGenerator> {
  const ids = (...own: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.uuid({ version: 7 }) }, { weight: 1, arbitrary: fc.constant(w.otherTenantDecisionId) });
  const names = (...own: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]+(-[a-z0-9]+){0,2}$/) });
  const versions = (...own: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: semver });
  // Valid values only: the odd ones come from the generic layer (requests.ts).
  const listQuery = (list: string) => ({ limit: fc.integer({ min: 1, max: 500 }).map(String), ...(w.cursors[list] ? { cursor: fc.constant(w.cursors[list]) } : {}) });
  const accounts = ids(w.accountId, 'acct-new');
  const refundIds = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(w.refundId, 'rf-fuzz-review') }, { weight: 1, arbitrary: smallId('rf') });
  const transactions = fc.oneof(fc.constantFrom(w.pendingTx, w.settledTx), smallId('tx'));
  const candidate = fc.oneof(
    fc.constant({ name: 'default', version: '1.1.0', components: BUILTIN }),
    fc.constant({ name: w.release.name, version: w.release.version, components: { ...BUILTIN, 'refund-policy': w.packVersion } }),
    fc.record({ name: names('candidate'), version: semver, components: fc.dictionary(names('refund-policy', 'refund-risk', 'refund'), versions('1.0.0', w.packVersion), { minKeys: 1, maxKeys: 5 }) }),
  );
  const packBody = fc.record({ version: semver, kind: fc.constantFrom('refund-policy', 'reward-program') }).map(({ version, kind }) =>
    kind === 'refund-policy' ? { ...w.refundPolicy, version } : { ...w.rewardProgram, name: 'fuzz-program', version },
  );
  const typeBody = fc.record({ name: names('fuzz-type', 'refund'), version: semver }).map(({ name, version }) => ({ ...w.refundType, name, version }));
  const release = { name: names(w.release.name, 'default'), version: versions(w.release.version, '1.0.0', '1.1.0') };

  return {
    'GET /healthz': { auth: 'none' },
    'GET /readyz': { auth: 'none' },
    'GET /metrics': { auth: 'none' },
    'GET /docs/json': { auth: 'none' },
    'GET /docs': { auth: 'none' },
    'GET /schemas/rule-pack.json': { auth: 'none' },
    'GET /schemas/decision-type.json': { auth: 'none' },
    'GET /schemas/release-manifest.json': { auth: 'none' },
    // Paths no route owns: 404s, and whatever the router makes of dot segments, escapes and lengths.
    'GET /{path}': { auth: 'none', params: { path: fc.constantFrom('v1', 'nope', 'favicon.ico', 'metric', 'healthz', 'docs') } },
    'POST /v1/admin/api-keys': {
      auth: 'admin',
      body: fc.record({ tenant: fc.oneof(fc.constantFrom(TENANT, `${TENANT}-other`), fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,62}$/)), roles: fc.subarray(ROLES, { minLength: 1 }), name: fc.string({ minLength: 1, maxLength: 200 }) }),
    },
    'POST /v1/decisions/refund': { body: refundCaseArb.map((c) => ({ case: c })) },
    // POST /v1/decisions/{type}: one router path with GET /v1/decisions/{id}, so one OpenAPI path, named {id}.
    'POST /v1/decisions/{id}': { params: { id: names('refund', 'redemption', 'fuzz-type') }, body: refundCaseArb.map((c) => ({ case: c })) },
    'GET /v1/decisions': {
      query: { type: fc.constant('refund'), domain: fc.constant('refund'), outcome: fc.constantFrom('APPROVE', 'DENY', 'REVIEW'), from: instant, to: instant, customer: fc.oneof(smallId('cus'), fc.string({ maxLength: 300 })), release: fc.oneof(fc.constantFrom('default@1.4.0', `${w.release.name}@${w.release.version}`), fc.string({ maxLength: 120 })), reasonCode: fc.oneof(fc.constantFrom('AMOUNT_OVER_AUTO_APPROVE_LIMIT', 'CHARGEBACK_IN_PROGRESS'), fc.string({ maxLength: 120 })), ...listQuery('decisions') },
    },
    'GET /v1/decisions/{id}': { params: { id: ids(w.decisionId) } },
    'POST /v1/decisions/{id}/replay': { params: { id: ids(w.decisionId) } },
    'POST /v1/decision-types': { body: typeBody },
    'GET /v1/decision-types': {},
    'GET /v1/decision-types/{name}/schema': { params: { name: names('refund', 'redemption') } },
    'GET /v1/decision-types/{name}/{version}': { params: { name: names('refund', 'redemption', 'fuzz-type'), version: versions('1.0.0') } },
    'PUT /v1/ledger/accounts/{accountId}': {
      params: { accountId: accounts },
      body: fc.record({ program: fc.constantFrom('cashback-default', 'cashback-default@1.0.0', 'issuer-a', 'issuer-f@1.0.0', 'nope', 'refund-policy'), currency: fc.constantFrom('EUR', 'USD'), cycleAnchorDay: fc.integer({ min: 1, max: 28 }) }),
    },
    'GET /v1/ledger/accounts': { query: { integrity: fc.constant('violated'), ...listQuery('violated-accounts') } },
    'GET /v1/ledger/accounts/{accountId}': { params: { accountId: accounts } },
    'GET /v1/api-keys': { query: listQuery('api-keys') },
    'GET /v1/session': {},
    'POST /v1/api-keys/{id}/revoke': { params: { id: ids(w.apiKeyId) } },
    'POST /v1/api-keys/{id}/rotate': { params: { id: ids(w.apiKeyId) }, body: fc.record({ overlapSeconds: fc.integer({ min: 0, max: 604_800 }) }, { requiredKeys: [] }) },
    'GET /v1/ledger/accounts/{accountId}/entries': { params: { accountId: accounts }, query: listQuery('entries') },
    'POST /v1/ledger/accounts/{accountId}/transactions': {
      params: { accountId: accounts },
      body: fc.record({ transactionId: transactions, amount, category: fc.constantFrom('GROCERY', 'DINING', 'OTHER'), occurredAt: instant }),
    },
    'POST /v1/ledger/transactions/{transactionId}/settle': { params: { transactionId: transactions }, body: fc.record({ settledAt: instant }) },
    'POST /v1/ledger/transactions/{transactionId}/refunds': { params: { transactionId: transactions }, body: fc.record({ refundId: smallId('r'), amount, at: instant }) },
    'POST /v1/ledger/transactions/{transactionId}/chargebacks': { params: { transactionId: transactions }, body: fc.record({ chargebackId: smallId('c'), amount, at: instant }) },
    'POST /v1/ledger/accounts/{accountId}/redemptions': { params: { accountId: accounts }, body: fc.record({ redemptionId: smallId('d'), amount, at: instant }) },
    'POST /v1/ledger/accounts/{accountId}/statements': { params: { accountId: accounts }, body: fc.record({ periodEnd: fc.oneof(boundary, instant) }) },
    'GET /v1/ledger/transactions/{transactionId}': { params: { transactionId: transactions } },
    'POST /v1/simulations': {
      body: fc.oneof(
        fc.record({ domain: names('refund'), release: candidate, cases: fc.array(refundCaseArb, { minLength: 1, maxLength: 3 }) }),
        fc.record({ domain: names('refund'), release: candidate, replay: fc.tuple(timeWindow, fc.integer({ min: 1, max: 20 })).map(([[from, to], limit]) => ({ from, to, limit })) }),
      ),
    },
    'GET /v1/simulations': { query: listQuery('simulations') },
    // Few events: the what-if's speed is another change's concern (issue 8, item 2); here only its answers count.
    'POST /v1/simulations/ledger': {
      body: fc.record(
        { program: fc.constant(w.rewardProgram), events: fc.array(ledgerEvent, { maxLength: 8 }), account: fc.record({ accountId: smallId('a'), currency: fc.constantFrom('EUR', 'USD'), cycleAnchorDay: fc.integer({ min: 1, max: 28 }) }, { requiredKeys: [] }) },
        { requiredKeys: ['program', 'events'] },
      ),
    },
    'GET /v1/simulations/{id}': { params: { id: ids(w.simulationId) } },
    'POST /v1/simulations/{id}/cancel': { params: { id: ids(w.simulationId) } },
    'POST /v1/rule-packs': { body: packBody },
    'GET /v1/rule-packs': { query: listQuery('rule-packs') },
    'GET /v1/rule-packs/{name}/{version}': { params: { name: names('refund-policy', 'cashback-default', 'fuzz-program'), version: versions('1.0.0', w.packVersion) } },
    'POST /v1/policy-bundles': {
      query: { name: fc.constant('refund-risk'), version: fc.constantFrom(...w.bundles.map((b) => b.version)) },
      upload: fc.constantFrom(...w.bundles).map((b) => ({ query: { name: 'refund-risk', version: b.version }, body: b.bytes })),
      binary: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...w.bundles.map((b) => b.bytes)) },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...w.bundles.map((b) => b.bytes)), fc.nat()).map(([b, n]) => b.subarray(0, n % b.length)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((a) => Buffer.from(a)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((a) => gzipSync(a)) },
        { weight: 1, arbitrary: fc.constant(w.gzipBomb) },
      ),
    },
    'GET /v1/policy-bundles/{name}/{version}': { params: { name: names('refund-risk', 'redemption-gate'), version: versions(...w.bundles.map((b) => b.version)) } },
    'POST /v1/releases': {
      body: fc.oneof(
        fc.record({ name: names('fuzz-release', 'another'), version: semver, components: fc.constant({ ...BUILTIN, 'refund-policy': w.packVersion }) }),
        fc.record({ name: names('fuzz-release'), version: semver, components: fc.dictionary(names('refund-policy', 'refund-risk', 'refund', 'redemption', 'fuzz-type'), versions('1.0.0', w.packVersion), { minKeys: 1, maxKeys: 6 }) }),
      ),
    },
    'GET /v1/releases/active': {},
    'GET /v1/releases': { query: listQuery('releases') },
    'GET /v1/releases/activations': { query: listQuery('activations') },
    'POST /v1/releases/rollback': {},
    'GET /v1/releases/shadow/report': {},
    'DELETE /v1/releases/shadow': {},
    'GET /v1/releases/{name}/{version}': { params: release },
    'POST /v1/releases/{name}/{version}/activate': { params: release },
    'POST /v1/releases/{name}/{version}/shadow': { params: release },
    'GET /v1/audit': { query: listQuery('audit') },
    'GET /v1/audit/verify': {},
    'GET /v1/audit/export': { query: { from: instant, to: instant } },
    'GET /v1/reviews': {
      query: {
        state: fc.constantFrom('OPEN', 'APPROVED', 'DENIED', 'CANCELED'),
        assignee: fc.constantFrom('0190a8a4-0000-7000-8000-000000000001', 'key'),
        overdue: fc.constantFrom('true', 'false'),
        type: names('refund'),
        minAmount: fc.integer({ min: 0, max: 20_000 }).map(String),
        maxAmount: fc.integer({ min: 20_000, max: Number.MAX_SAFE_INTEGER }).map(String),
        ...listQuery('reviews'),
      },
    },
    'GET /v1/reviews/{id}': { params: { id: ids(w.reviewId) } },
    'POST /v1/reviews/{id}/claim': { params: { id: ids(w.reviewId) } },
    'POST /v1/reviews/{id}/release': { params: { id: ids(w.reviewId) } },
    'POST /v1/reviews/{id}/resolve': {
      params: { id: ids(w.reviewId) },
      body: fc.record(
        { resolution: fc.constantFrom('APPROVE', 'DENY'), amount, reasonCode: fc.constantFrom('GOODWILL', 'FRAUD_SUSPECTED'), note: fc.string({ maxLength: 100 }) },
        { requiredKeys: ['resolution', 'reasonCode'] },
      ),
    },
    'GET /v1/refunds': {
      query: { state: fc.constantFrom('IN_REVIEW', 'APPROVED', 'DENIED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'), customerId: smallId('cus'), orderId: smallId('ord'), from: instant, to: instant, ...listQuery('refunds') },
    },
    'GET /v1/refunds/{refundId}': { params: { refundId: refundIds } },
    'POST /v1/webhooks': {
      body: fc.record({
        url: fc.oneof(fc.constantFrom('https://example.test/hook', 'http://127.0.0.1:9/x'), fc.webUrl()),
        events: fc.uniqueArray(fc.constantFrom('decision.created', 'refund.state_changed', 'review.created', 'review.resolved', 'review.overdue', 'ledger.integrity_violated', 'release.activated'), { minLength: 1 }),
      }),
    },
    'GET /v1/webhooks': { query: listQuery('webhooks') },
    'DELETE /v1/webhooks/{id}': { params: { id: ids(w.webhookId) } },
    'GET /v1/webhooks/{id}/deliveries': { params: { id: ids(w.webhookId) }, query: listQuery('deliveries') },
    'POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': { params: { id: ids(w.webhookId), deliveryId: ids(w.deliveryId) } },
    'POST /v1/refunds/{refundId}/cancel': { params: { refundId: refundIds }, body: fc.record({ reason: fc.string({ minLength: 1, maxLength: 40 }) }, { requiredKeys: [] }) },
    'POST /v1/refunds/{refundId}/retry': { params: { refundId: refundIds } },
    'POST /v1/subjects/erasure': { body: fc.record({ customer: fc.oneof(smallId('cus'), fc.string({ maxLength: 300 })) }, { requiredKeys: [] }) },
  };
}
