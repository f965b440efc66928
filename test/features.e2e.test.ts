/**
 * Features as data (issue 10): a tenant's decision type declares what its decisions record into the platform's
 * history and what it reads back; the platform counts it, shows it in the trace, stores it with the decision, keeps
 * personal fields only as pseudonyms, replays with the stored values and backtests with recomputed ones. The refund
 * type counts the ledger's chargebacks. Bad declarations are refused at upload or at release creation, with paths.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentRoot, repoRoot, type ContentRoot } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const fixture = join(repoRoot, 'test/fixtures/signup-check');
const BUILTIN = { redemption: '1.0.0', 'redemption-gate': '1.0.0', refund: '1.2.0', 'refund-policy': '1.2.0', 'refund-risk': '1.0.0' };
const SIGNUP = { ...BUILTIN, 'signup-check': '1.0.0', 'signup-rules': '1.0.0' };

let svc: TestService;
let root: ContentRoot;
let author: string;
let publisher: string;
let service: string;
let auditor: string;
let type: Record<string, any>;
let pack: Record<string, any>;

const post = (path: string, key: string, body?: unknown, idem = newKey()) => svc.request('POST', path, { key, idempotencyKey: idem, ...(body === undefined ? {} : { body }) });

const signup = (patch: Record<string, unknown> = {}) => ({
  signupId: `s-${newKey()}`,
  email: 'ada.lovelace@example.com',
  ip: '203.0.113.77',
  deviceId: 'dev-analytical-1',
  requestedAt: '2026-05-01T10:00:00Z',
  ...patch,
});

const featureEntries = (d: any) => (d.trace as any[]).filter((t) => t.source === 'platform@features');
const feature = (d: any, name: string) => featureEntries(d).find((t) => t.feature === name);

beforeAll(async () => {
  type = JSON.parse(await readFile(join(fixture, 'type.json'), 'utf8')) as Record<string, any>;
  pack = JSON.parse(await readFile(join(fixture, 'pack.json'), 'utf8')) as Record<string, any>;
  root = await contentRoot();
  svc = await TestService.start('features', { contentRoot: root.dir, retentionDaysTenants: { brief: 7 } });
  author = await svc.issueKey('acme', ['author']);
  publisher = await svc.issueKey('acme', ['publisher']);
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  expect((await post('/v1/rule-packs', author, pack)).status).toBe(201);
  expect((await post('/v1/decision-types', author, type)).status).toBe(201);
  expect((await post('/v1/releases', author, { name: 'signups', version: '1.0.0', components: SIGNUP })).status).toBe(201);
  expect((await post('/v1/releases/signups/1.0.0/activate', publisher)).status).toBe(200);
}, 300_000);

afterAll(async () => {
  await svc?.stop();
  await root?.remove();
});

describe('a type that counts its own history', () => {
  it('in the first century too: a device first seen in year 0050 is 600 s old ten minutes later (not read back as 1950)', async () => {
    const answers = [];
    for (const at of ['0050-02-01T00:00:00Z', '0050-02-01T00:10:00Z']) {
      const r = await post('/v1/decisions/signup-check', service, { case: signup({ ip: '198.51.100.50', email: `y50-${at}@example.com`, deviceId: 'dev-year-0050', requestedAt: at }) });
      expect(r.status).toBe(201);
      answers.push(r.body);
    }
    expect(answers.map((a) => feature(a, 'deviceAgeSeconds').value)).toEqual([null, 600]);
  });

  it('counts sign-ups per IP in a sliding hour, emails per device in a day and the device age, in the trace and the stored decision', async () => {
    const ip = '198.51.100.10';
    const answers = [];
    for (const [i, minutes] of [0, 10, 20, 70].entries()) {
      const at = new Date(Date.parse('2026-05-01T10:00:00Z') + minutes * 60_000).toISOString();
      const r = await post('/v1/decisions/signup-check', service, { case: signup({ ip, email: `user${i}@example.com`, deviceId: 'dev-count', requestedAt: at }) });
      expect(r.status).toBe(201);
      answers.push(r.body);
    }
    expect(answers.map((a) => feature(a, 'signupsPerIp1h').value)).toEqual([0, 1, 2, 1]); // at 11:10 the hour is (10:10, 11:10]: only 10:20 is in it
    expect(answers.map((a) => feature(a, 'emailsPerDevice24h').value)).toEqual([1, 2, 3, 4]);
    expect(answers.map((a) => feature(a, 'deviceAgeSeconds').value)).toEqual([null, 600, 1200, 4200]);
    expect(answers.map((a) => a.outcome)).toEqual(['ALLOW', 'ALLOW', 'REVIEW', 'REVIEW']);
    expect(feature(answers[1], 'signupsPerIp1h')).toEqual({
      source: 'platform@features',
      rule: 'feature.signupsPerIp1h',
      fired: false,
      feature: 'signupsPerIp1h',
      value: 1,
      from: 'platform',
      entity: 'ip',
      window: '1h',
      platform: 1,
      caller: null,
    });
    // The trace leads with the features, by name.
    expect(answers[0].trace.slice(0, 4).map((t: any) => t.rule)).toEqual(['feature.blockedPerIp24h', 'feature.deviceAgeSeconds', 'feature.emailsPerDevice24h', 'feature.signupsPerIp1h']);
    const [row] = await svc.sql<{ features: any }>('select features from decisions where id = ?', [answers[3].id]);
    expect(row!.features.emailsPerDevice24h).toEqual({ value: 4, platform: 4, caller: null, from: 'platform' });
  });

  it('combines with the caller by max: a caller can add risk but never hide it', async () => {
    const ip = '198.51.100.20';
    for (let i = 0; i < 3; i++) expect((await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: `dev-max-${i}` }) })).status).toBe(201);
    const hiding = await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: 'dev-max-x', priorSignups: 0 }) });
    expect(hiding.body.outcome).toBe('BLOCK');
    expect(feature(hiding.body, 'signupsPerIp1h')).toMatchObject({ value: 3, from: 'platform', fired: true, platform: 3, caller: 0 });
    const adding = await post('/v1/decisions/signup-check', service, { case: signup({ ip: '198.51.100.21', deviceId: 'dev-max-y', priorSignups: 7 }) });
    expect(adding.body.outcome).toBe('BLOCK');
    expect(feature(adding.body, 'signupsPerIp1h')).toMatchObject({ value: 7, from: 'caller', fired: false, platform: 0, caller: 7 });
    // Filtered by outcome: the blocked decisions above are counted by blockedPerIp24h.
    const after = await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: 'dev-max-z' }) });
    expect(feature(after.body, 'blockedPerIp24h').value).toBe(1);
  });

  it('a case without the entity key gets the declared default, and the trace says so', async () => {
    const { deviceId: _none, ...noDevice } = signup({ ip: '198.51.100.30' });
    const r = await post('/v1/decisions/signup-check', service, { case: noDevice });
    expect(r.status).toBe(201);
    expect(feature(r.body, 'emailsPerDevice24h')).toMatchObject({ value: 0, from: 'default', detail: expect.stringContaining('no device key') });
    expect(feature(r.body, 'deviceAgeSeconds')).toMatchObject({ value: null, from: 'default' });
  });

  it('keeps the email and IP only as pseudonyms: not in the stored case, the document, the history or the outbox', async () => {
    const email = 'grace.hopper.unique@example.org';
    const ip = '192.0.2.231';
    const r = await post('/v1/decisions/signup-check', service, { case: signup({ email, ip, deviceId: 'dev-pii' }) });
    expect(r.status).toBe(201);
    const [row] = await svc.sql<{ case_data: any; document: string }>('select case_data, document::text as document from decisions where id = ?', [r.body.id]);
    expect(row!.case_data.email).toMatch(/^pii_[A-Za-z0-9_-]{43}$/);
    expect(row!.case_data.ip).toMatch(/^pii_/);
    expect(row!.case_data.deviceId).toBe('dev-pii'); // not marked: kept as sent
    const everywhere = await svc.sql<{ n: number }>(
      `select (select count(*) from decisions where case_data::text like ? or document::text like ?)
            + (select count(*) from feature_events where key like ? or keys::text like ?)
            + (select count(*) from outbox_events where data::text like ?) as n`,
      Array(5).fill(`%${email}%`),
    );
    expect(Number(everywhere[0]!.n)).toBe(0);
    expect(JSON.stringify(r.body)).not.toContain(email);
    expect(JSON.stringify(r.body)).not.toContain(ip);
    // The same raw value is the same pseudonym: the second sign-up from the IP counts the first.
    const again = await post('/v1/decisions/signup-check', service, { case: signup({ email: 'other@example.org', ip, deviceId: 'dev-pii-2' }) });
    expect(feature(again.body, 'signupsPerIp1h').value).toBe(1);
  });

  it('replays with the stored values (identical after more history), and a backtest recomputes them as of each case', async () => {
    const ip = '198.51.100.40';
    const first = await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: 'dev-replay', requestedAt: '2026-06-01T10:00:00Z' }) });
    for (let i = 0; i < 3; i++) await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: `dev-replay-${i}`, requestedAt: '2026-06-01T09:59:00Z' }) });
    const replay = await post(`/v1/decisions/${first.body.id}/replay`, auditor);
    expect(replay.status).toBe(200);
    expect(replay.body.identical).toBe(true);
    expect(feature(replay.body.replayed, 'signupsPerIp1h').value).toBe(0);

    const window = { from: '2026-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
    const stored = await post('/v1/simulations', author, { domain: 'signup-check', release: { name: 'signups', version: '1.0.0', components: SIGNUP }, replay: { ...window, limit: 1000 } });
    expect(stored.status).toBe(201);
    expect(stored.body.baseline).toMatchObject({ kind: 'stored-decisions', features: 'stored' });
    expect(stored.body.summary.changed).toBe(0);
    // Recomputed as of its own time, the first decision now sees the three made a minute before it (backdated).
    const backtest = await post('/v1/simulations', author, {
      domain: 'signup-check',
      release: { name: 'signups', version: '1.0.0', components: SIGNUP },
      replay: { ...window, limit: 1000 },
      features: 'recompute',
    });
    expect(backtest.status).toBe(201);
    expect(backtest.body.baseline).toMatchObject({ features: 'recompute' });
    // An empty history is no replay: refused, not silently replaced by the stored values.
    const none = await post('/v1/simulations', author, { domain: 'signup-check', release: { name: 'signups', version: '1.0.0', components: SIGNUP }, replay: window, features: 'none' });
    expect(none.status).toBe(400);
    expect(none.body.errors).toEqual([expect.objectContaining({ path: '/features', message: expect.stringContaining('none is for supplied cases') })]);
    const changed = backtest.body.results.find((x: any) => x.caseRef === first.body.id);
    expect(changed).toMatchObject({ changed: true, baseline: { outcome: 'ALLOW' }, candidate: { outcome: 'BLOCK', reasons: ['IP_VELOCITY'] } });
  });

  it('supplied what-if cases are pseudonymized and see an empty history unless asked to recompute', async () => {
    const ip = '198.51.100.50';
    for (let i = 0; i < 3; i++) await post('/v1/decisions/signup-check', service, { case: signup({ ip, deviceId: `dev-whatif-${i}` }) });
    const body = { domain: 'signup-check', release: { name: 'signups', version: '1.0.0', components: SIGNUP }, cases: [signup({ ip, deviceId: 'dev-whatif-x', signupId: 'w-1' })] };
    const none = await post('/v1/simulations', author, body);
    expect(none.body.baseline).toMatchObject({ features: 'none' });
    expect(none.body.results[0].candidate.outcome).toBe('ALLOW');
    const recomputed = await post('/v1/simulations', author, { ...body, features: 'recompute' });
    expect(recomputed.body.results[0].candidate).toMatchObject({ outcome: 'BLOCK', reasons: ['IP_VELOCITY'] });
    const bad = await post('/v1/simulations', author, { ...body, features: 'stored' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: '/features' })]);
  });
});

describe('refund features from the platform and the ledger', () => {
  it('counts the chargebacks the ledger recorded on the reward account the refund names', async () => {
    const acct = `acct-${newKey()}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${acct}`, { key: service, idempotencyKey: newKey(), body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBeLessThan(300);
    const tx = `tx-${newKey()}`;
    expect((await post(`/v1/ledger/accounts/${acct}/transactions`, service, { transactionId: tx, amount: 10000, category: 'groceries', occurredAt: '2026-02-01T10:00:00Z' })).status).toBe(201);
    expect((await post(`/v1/ledger/transactions/${tx}/settle`, service, { settledAt: '2026-02-02T10:00:00Z' })).status).toBeLessThan(300);
    expect((await post(`/v1/ledger/transactions/${tx}/chargebacks`, service, { chargebackId: `cb-${newKey()}`, amount: 2000, at: '2026-02-10T10:00:00Z' })).status).toBeLessThan(300);
    const r = await post('/v1/decisions/refund', service, { case: refundCase({ reward: { accountId: acct, transactionId: tx } }) });
    expect(r.status).toBe(201);
    expect(feature(r.body, 'priorChargebacks')).toMatchObject({ value: 1, from: 'platform', platform: 1, caller: 0, fired: true });
    expect(r.body.trace).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'signal.PRIOR_CHARGEBACK', fired: true })]));
    // Without a reward account the caller's value stands, and the trace says the platform had no key.
    const plain = await post('/v1/decisions/refund', service, { case: refundCase() });
    expect(feature(plain.body, 'priorChargebacks')).toMatchObject({ value: 0, from: 'caller' });
  });

  it('counts approved goodwill refunds of the customer (refund state changes), not denied ones', async () => {
    const customerId = `cus-goodwill-${newKey()}`;
    const values = [];
    for (let i = 0; i < 4; i++) {
      const r = await post('/v1/decisions/refund', service, { case: refundCase({ customerId, reasonCode: 'GOODWILL' }) });
      values.push([feature(r.body, 'goodwillRefunds12m').value, r.body.outcome]);
    }
    expect(values).toEqual([
      [0, 'APPROVE'],
      [1, 'APPROVE'],
      [2, 'APPROVE'],
      [3, 'DENY'],
    ]);
    const fifth = await post('/v1/decisions/refund', service, { case: refundCase({ customerId, reasonCode: 'GOODWILL' }) });
    expect(feature(fifth.body, 'goodwillRefunds12m').value).toBe(3); // the DENY was not a refund given
    expect(feature(fifth.body, 'refundCount30d').value).toBe(4); // but it was a refund asked for
  });

  it('finds refunds by the raw customer id although only the pseudonym is stored', async () => {
    const customerId = `cus-lookup-${newKey()}`;
    const r = await post('/v1/decisions/refund', service, { case: refundCase({ customerId }) });
    expect(r.status).toBe(201);
    const list = await svc.request('GET', `/v1/refunds?customerId=${encodeURIComponent(customerId)}`, { key: auditor });
    expect(list.body.items.map((x: any) => x.refundId)).toEqual([r.body.refundId]);
    expect(list.body.items[0].customerId).toMatch(/^pii_/);
  });
});

describe('bad declarations are refused with the path', () => {
  it('at upload: an entity the type does not record, an undeclared caller or key path, a bad window', async () => {
    const bad = structuredClone(type);
    bad.version = '1.0.1';
    bad.features.signupsPerIp1h.entity = 'card';
    bad.features.emailsPerDevice24h.caller = '/nope';
    bad.history.entities.phone = '/phone';
    const r = await post('/v1/decision-types', author, bad);
    expect(r.status).toBe(422);
    const paths = r.body.errors.map((e: any) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/features/signupsPerIp1h/entity', '/features/emailsPerDevice24h/caller', '/history/entities/phone']));
    const window = structuredClone(type);
    window.version = '1.0.3';
    window.features.deviceAgeSeconds.window = '30y';
    const w = await post('/v1/decision-types', author, window);
    expect(w.status).toBe(422);
    expect(w.body.errors).toEqual([expect.objectContaining({ path: '/features/deviceAgeSeconds/window' })]);
    expect((await svc.request('GET', '/v1/decision-types/signup-check/1.0.1', { key: auditor })).status).toBe(404);
  });

  it('at upload: a window longer than the tenant keeps its history (its retention)', async () => {
    const briefAuthor = await svc.issueKey('brief', ['author']);
    const r = await post('/v1/decision-types', briefAuthor, type);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('FEATURE_WINDOW_BEYOND_RETENTION');
    expect(r.body.errors).toEqual([expect.objectContaining({ path: '/features/deviceAgeSeconds/window', message: expect.stringContaining('7 days') })]);
    // The same document fits acme's retention (the default 400 days): it was stored above.
  });

  it("at release creation: a window longer than the tenant's retention, in any type the release names (the built-in ones too)", async () => {
    const briefAuthor = await svc.issueKey('brief', ['author']);
    const active = await svc.request('GET', '/v1/releases/active', { key: briefAuthor });
    const r = await post('/v1/releases', briefAuthor, { name: 'brief-copy', version: '1.0.0', components: active.body.components });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('FEATURE_WINDOW_BEYOND_RETENTION');
    expect(r.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^\/components\/refund\/features\/\w+\/window$/), message: expect.stringContaining('7 days') })]));
    expect((await svc.request('GET', '/v1/releases/brief-copy/1.0.0', { key: briefAuthor })).status).toBe(404);
  });

  it('at release creation: a feature over decisions of a type the release lacks, or an attribute its history does not record', async () => {
    const other = structuredClone(type);
    other.version = '1.0.2';
    other.features.signupsPerIp1h.source = { decisions: 'login-check' };
    other.features.blockedPerIp24h.source = { decisions: 'signup-check', where: { channel: 'web' } };
    expect((await post('/v1/decision-types', author, other)).status).toBe(201);
    const r = await post('/v1/releases', author, { name: 'signups', version: '1.0.2', components: { ...SIGNUP, 'signup-check': '1.0.2' } });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('RELEASE_INCOMPLETE');
    expect(r.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/components/signup-check/features/signupsPerIp1h/source', message: expect.stringContaining('login-check') }),
        expect.objectContaining({ path: '/components/signup-check/features/blockedPerIp24h/source', message: expect.stringContaining('channel') }),
      ]),
    );
  });
});
