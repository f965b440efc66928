/**
 * Decision types as data (api-contract.md §7): a tenant ships a new kind of decision — goodwill-credit, with its own
 * input schema, a Rego policy built here with the pinned OPA CLI, and a rule pack — through the API alone, releases
 * and activates it, decides, replays, simulates a changed parameter and shadows it. No TypeScript knows the type.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentRoot, repoRoot, type ContentRoot } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const fixture = join(repoRoot, 'test/fixtures/goodwill-credit');
let svc: TestService;
let root: ContentRoot;
let author: string;
let publisher: string;
let service: string;
let auditor: string;
let otherService: string;
let bundle: Uint8Array;
let type: Record<string, any>;
let pack: Record<string, any>;

const BUILTIN = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0', refund: '1.0.0', redemption: '1.0.0' };
const GOODWILL = { ...BUILTIN, 'goodwill-credit': '1.0.0', 'goodwill-rules': '1.0.0', 'goodwill-risk': '1.0.0' };

/** The pinned OPA CLI (scripts/opa.sh installs it into .tools/bin; CI runs that before the tests). */
function opa(): string {
  execFileSync('bash', [join(repoRoot, 'scripts/opa.sh'), 'ensure'], { stdio: 'inherit' });
  const local = join(repoRoot, '.tools/bin/opa');
  return existsSync(local) ? local : 'opa';
}

async function buildBundle(): Promise<Uint8Array> {
  const out = await mkdtemp(join(tmpdir(), 'goodwill-'));
  try {
    const file = join(out, 'bundle.tar.gz');
    const args = ['build', '-t', 'wasm', '-e', 'goodwill/assessment', '--revision', '1.0.0', '--ignore', '*_test.rego', '-b', join(fixture, 'policy'), '-o', file];
    execFileSync(opa(), args, { stdio: 'inherit' });
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const post = (path: string, key: string, body?: unknown, o: { raw?: Uint8Array; idem?: string } = {}) =>
  svc.request('POST', path, {
    key,
    idempotencyKey: o.idem ?? newKey(),
    ...(o.raw ? { rawBody: o.raw, headers: { 'content-type': 'application/gzip' } } : body === undefined ? {} : { body }),
  });

const credit = (patch: Record<string, unknown> = {}) => ({
  creditId: 'gc-1',
  customerId: 'cus-1',
  amount: 1500,
  currency: 'EUR',
  reason: 'LATE_DELIVERY',
  customer: { tenureDays: 400, goodwillCredits90d: 0 },
  recentCredits: [],
  ...patch,
});

beforeAll(async () => {
  bundle = await buildBundle();
  type = JSON.parse(await readFile(join(fixture, 'type.json'), 'utf8')) as Record<string, any>;
  pack = JSON.parse(await readFile(join(fixture, 'pack.json'), 'utf8')) as Record<string, any>;
  root = await contentRoot();
  svc = await TestService.start('decision_types', { contentRoot: root.dir });
  author = await svc.issueKey('acme', ['author']);
  publisher = await svc.issueKey('acme', ['publisher']);
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  otherService = await svc.issueKey('globex', ['service']);
}, 300_000);

afterAll(async () => {
  await svc?.stop();
  await root?.remove();
});

describe('a tenant ships goodwill-credit through the API only', () => {
  it('uploads the bundle, the pack and the decision type', async () => {
    expect((await post('/v1/policy-bundles?name=goodwill-risk&version=1.0.0', author, undefined, { raw: bundle })).status).toBe(201);
    expect((await post('/v1/rule-packs', author, pack)).status).toBe(201);
    const t = await post('/v1/decision-types', author, type);
    expect(t.status).toBe(201);
    expect(t.body).toEqual(type);
    // Identical again: 200 with the stored one; other content under the same version: 409.
    expect((await post('/v1/decision-types', author, type)).status).toBe(200);
    const changed = await post('/v1/decision-types', author, { ...type, description: 'other' });
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe('DECISION_TYPE_VERSION_EXISTS');
    const stored = await svc.request('GET', '/v1/decision-types/goodwill-credit/1.0.0', { key: auditor });
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual(type);
    expect((await svc.request('GET', '/v1/decision-types/refund/1.0.0', { key: auditor })).body).toMatchObject({ kind: 'decision-type', name: 'refund' });
    expect((await svc.request('GET', '/v1/decision-types/goodwill-credit/1.0.0', { key: service })).status).toBe(403);
  });

  it('refuses an invalid decision type with 422 naming every bad path, and stores nothing', async () => {
    const bad = {
      ...type,
      version: '1.0.1',
      outcomes: ['ALLOW'],
      pipeline: [{ step: 'policy', entrypoint: 'goodwill/assessment', as: 'amount', outputSchema: {} }, { step: 'magic' }],
    };
    const r = await post('/v1/decision-types', author, bad);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('DECISION_TYPE_INVALID');
    const paths = r.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toContain('/outcomes');
    expect(paths.some((p: string) => p.startsWith('/pipeline/1'))).toBe(true);
    expect((await svc.request('GET', '/v1/decision-types/goodwill-credit/1.0.1', { key: auditor })).status).toBe(404);
    const shadowing = await post('/v1/decision-types', author, { ...type, version: '1.0.2', pipeline: [{ step: 'derive', as: 'amount', fields: { n: { count: '/recentCredits' } } }] });
    expect(shadowing.status).toBe(422);
    expect(shadowing.body.errors).toEqual([expect.objectContaining({ path: '/pipeline/0/as' })]);
  });

  it('refuses at release creation a pipeline whose pack kind or entrypoint is missing, or whose pack reads a fact the type does not make', async () => {
    const noPack = await post('/v1/releases', author, { name: 'goodwill', version: '0.1.0', components: { ...GOODWILL, 'goodwill-rules': undefined } });
    expect(noPack.status).toBe(422);
    expect(noPack.body.code).toBe('RELEASE_INCOMPLETE');
    expect(noPack.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/components/goodwill-credit/pipeline/2/packKind' })]));
    const { 'goodwill-risk': _risk, ...noBundle } = GOODWILL;
    const r2 = await post('/v1/releases', author, { name: 'goodwill', version: '0.1.1', components: noBundle });
    expect(r2.status).toBe(422);
    expect(r2.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/components/goodwill-credit/pipeline/1/entrypoint' })]));

    // risk.scroe: the pack's own fact schema declares it, so the pack is stored; the type makes no such fact.
    const typo = structuredClone(pack);
    typo.version = '1.0.9';
    typo.factSchema.properties.risk.properties.scroe = { type: 'integer' };
    typo.rules[0].conditions.all[0].path = '$.scroe';
    typo.tests.defaults.risk.scroe = 0;
    expect((await post('/v1/rule-packs', author, typo)).status).toBe(201);
    const r3 = await post('/v1/releases', author, { name: 'goodwill', version: '0.1.2', components: { ...GOODWILL, 'goodwill-rules': '1.0.9' } });
    expect(r3.status).toBe(422);
    expect(r3.body.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    expect(r3.body.errors[0]).toMatchObject({ path: expect.stringMatching(/^\/components\/goodwill-rules\/rules\/0\/conditions\/all\/0\/path/), rule: 'risk-too-high' });
    expect(r3.body.errors[0].message).toContain('scroe');
    expect((await svc.request('GET', '/v1/releases/goodwill/0.1.2', { key: auditor })).status).toBe(404);
  });

  it("refuses to activate a release whose type's own test case fails, naming the type and the case", async () => {
    const wrong = structuredClone(type);
    wrong.version = '1.0.5';
    wrong.tests.cases[0].expect.outcome = 'CHALLENGE'; // wrong on purpose: a loyal customer's small credit is allowed
    expect((await post('/v1/decision-types', author, wrong)).status).toBe(201);
    expect((await post('/v1/releases', author, { name: 'goodwill', version: '0.5.0', components: { ...GOODWILL, 'goodwill-credit': '1.0.5' } })).status).toBe(201);
    const r = await post('/v1/releases/goodwill/0.5.0/activate', publisher);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RELEASE_TESTS_FAILED');
    expect(r.body.errors).toEqual([expect.objectContaining({ path: '/components/goodwill-credit', rule: "a loyal customer's small credit is allowed" })]);
    expect(r.body.errors[0].message).toContain('expected outcome CHALLENGE, got ALLOW');
  });

  it('releases and activates it; the type is listed with its outcomes and input schema', async () => {
    expect((await post('/v1/releases', author, { name: 'goodwill', version: '1.0.0', components: GOODWILL })).status).toBe(201);
    expect((await post('/v1/releases/goodwill/1.0.0/activate', publisher)).status).toBe(200);
    const list = await svc.request('GET', '/v1/decision-types', { key: service });
    expect(list.status).toBe(200);
    expect(list.body.items.map((t: { name: string }) => t.name)).toEqual(['goodwill-credit', 'redemption', 'refund']);
    expect(list.body.items[0]).toMatchObject({ name: 'goodwill-credit', version: '1.0.0', outcomes: ['BLOCK', 'CHALLENGE', 'ALLOW'], inputSchema: type.input });
    expect(list.body.nextCursor).toBeNull();
    // A page at a time, as every list (?limit=, ?cursor=), the cursor where the last page stopped.
    const first = await svc.request('GET', '/v1/decision-types?limit=2', { key: service });
    expect({ names: first.body.items.map((t: { name: string }) => t.name), more: typeof first.body.nextCursor }).toEqual({ names: ['goodwill-credit', 'redemption'], more: 'string' });
    const rest = await svc.request('GET', `/v1/decision-types?limit=2&cursor=${first.body.nextCursor}`, { key: service });
    expect({ names: rest.body.items.map((t: { name: string }) => t.name), next: rest.body.nextCursor }).toEqual({ names: ['refund'], next: null });
    for (const query of ['limit=0', 'limit=501', 'cursor=nope', 'page=2']) {
      const bad = await svc.request('GET', `/v1/decision-types?${query}`, { key: service });
      expect({ query, status: bad.status, path: bad.body.errors?.[0]?.path }).toEqual({ query, status: 400, path: `query:${query.split('=')[0]}` });
    }
    const schema = await svc.request('GET', '/v1/decision-types/goodwill-credit/schema', { key: service });
    expect(schema.body).toEqual(type.input);
    expect((await svc.request('GET', '/v1/decision-types/nope/schema', { key: service })).body.code).toBe('DECISION_TYPE_NOT_FOUND');
  });

  let allowedId: string;
  it('decides cases of the new type, stores them, and keeps refunds deciding as before', async () => {
    const ok = await post('/v1/decisions/goodwill-credit', service, { case: credit() });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      type: 'goodwill-credit',
      creditId: 'gc-1',
      outcome: 'ALLOW',
      reasons: [],
      riskScore: 0,
      creditAmount: 1500,
      creditAs: 'ORIGINAL_TENDER',
      release: { name: 'goodwill', version: '1.0.0' },
    });
    expect(ok.body.trace.map((t: { rule: string }) => t.rule)).toEqual(['goodwill.risk', 'risk-too-high', 'recent-credit-cap', 'large-credit', 'late-delivery-to-tender']);
    allowedId = ok.body.id;

    const risky = await post('/v1/decisions/goodwill-credit', service, { case: credit({ creditId: 'gc-2', customer: { tenureDays: 3, goodwillCredits90d: 5 }, recentCredits: [{ amount: 3000 }, { amount: 2500 }] }) });
    expect(risky.body).toMatchObject({ outcome: 'BLOCK', riskScore: 90, creditAmount: 0 });
    expect(risky.body.reasons.map((r: { code: string }) => r.code)).toEqual(['GOODWILL_RISK_HIGH', 'GOODWILL_CAP_REACHED']);
    const large = await post('/v1/decisions/goodwill-credit', service, { case: credit({ creditId: 'gc-3', amount: 2500, reason: 'OTHER' }) });
    expect(large.body).toMatchObject({ outcome: 'CHALLENGE', creditAs: 'STORE_CREDIT', reasons: [expect.objectContaining({ code: 'GOODWILL_AMOUNT_LARGE', source: 'goodwill-rules@1.0.0', effect: 'CHALLENGE' })] });

    const stored = await svc.request('GET', `/v1/decisions/${allowedId}`, { key: auditor });
    expect(stored.text).toBe(ok.text);
    const listed = await svc.request('GET', '/v1/decisions?type=goodwill-credit&outcome=CHALLENGE', { key: auditor });
    expect(listed.body.items.map((d: { id: string }) => d.id)).toEqual([large.body.id]);

    const refund = await post('/v1/decisions/refund', service, { case: refundCase() });
    expect(refund.body).toMatchObject({ type: 'refund', outcome: 'APPROVE', approvedAmount: 4999, tender: 'ORIGINAL' });
  });

  it('answers 400 naming the path for a bad case, 404 for an unknown type or another tenant, and never decides a redemption directly', async () => {
    const bad = await post('/v1/decisions/goodwill-credit', service, { case: credit({ amount: -1, extra: true }) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/case/amount', '/case/extra']);
    const unknown = await post('/v1/decisions/payout-approval', service, { case: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('DECISION_TYPE_NOT_FOUND');
    // globex never activated goodwill: the type does not exist for it.
    expect((await post('/v1/decisions/goodwill-credit', otherService, { case: credit() })).status).toBe(404);
    expect((await post('/v1/decisions/redemption', service, { case: {} })).status).toBe(404);
  });

  it('replays a stored decision identically on the versions it pinned', async () => {
    const r = await post(`/v1/decisions/${allowedId}/replay`, auditor);
    expect(r.status).toBe(200);
    expect(r.body.identical).toBe(true);
    expect(r.body.replayed).toMatchObject({ outcome: 'ALLOW', creditAmount: 1500 });
  });

  it('simulates a changed parameter and shadows it', async () => {
    const stricter = structuredClone(pack);
    stricter.version = '1.1.0';
    stricter.parameters.challengeAbove = 1000;
    stricter.tests.defaults.amount = 900; // the embedded clean case stays under the new limit
    expect((await post('/v1/rule-packs', author, stricter)).status).toBe(201);
    const candidate = { name: 'goodwill', version: '1.1.0', components: { ...GOODWILL, 'goodwill-rules': '1.1.0' } };
    const sim = await post('/v1/simulations', author, { domain: 'goodwill-credit', release: candidate, cases: [credit(), credit({ creditId: 'gc-9', amount: 900 })] });
    expect(sim.status).toBe(201);
    expect(sim.body.summary).toMatchObject({ total: 2, changed: 1, transitions: { 'ALLOW->CHALLENGE': 1 } });
    expect(sim.body.results[0]).toMatchObject({ caseRef: 'gc-1', baseline: { outcome: 'ALLOW', creditAmount: 1500 }, candidate: { outcome: 'CHALLENGE', creditAmount: 0 } });

    const replay = await post('/v1/simulations', author, { domain: 'goodwill-credit', release: candidate, replay: { from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' } });
    expect(replay.status).toBe(201);
    expect(replay.body.summary).toMatchObject({ total: 3, transitions: { 'ALLOW->CHALLENGE': 1 } });

    expect((await post('/v1/releases', author, candidate)).status).toBe(201);
    expect((await post('/v1/releases/goodwill/1.1.0/shadow', publisher)).status).toBe(200);
    const live = await post('/v1/decisions/goodwill-credit', service, { case: credit({ creditId: 'gc-10' }) });
    expect(live.body.outcome).toBe('ALLOW');
    const until = Date.now() + 10_000;
    let report: any;
    for (;;) {
      report = (await svc.request('GET', '/v1/releases/shadow/report', { key: auditor })).body;
      if (report.total >= 1 || Date.now() > until) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(report).toMatchObject({ total: 1, changed: 1, errors: 0, transitions: { 'ALLOW->CHALLENGE': 1 } });
  });
});

describe('one name@version is one component, whatever its kind', () => {
  it('lets exactly one of a pack and a decision type uploaded at once under the same name@version through', async () => {
    // Different tables, so no unique index decides; without the name lock both were stored about half the time.
    for (let i = 0; i < 12; i++) {
      const version = `7.0.${i}`;
      const [p, t] = await Promise.all([
        post('/v1/rule-packs', author, { ...pack, name: 'goodwill-clash', version }),
        post('/v1/decision-types', author, { ...type, name: 'goodwill-clash', version }),
      ]);
      expect([p.status, t.status].sort()).toEqual([201, 409]);
      expect((p.status === 409 ? p : t).body.code).toBe(p.status === 409 ? 'RULE_PACK_VERSION_EXISTS' : 'DECISION_TYPE_VERSION_EXISTS');
    }
  });
});

describe('a release of only a new type', () => {
  it('decides that type; refunds are then unknown (404) and the ledger refuses redemptions only (422), not its other calls', async () => {
    const gAuthor = await svc.issueKey('initech', ['author']);
    const gPublisher = await svc.issueKey('initech', ['publisher']);
    const gService = await svc.issueKey('initech', ['service']);
    // Decided under the built-in release, before the tenant moves to a release without the refund type.
    const before = await post('/v1/decisions/refund', gService, { case: refundCase({ refundId: 'rf_before_switch' }) }, { idem: 'refund-before-switch' });
    expect(before.status).toBe(201);
    expect((await post('/v1/policy-bundles?name=goodwill-risk&version=1.0.0', gAuthor, undefined, { raw: bundle })).status).toBe(201);
    expect((await post('/v1/rule-packs', gAuthor, pack)).status).toBe(201);
    // The same type sent at once under three keys: one stores it, the others find it identical (never 409).
    const racing = await Promise.all([1, 2, 3].map(() => post('/v1/decision-types', gAuthor, type)));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    const only = { 'goodwill-credit': '1.0.0', 'goodwill-rules': '1.0.0', 'goodwill-risk': '1.0.0' };
    expect((await post('/v1/releases', gAuthor, { name: 'goodwill-only', version: '1.0.0', components: only })).status).toBe(201);
    expect((await post('/v1/releases/goodwill-only/1.0.0/activate', gPublisher)).status).toBe(200);

    expect((await post('/v1/decisions/goodwill-credit', gService, { case: credit() })).body.outcome).toBe('ALLOW');
    expect((await post('/v1/decisions/refund', gService, { case: refundCase() })).status).toBe(404);
    // A retry of the decision made before the switch still gets its first answer, byte for byte.
    const retry = await post('/v1/decisions/refund', gService, { case: refundCase({ refundId: 'rf_before_switch' }) }, { idem: 'refund-before-switch' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.text).toBe(before.text);
    // A release name no release can have is not found, not a driver error.
    expect((await post('/v1/releases/goodwill%00only/1.0.0/activate', gPublisher)).status).toBe(404);
    const account = await svc.request('PUT', '/v1/ledger/accounts/acc-1', { key: gService, body: { program: 'cashback-default@1.0.0', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(account.status).toBe(201);
    const redeem = await post('/v1/ledger/accounts/acc-1/redemptions', gService, { redemptionId: 'r-1', amount: 1, at: '2026-12-01T00:00:00Z' });
    expect(redeem.status).toBe(422);
    expect(redeem.body.code).toBe('RELEASE_INCOMPLETE');
  });
});
