/**
 * Shipping policy safely (issue #4): the per-tenant immutable catalogue (rule packs, policy bundles, releases),
 * activation with its checks, rollback, the audit trail, and shadow evaluation, all over HTTP.
 *
 * Refused activation is proven with content the server does not validate on the way in: the built-in catalogue.
 * CONTENT_ROOT here holds the repository's files plus refund-policy@1.0.1, whose embedded case is wrong, and a
 * release `broken@1.0.0` naming it. Uploads could never store such a pack (they run its cases), but the built-in
 * catalogue is read from disk, so activation must (and does) run every pack's cases again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentRoot, readPack, type ContentRoot } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';
import { bundleBytes, editBundle, refundPolicyWithLimit, refundRiskVersion } from './support/release-content.js';

let root: ContentRoot;
let svc: TestService;
let author: string;
let publisher: string;
let auditor: string;
let service: string;
/** The id behind `publisher`, learnt from the first activation's answer, for the audit assertions. */
let publisherKeyId: string;
let other: { author: string; publisher: string; service: string; auditor: string };

const GZIP = { 'content-type': 'application/gzip' };
const BASE = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' };

/** A refund of 30000: above a 20000 auto-approve limit, under the shipped 50000. */
const bigRefund = (refundId = 'rf_big') =>
  refundCase({ refundId, requestedAmount: 30000, order: { capturedAmount: 40000 } });

beforeAll(async () => {
  const broken = await readPack('refund-policy');
  broken.version = '1.0.1';
  const dispute = (broken.tests.cases as { name: string; expect: { events: unknown[] } }[]).find((c) => c.name === 'open dispute goes to review')!;
  dispute.expect.events = []; // wrong on purpose: the chargeback rule does fire
  root = await contentRoot([broken]);
  await mkdir(join(root.dir, 'releases', 'broken'), { recursive: true });
  await writeFile(join(root.dir, 'releases', 'broken', '1.0.0.json'), JSON.stringify({ name: 'broken', version: '1.0.0', components: { ...BASE, 'refund-policy': '1.0.1' } }));

  svc = await TestService.start('releases', { contentRoot: root.dir });
  author = await svc.issueKey('acme', ['author'], 'policy-author');
  publisher = await svc.issueKey('acme', ['publisher'], 'release-manager');
  auditor = await svc.issueKey('acme', ['auditor']);
  service = await svc.issueKey('acme', ['service']);
  other = {
    author: await svc.issueKey('globex', ['author']),
    publisher: await svc.issueKey('globex', ['publisher']),
    service: await svc.issueKey('globex', ['service']),
    auditor: await svc.issueKey('globex', ['auditor']),
  };
});

afterAll(async () => {
  await svc?.stop();
  await root?.remove();
});

const post = (path: string, key: string, body?: unknown, o: { idempotencyKey?: string; raw?: Uint8Array; headers?: Record<string, string> } = {}) =>
  svc.request('POST', path, {
    key,
    idempotencyKey: o.idempotencyKey ?? newKey(),
    ...(o.raw ? { rawBody: o.raw } : body === undefined ? {} : { body }),
    headers: o.headers ?? {},
  });
const decide = (c: Record<string, any>, key = service, idempotencyKey = newKey()) => post('/v1/decisions/refund', key, { case: c }, { idempotencyKey });

describe('rule packs', () => {
  it('stores a validated pack once (201), answers an identical re-upload with the stored one (200), refuses other content (409)', async () => {
    const pack = await refundPolicyWithLimit(20000, '1.1.0');
    const first = await post('/v1/rule-packs', author, pack);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'refund-policy', version: '1.1.0', kind: 'refund-policy', source: 'tenant' });
    expect(first.body.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof first.body.uploadedBy).toBe('string');

    // Key order does not make content different.
    const reordered = Object.fromEntries(Object.entries(pack).reverse());
    const again = await post('/v1/rule-packs', author, reordered);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const changed = structuredClone(pack);
    changed.parameters.goodwillLimit12m = 4;
    changed.tests.cases = changed.tests.cases.filter((c: { name: string }) => !c.name.startsWith('goodwill'));
    const conflict = await post('/v1/rule-packs', author, changed);
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('RULE_PACK_VERSION_EXISTS');

    const got = await svc.request('GET', '/v1/rule-packs/refund-policy/1.1.0', { key: auditor });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ ...first.body, pack: { parameters: { autoApproveLimit: 20000 } } });
  });

  it('replays an upload sent again with the same Idempotency-Key, byte for byte', async () => {
    const pack = await refundPolicyWithLimit(25000, '1.1.1');
    const k = newKey();
    const first = await post('/v1/rule-packs', author, pack, { idempotencyKey: k });
    const replay = await post('/v1/rule-packs', author, pack, { idempotencyKey: k });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const missing = await svc.request('POST', '/v1/rule-packs', { key: author, body: pack });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('IDEMPOTENCY_KEY_MISSING');
  });

  it('the built-in catalogue is every tenant’s: identical re-upload accepted, other content 409', async () => {
    const builtin = await readPack('refund-policy');
    const same = await post('/v1/rule-packs', author, builtin);
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ name: 'refund-policy', version: '1.0.0', source: 'builtin', uploadedAt: null });
    builtin.description = 'rewritten';
    const other = await post('/v1/rule-packs', author, builtin);
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('RULE_PACK_VERSION_EXISTS');
  });

  it('refuses a pack whose own test case fails: 422 naming the case, nothing stored', async () => {
    const pack = await refundPolicyWithLimit(20000, '1.1.2');
    pack.parameters.autoApproveLimit = 30000; // the moved boundary cases no longer hold
    const r = await post('/v1/rule-packs', author, pack);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RULE_PACK_TESTS_FAILED');
    expect(r.body.errors.map((e: any) => e.rule)).toEqual(['auto-approve: 20001 goes to review']);
    expect(r.body.detail).toContain("'auto-approve: 20001 goes to review'");
    expect(r.body.failures[0]).toMatchObject({ pack: 'refund-policy@1.1.2', case: 'auto-approve: 20001 goes to review' });
    expect((await svc.request('GET', '/v1/rule-packs/refund-policy/1.1.2', { key: author })).status).toBe(404);
  });

  it('refuses a pack failing its schema or fact type check (422 with paths) and a body that is no pack (400)', async () => {
    const pack = await refundPolicyWithLimit(20000, '1.1.3');
    pack.rules[0].conditions.all[0].path = '$.daysSinceDelivry';
    const r = await post('/v1/rule-packs', author, pack);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RULE_PACK_INVALID');
    expect(r.body.errors[0].path).toMatch(/^\/rules\/0\/conditions/);
    const bare = await post('/v1/rule-packs', author, { name: 'x' });
    expect(bare.status).toBe(422);
    expect(bare.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(['/version', '/rules']));
    expect((await post('/v1/rule-packs', author, [1, 2])).status).toBe(400);
  });

  it('lists the tenant’s packs and the built-in ones, by name then version, in pages', async () => {
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/rule-packs?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page: any = await svc.request('GET', q, { key: author });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    const refs = seen.map((p) => `${p.name}@${p.version}`);
    expect(refs).toEqual(expect.arrayContaining(['refund-policy@1.0.0', 'refund-policy@1.0.1', 'refund-policy@1.1.0', 'refund-policy@1.1.1', 'issuer-a@1.0.0']));
    expect(new Set(refs).size).toBe(refs.length);
    const policies = refs.filter((r) => r.startsWith('refund-policy@'));
    expect(policies).toEqual(['refund-policy@1.0.0', 'refund-policy@1.0.1', 'refund-policy@1.1.0', 'refund-policy@1.1.1', 'refund-policy@1.2.0']);
    expect(seen.find((p) => p.version === '1.1.0' && p.name === 'refund-policy').source).toBe('tenant');
    expect(seen.every((p) => p.pack === undefined)).toBe(true);
    const bad = await svc.request('GET', '/v1/rule-packs?cursor=nonsense', { key: author });
    expect(bad.status).toBe(400);
  });

  it('roles and tenancy: author and auditor read, only author uploads; another tenant sees only its own uploads', async () => {
    const pack = await refundPolicyWithLimit(20000, '1.4.0');
    expect((await post('/v1/rule-packs', auditor, pack)).status).toBe(403);
    expect((await post('/v1/rule-packs', publisher, pack)).status).toBe(403);
    expect((await svc.request('GET', '/v1/rule-packs', { key: service })).status).toBe(403);
    expect((await svc.request('GET', '/v1/rule-packs/refund-policy/1.1.0', { key: publisher })).status).toBe(403);
    const cross = await svc.request('GET', '/v1/rule-packs/refund-policy/1.1.0', { key: other.auditor });
    const missing = await svc.request('GET', '/v1/rule-packs/refund-policy/9.9.9', { key: other.auditor });
    expect(cross.status).toBe(404);
    expect(cross.body.code).toBe(missing.body.code);
    // Versions are per tenant: globex may publish its own refund-policy@1.1.0.
    const theirs = await post('/v1/rule-packs', other.author, await refundPolicyWithLimit(15000, '1.1.0'));
    expect(theirs.status).toBe(201);
    const list = await svc.request('GET', '/v1/rule-packs?limit=500', { key: other.auditor });
    expect(list.body.items.filter((p: any) => p.source === 'tenant').map((p: any) => `${p.name}@${p.version}`)).toEqual(['refund-policy@1.1.0']);
  });
});

describe('policy bundles', () => {
  it('accepts the built-in refund-risk bundle re-uploaded as is, refuses a modified one under the same name@version', async () => {
    const bytes = await bundleBytes('refund-risk');
    const same = await post('/v1/policy-bundles?name=refund-risk&version=1.0.0', author, undefined, { raw: bytes, headers: GZIP });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ name: 'refund-risk', version: '1.0.0', source: 'builtin', entrypoints: ['refund/risk/assessment'] });
    const modified = editBundle(bytes, [['"weight":20', '"weight":21']]);
    const r = await post('/v1/policy-bundles?name=refund-risk&version=1.0.0', author, undefined, { raw: modified, headers: GZIP });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('POLICY_BUNDLE_VERSION_EXISTS');
  });

  it('stores a new version (201), accepts it again (200), refuses other bytes for it (409)', async () => {
    const bytes = await refundRiskVersion('1.0.9');
    const first = await post('/v1/policy-bundles?name=refund-risk&version=1.0.9', author, undefined, { raw: bytes, headers: GZIP });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'refund-risk', version: '1.0.9', source: 'tenant', sizeBytes: bytes.byteLength, entrypoints: ['refund/risk/assessment'] });
    const again = await post('/v1/policy-bundles?name=refund-risk&version=1.0.9', author, undefined, { raw: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const otherBytes = editBundle(bytes, [['"weight":21', '"weight":22']]);
    const conflict = await post('/v1/policy-bundles?name=refund-risk&version=1.0.9', author, undefined, { raw: otherBytes, headers: GZIP });
    expect(conflict.status).toBe(409);
    const got = await svc.request('GET', '/v1/policy-bundles/refund-risk/1.0.9', { key: auditor });
    expect(got.body).toEqual(first.body);
  });

  it('refuses a bundle whose manifest names another name@version than the query (422)', async () => {
    const bytes = await refundRiskVersion('1.0.8');
    const r = await post('/v1/policy-bundles?name=refund-risk&version=1.0.7', author, undefined, { raw: bytes, headers: GZIP });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('POLICY_BUNDLE_MISMATCH');
  });

  it('a non-gzip body is 422, an oversized one 413, raw bytes to another route 415, a missing name 400, JSON instead of bytes 400', async () => {
    const junk = await post('/v1/policy-bundles?name=refund-risk&version=2.0.0', author, undefined, { raw: Buffer.from('not a bundle at all'), headers: GZIP });
    expect(junk.status).toBe(422);
    expect(junk.body.code).toBe('POLICY_BUNDLE_INVALID');
    const huge = Buffer.alloc(10 * 1024 * 1024 + 1, 1);
    const big = await post('/v1/policy-bundles?name=refund-risk&version=2.0.0', author, undefined, { raw: huge, headers: GZIP });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // Only the bundle route takes raw bytes: any other answers 415 without reading them, small or large.
    const twoMiB = Buffer.alloc(2 * 1024 * 1024, 1);
    expect((await post('/v1/policy-bundles?name=refund-risk&version=2.0.0', author, undefined, { raw: twoMiB, headers: GZIP })).status).toBe(422);
    expect((await post('/v1/decisions/refund', service, undefined, { raw: twoMiB, headers: GZIP })).status).toBe(415);
    expect((await post('/v1/decisions/refund', service, undefined, { raw: Buffer.from('{}'), headers: { 'content-type': 'application/octet-stream' } })).status).toBe(415);
    const noName = await post('/v1/policy-bundles?version=2.0.0', author, undefined, { raw: await bundleBytes('refund-risk'), headers: GZIP });
    expect(noName.status).toBe(400);
    expect(noName.body.errors.map((e: any) => e.path)).toEqual(['query:name']);
    const json = await post('/v1/policy-bundles?name=refund-risk&version=2.0.0', author, { bundle: 'x' });
    expect(json.status).toBe(400);
  });

  it('only authors upload', async () => {
    const r = await post('/v1/policy-bundles?name=refund-risk&version=1.0.0', publisher, undefined, { raw: await bundleBytes('refund-risk'), headers: GZIP });
    expect(r.status).toBe(403);
  });
});

describe('releases', () => {
  it('stores a release whose components resolve for the tenant (201); identical again 200; other content 409', async () => {
    const body = { name: 'acme-main', version: '1.1.0', description: 'lower auto-approve limit', components: { ...BASE, 'refund-policy': '1.1.0' } };
    const first = await post('/v1/releases', author, body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'acme-main', version: '1.1.0', components: body.components, source: 'tenant' });
    const reordered = { ...body, components: Object.fromEntries(Object.entries(body.components).reverse()) };
    const again = await post('/v1/releases', author, reordered);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const changed = await post('/v1/releases', author, { ...body, components: { ...body.components, 'refund-policy': '1.1.1' } });
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe('RELEASE_VERSION_EXISTS');
    const builtin = await post('/v1/releases', author, { name: 'default', version: '1.0.0', components: { 'refund-policy': '1.0.0' } });
    expect(builtin.status).toBe(409);
    const got = await svc.request('GET', '/v1/releases/acme-main/1.1.0', { key: publisher });
    expect(got.body).toEqual(first.body);
  });

  it('names every component that does not resolve for this tenant (422)', async () => {
    const r = await post('/v1/releases', author, { name: 'acme-main', version: '9.0.0', components: { ...BASE, 'refund-policy': '7.0.0', 'refund-risk': '7.0.0' } });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RELEASE_COMPONENT_NOT_FOUND');
    expect(r.body.errors.map((e: any) => e.path).sort()).toEqual(['/components/refund-policy', '/components/refund-risk']);
    // acme's uploads are not globex's components
    const cross = await post('/v1/releases', other.author, { name: 'mine', version: '1.0.0', components: { ...BASE, 'refund-risk': '1.0.9' } });
    expect(cross.status).toBe(422);
    expect(cross.body.errors.map((e: any) => e.path)).toEqual(['/components/refund-risk']);
  });

  it("refuses a policy paired with a decision type that does not compute what the policy's manifest says it reads (422)", async () => {
    const builtin = (await svc.request('GET', '/v1/releases/default/1.8.0', { key: author })).body.components as Record<string, string>;
    // giftcard-abuse@1.2.0 reads the per-currency counts giftcard-redemption@1.3.0 added; 1.2.0 computes none.
    const r = await post('/v1/releases', author, { name: 'old-redemptions', version: '1.0.0', components: { ...builtin, 'giftcard-redemption': '1.2.0' } });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    expect(r.body.errors).toEqual([
      { path: '/components/giftcard-redemption/pipeline/0/entrypoint', message: expect.stringContaining('giftcard-abuse@1.2.0 reads /features/distinctCurrenciesCard24h') },
      { path: '/components/giftcard-redemption/pipeline/0/entrypoint', message: expect.stringContaining('giftcard-abuse@1.2.0 reads /features/distinctCurrenciesCustomer24h') },
    ]);
    expect((await svc.request('GET', '/v1/releases/old-redemptions/1.0.0', { key: author })).status).toBe(404);
  });

  it('validates the body (400) and the role (403)', async () => {
    const bad = await post('/v1/releases', author, { name: 'Bad Name', version: 'one', components: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(['/name', '/components']));
    expect((await post('/v1/releases', publisher, { name: 'x', version: '1.0.0', components: BASE })).status).toBe(403);
  });
});

describe('activation, rollback and the audit trail', () => {
  it('the built-in release is active until the tenant activates another (any role may ask); nothing to roll back to', async () => {
    for (const key of [service, author, auditor]) {
      const r = await svc.request('GET', '/v1/releases/active', { key });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ name: 'default', version: '1.8.0', components: { ...BASE, 'refund-policy': '1.2.0', refund: '1.3.0', redemption: '1.0.0', 'giftcard-abuse': '1.2.0', 'giftcard-balance-check': '1.2.0', 'giftcard-balance-check-policy': '1.0.0', 'giftcard-challenge': '1.1.0', 'giftcard-challenge-policy': '1.1.0', 'giftcard-redemption': '1.3.0', 'giftcard-redemption-policy': '1.2.0' }, activatedAt: null, activatedBy: null, previous: null });
    }
    const rollback = await post('/v1/releases/rollback', publisher);
    expect(rollback.status).toBe(422);
    expect(rollback.body.code).toBe('NO_PREVIOUS_RELEASE');
  });

  it('activates a release: the next decision uses it, replay of old and new decisions stays identical', async () => {
    const before = await decide(bigRefund('rf_before'));
    expect(before.status).toBe(201);
    expect(before.body.outcome).toBe('APPROVE');

    const k = newKey();
    const r = await post('/v1/releases/acme-main/1.1.0/activate', publisher, undefined, { idempotencyKey: k });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'acme-main', version: '1.1.0', changed: true, previous: { name: 'default', version: '1.8.0' } });
    expect(r.body.activatedBy.name).toBe('release-manager');
    publisherKeyId = r.body.activatedBy.id;
    const replayed = await post('/v1/releases/acme-main/1.1.0/activate', publisher, undefined, { idempotencyKey: k });
    expect(replayed.text).toBe(r.text);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');

    const active = await svc.request('GET', '/v1/releases/active', { key: service });
    expect(active.body).toMatchObject({ name: 'acme-main', version: '1.1.0', components: { ...BASE, 'refund-policy': '1.1.0' }, activatedBy: { id: publisherKeyId, name: 'release-manager' } });
    expect(Date.parse(active.body.activatedAt)).not.toBeNaN();

    const after = await decide(bigRefund('rf_after'));
    expect(after.body.outcome).toBe('REVIEW');
    expect(after.body.reasons).toEqual([expect.objectContaining({ code: 'AMOUNT_OVER_AUTO_APPROVE_LIMIT', source: 'refund-policy@1.1.0' })]);
    expect(after.body.release).toEqual({ name: 'acme-main', version: '1.1.0', components: { ...BASE, 'refund-policy': '1.1.0' } });

    for (const d of [before.body, after.body]) {
      const replay = await svc.request('POST', `/v1/decisions/${d.id}/replay`, { key: auditor });
      expect(replay.status).toBe(200);
      expect(replay.body.identical).toBe(true);
    }
    // Another tenant is untouched.
    expect((await decide(bigRefund(), other.service)).body.outcome).toBe('APPROVE');
    // Activating what is already active changes nothing.
    const again = await post('/v1/releases/acme-main/1.1.0/activate', publisher);
    expect(again.body.changed).toBe(false);
  });

  it("refuses a release whose packs' own test cases fail: 422 RELEASE_TESTS_FAILED naming pack and case", async () => {
    const r = await post('/v1/releases/broken/1.0.0/activate', publisher);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RELEASE_TESTS_FAILED');
    expect(r.body.errors).toEqual([expect.objectContaining({ path: '/components/refund-policy', rule: 'open dispute goes to review' })]);
    expect(r.body.errors[0].message).toContain('refund-policy@1.0.1');
    expect(r.body.failures).toEqual([expect.objectContaining({ pack: 'refund-policy@1.0.1', case: 'open dispute goes to review' })]);
    expect((await svc.request('GET', '/v1/releases/active', { key: service })).body.name).toBe('acme-main');
  });

  it('refuses a release that cannot serve the refund domain or the redemption gate: 422 RELEASE_INCOMPLETE', async () => {
    const { 'refund-policy': _p, ...noRefund } = BASE;
    const { 'redemption-gate': _g, ...noGate } = BASE;
    expect((await post('/v1/releases', author, { name: 'risk-only', version: '1.0.0', components: noRefund })).status).toBe(201);
    expect((await post('/v1/releases', author, { name: 'no-gate', version: '1.0.0', components: noGate })).status).toBe(201);
    for (const name of ['risk-only', 'no-gate']) {
      const r = await post(`/v1/releases/${name}/1.0.0/activate`, publisher);
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('RELEASE_INCOMPLETE');
    }
  });

  it('roles, unknown releases and tenancy', async () => {
    expect((await post('/v1/releases/acme-main/1.1.0/activate', author)).status).toBe(403);
    expect((await post('/v1/releases/rollback', auditor)).status).toBe(403);
    expect((await svc.request('POST', '/v1/releases/acme-main/1.1.0/activate', { key: publisher })).status).toBe(400);
    const unknown = await post('/v1/releases/acme-main/7.7.7/activate', publisher);
    expect(unknown.status).toBe(404);
    const cross = await post('/v1/releases/acme-main/1.1.0/activate', other.publisher);
    expect(cross.status).toBe(404);
    expect(cross.body.code).toBe(unknown.body.code);
  });

  it('rolls back step by step to the built-in release, then 422 NO_PREVIOUS_RELEASE', async () => {
    // acme-main@1.1.0 is active; stack acme-main@1.2.0 (another risk bundle) on top.
    const body = { name: 'acme-main', version: '1.2.0', components: { ...BASE, 'refund-policy': '1.1.0', 'refund-risk': '1.0.9' } };
    expect((await post('/v1/releases', author, body)).status).toBe(201);
    expect((await post('/v1/releases/acme-main/1.2.0/activate', publisher)).body.previous).toEqual({ name: 'acme-main', version: '1.1.0' });
    expect((await decide(bigRefund())).body.release.version).toBe('1.2.0');

    const first = await post('/v1/releases/rollback', publisher);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ name: 'acme-main', version: '1.1.0', rolledBack: { name: 'acme-main', version: '1.2.0' }, previous: { name: 'default', version: '1.8.0' } });
    expect((await decide(bigRefund())).body.release.version).toBe('1.1.0');

    const second = await post('/v1/releases/rollback', publisher);
    expect(second.body).toMatchObject({ name: 'default', version: '1.8.0', previous: null });
    const d = await decide(bigRefund());
    expect(d.body).toMatchObject({ outcome: 'APPROVE', release: { name: 'default', version: '1.8.0' } });

    const none = await post('/v1/releases/rollback', publisher);
    expect(none.status).toBe(422);
    expect(none.body.code).toBe('NO_PREVIOUS_RELEASE');
  });

  it('audits every activation and rollback: who (key id and name), when, from, to', async () => {
    const r = await svc.request('GET', '/v1/audit?limit=500', { key: auditor });
    expect(r.status).toBe(200);
    const entries = (r.body.items as any[]).filter((e) => e.action === 'release.activated' || e.action === 'release.rolled_back');
    // newest first
    expect(entries.map((e) => [e.action, e.details.from, e.details.to])).toEqual([
      ['release.rolled_back', 'acme-main@1.1.0', 'default@1.8.0'],
      ['release.rolled_back', 'acme-main@1.2.0', 'acme-main@1.1.0'],
      ['release.activated', 'acme-main@1.1.0', 'acme-main@1.2.0'],
      ['release.activated', 'default@1.8.0', 'acme-main@1.1.0'],
    ]);
    for (const e of entries) {
      expect(e).toMatchObject({ tenant: 'acme', actor: publisherKeyId, details: { actorName: 'release-manager' } });
      expect(Date.parse(e.at)).not.toBeNaN();
    }
    expect((r.body.items as any[]).some((e) => e.action === 'rule_pack.uploaded' && e.subjectId === 'refund-policy@1.1.0')).toBe(true);

    const page = await svc.request('GET', '/v1/audit?limit=2', { key: auditor });
    expect(page.body.items).toHaveLength(2);
    const next = await svc.request('GET', `/v1/audit?limit=2&cursor=${page.body.nextCursor}`, { key: auditor });
    expect(next.body.items[0].id < page.body.items[1].id).toBe(true);
    expect((await svc.request('GET', '/v1/audit', { key: publisher })).status).toBe(403);
    const theirs = await svc.request('GET', '/v1/audit?limit=500', { key: other.auditor });
    expect((theirs.body.items as any[]).every((e) => e.tenant === 'globex')).toBe(true);
  });
});

describe('shadow evaluation', () => {
  /** Waits until the report has counted `total` decisions (shadow evaluation runs after the answer). */
  async function reportWith(total: number, key = auditor): Promise<any> {
    const until = Date.now() + 10_000;
    for (;;) {
      const r = await svc.request('GET', '/v1/releases/shadow/report', { key });
      expect(r.status).toBe(200);
      if (r.body.total >= total || Date.now() > until) return r.body;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  it('no report before anything was shadowed', async () => {
    const r = await svc.request('GET', '/v1/releases/shadow/report', { key: auditor });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('SHADOW_NOT_FOUND');
  });

  it('evaluates live decisions on the shadow release too, records differences, never changes an answer', async () => {
    expect((await svc.request('GET', '/v1/releases/active', { key: service })).body.name).toBe('default');
    expect((await post('/v1/releases/acme-main/1.1.0/shadow', author)).status).toBe(403);
    const start = await post('/v1/releases/acme-main/1.1.0/shadow', publisher);
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ shadow: { name: 'acme-main', version: '1.1.0' } });

    const k = newKey();
    const answers = [
      await decide(bigRefund('rf_s1'), service, k),
      await decide(bigRefund('rf_s2')),
      await decide(refundCase({ refundId: 'rf_s3' })),
      await decide(refundCase({ refundId: 'rf_s4', disputeOpen: true })),
    ];
    // The answers come from the active (built-in) release.
    expect(answers.map((a) => [a.status, a.body.outcome, a.body.release.name])).toEqual([
      [201, 'APPROVE', 'default'],
      [201, 'APPROVE', 'default'],
      [201, 'APPROVE', 'default'],
      [201, 'REVIEW', 'default'],
    ]);
    // A replayed answer is not a new decision: it is not evaluated again.
    expect((await decide(bigRefund('rf_s1'), service, k)).headers.get('idempotent-replayed')).toBe('true');

    const report = await reportWith(4, author);
    expect(report).toMatchObject({
      shadow: { name: 'acme-main', version: '1.1.0' },
      running: true,
      until: null,
      total: 4,
      changed: 2,
      errors: 0,
      transitions: { 'APPROVE->REVIEW': 2 },
      reasonCodes: { added: { AMOUNT_OVER_AUTO_APPROVE_LIMIT: 2 }, removed: {} },
      instance: { queued: 0, dropped: 0, notStored: 0 },
    });
    expect(Date.parse(report.since)).not.toBeNaN();
    expect(report.recent.map((x: any) => x.decisionId).sort()).toEqual([answers[0]!.body.id, answers[1]!.body.id].sort());
    expect(report.recent[0]).toMatchObject({ baseline: 'APPROVE', shadow: 'REVIEW', reasonCodes: { added: ['AMOUNT_OVER_AUTO_APPROVE_LIMIT'], removed: [] } });

    // Nothing of this reaches another tenant.
    expect((await svc.request('GET', '/v1/releases/shadow/report', { key: other.auditor })).status).toBe(404);
    expect((await svc.request('GET', '/v1/releases/shadow/report', { key: service })).status).toBe(403);
  });

  it('a shadow release that fails to decide is counted as an error; the live answer is unaffected', async () => {
    // Its fact schema requires signals.deviceAccounts, which a case may omit: deciding such a case fails on this pack.
    const pack = await refundPolicyWithLimit(20000, '1.3.0');
    pack.factSchema.properties.signals.required = ['ipRisk', 'deviceAccounts'];
    expect((await post('/v1/rule-packs', author, pack)).status).toBe(201);
    expect((await post('/v1/releases', author, { name: 'strict', version: '1.0.0', components: { ...BASE, 'refund-policy': '1.3.0' } })).status).toBe(201);
    expect((await post('/v1/releases/strict/1.0.0/shadow', publisher)).status).toBe(200);

    const live = await decide(refundCase({ refundId: 'rf_nodevice', signals: { ipRisk: 'low', deviceAccounts: undefined } }));
    expect(live.status).toBe(201);
    expect(live.body.outcome).toBe('APPROVE');
    await decide(refundCase({ refundId: 'rf_device' }));
    const report = await reportWith(2, publisher);
    expect(report).toMatchObject({ shadow: { name: 'strict', version: '1.0.0' }, total: 2, changed: 0, errors: 1, transitions: {} });
    expect(report.recent).toEqual([expect.objectContaining({ decisionId: live.body.id, shadow: null, error: expect.stringContaining('RULE_FACTS_INVALID') })]);
  });

  it('stops on DELETE; the report of the stopped session stays readable', async () => {
    expect((await svc.request('DELETE', '/v1/releases/shadow', { key: author })).status).toBe(403);
    const stop = await svc.request('DELETE', '/v1/releases/shadow', { key: publisher });
    expect(stop.status).toBe(200);
    expect(stop.body).toEqual({ stopped: { name: 'strict', version: '1.0.0' } });
    expect((await svc.request('DELETE', '/v1/releases/shadow', { key: publisher })).body).toEqual({ stopped: null });
    await decide(refundCase({ refundId: 'rf_after_stop', signals: { ipRisk: 'low', deviceAccounts: undefined } }));
    await new Promise((res) => setTimeout(res, 200));
    const report = await reportWith(2);
    expect(report).toMatchObject({ shadow: { name: 'strict', version: '1.0.0' }, running: false, total: 2 });
    expect(Date.parse(report.until)).not.toBeNaN();
    const audit = await svc.request('GET', '/v1/audit?limit=500', { key: auditor });
    expect((audit.body.items as any[]).filter((e) => e.action.startsWith('release.shadow_')).map((e) => [e.action, e.details.from, e.details.to])).toEqual([
      ['release.shadow_stopped', 'strict@1.0.0', 'none'],
      ['release.shadow_started', 'acme-main@1.1.0', 'strict@1.0.0'],
      ['release.shadow_started', 'none', 'acme-main@1.1.0'],
    ]);
  });
});
