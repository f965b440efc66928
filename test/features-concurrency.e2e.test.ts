/**
 * Features under concurrency, over HTTP on PostgreSQL (refund@1.3.0 of the default release): decisions about one
 * entity key are ordered by its lock, so parallel requests each count exactly the ones committed before them; a
 * replay re-applies the values stored with the decision, whatever the history holds now; goodwill refunds count
 * when they are approved, by the rules or by a reviewer.
 */
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

let svc: TestService;
let service: string;
let auditor: string;
let reviewer: string;

beforeAll(async () => {
  if (!process.env.TEST_DATABASE_URL) return;
  svc = await TestService.start('features_concurrency');
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  reviewer = await svc.issueKey('acme', ['reviewer']);
});
afterAll(() => svc?.stop());

const decide = (c: Record<string, unknown>) => svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), body: { case: c } });
const replay = (id: string) => svc.request('POST', `/v1/decisions/${id}/replay`, { key: auditor });

interface TraceEntry {
  rule: string;
  platform: number | null;
  caller: number | null;
  value: number | null;
  from: string;
}
const feature = (body: { trace: TraceEntry[] }, name: string): TraceEntry => {
  const entry = body.trace.find((t) => t.rule === `feature.${name}`);
  if (!entry) throw new Error(`no trace entry feature.${name}`);
  return entry;
};

const PARALLEL = 12;
const REQUESTED_AT = '2026-03-11T12:00:00Z';

onPostgres('parallel decisions about one key count each other in lock order', () => {
  it(`${PARALLEL} refunds of one customer at the same time: refundCount30d is 0, 1, …, ${PARALLEL - 1}, once each`, async () => {
    const customerId = `cus_par_${newKey()}`;
    const cases = Array.from({ length: PARALLEL }, () => refundCase({ customerId, requestedAt: REQUESTED_AT, customer: { refundCount30d: 0 } }));
    const answers = await Promise.all(cases.map(decide));
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(201));
    const counts = answers.map((a) => feature(a.body, 'refundCount30d'));
    expect(counts.map((c) => c.platform).sort((a, b) => a! - b!)).toEqual(Array.from({ length: PARALLEL }, (_, i) => i));
    // The caller said 0: the platform's count is the one used (a caller can add risk, never hide it).
    for (const c of counts) expect(c).toMatchObject({ caller: 0, value: c.platform, from: c.platform === 0 ? 'caller' : 'platform' });
    // What the decisions stored, in the order they committed: each saw exactly the ones before it.
    const stored = await svc.sql<{ n: number }>(
      `select (features->'refundCount30d'->>'platform')::int as n from decisions where id = any(?::uuid[]) order by id`,
      [answers.map((a) => a.body.id as string)],
    );
    expect(stored.map((r) => r.n).sort((a, b) => a - b)).toEqual(Array.from({ length: PARALLEL }, (_, i) => i));
  });

  it(`${PARALLEL} customers on one device at the same time: deviceAccounts is 1, 2, …, ${PARALLEL}, once each`, async () => {
    const deviceId = `dev_par_${newKey()}`;
    const cases = Array.from({ length: PARALLEL }, (_, i) => refundCase({ customerId: `cus_dev_${newKey()}_${i}`, deviceId, requestedAt: REQUESTED_AT, signals: { deviceAccounts: undefined } }));
    const answers = await Promise.all(cases.map(decide));
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(201));
    const accounts = answers.map((a) => feature(a.body, 'deviceAccounts'));
    expect(accounts.map((c) => c.platform).sort((a, b) => a! - b!)).toEqual(Array.from({ length: PARALLEL }, (_, i) => i + 1));
    for (const c of accounts) expect(c).toMatchObject({ caller: null, value: c.platform, from: 'platform' });
    // The device id is stored only as the tenant's pseudonym.
    const [row] = await svc.sql<{ case_data: Record<string, unknown> }>('select case_data from decisions where id = ?', [answers[0]!.body.id]);
    expect(row!.case_data.deviceId).toMatch(/^pii_/);
    expect(JSON.stringify(row!.case_data)).not.toContain(deviceId);
  });

  it('a replay re-applies the stored values: identical, even after more decisions about the same customer', async () => {
    const customerId = `cus_replay_${newKey()}`;
    const deviceId = `dev_replay_${newKey()}`;
    const first = await Promise.all(Array.from({ length: 6 }, () => decide(refundCase({ customerId, deviceId, requestedAt: REQUESTED_AT }))));
    expect(first.map((a) => a.status)).toEqual(Array(6).fill(201));
    // More history for the same keys: a recount today would differ from what each decision saw.
    const later = await Promise.all(Array.from({ length: 4 }, () => decide(refundCase({ customerId, deviceId, requestedAt: REQUESTED_AT }))));
    expect(later.map((a) => a.status)).toEqual(Array(4).fill(201));
    expect(feature(later[0]!.body, 'refundCount30d').platform).toBeGreaterThanOrEqual(6);
    for (const a of first) {
      const r = await replay(a.body.id as string);
      expect([r.status, r.body.identical]).toEqual([200, true]);
    }
  });
});

onPostgres('goodwill refunds count once approved (source refunds, reasonCode GOODWILL)', () => {
  const goodwill = (customerId: string, patch: Record<string, unknown> = {}) =>
    refundCase({ customerId, reasonCode: 'GOODWILL', requestedAt: REQUESTED_AT, customer: { goodwillRefunds12m: 0 }, ...patch });

  it('approved by the rules, and approved by a reviewer after a REVIEW; not while in review, not when denied', async () => {
    const customerId = `cus_gw_${newKey()}`;
    const approved = await decide(goodwill(customerId));
    expect([approved.status, approved.body.outcome]).toEqual([201, 'APPROVE']);
    expect(feature(approved.body, 'goodwillRefunds12m').platform).toBe(0);

    // A REVIEW (a dispute is open): the refund is IN_REVIEW, not yet a granted goodwill refund.
    const inReview = goodwill(customerId, { disputeOpen: true });
    const reviewed = await decide(inReview);
    expect([reviewed.status, reviewed.body.outcome]).toEqual([201, 'REVIEW']);
    expect(feature(reviewed.body, 'goodwillRefunds12m').platform).toBe(1);
    // Another reason than goodwill, and a DENY, count for nothing here.
    const damaged = await decide(refundCase({ customerId, requestedAt: REQUESTED_AT }));
    expect(damaged.body.outcome).toBe('APPROVE');
    const denied = await decide(goodwill(customerId, { requestedAmount: 50_000 }));
    expect(denied.body.outcome).toBe('DENY');
    expect(feature(denied.body, 'goodwillRefunds12m').platform).toBe(1);

    const [item] = await svc.sql<{ id: string }>('select id from reviews where decision_id = ?', [reviewed.body.id]);
    expect((await svc.request('POST', `/v1/reviews/${item!.id}/claim`, { key: reviewer, idempotencyKey: newKey(), body: {} })).status).toBe(200);
    const resolved = await svc.request('POST', `/v1/reviews/${item!.id}/resolve`, { key: reviewer, idempotencyKey: newKey(), body: { resolution: 'APPROVE', reasonCode: 'GOODWILL' } });
    expect(resolved.status).toBe(200);
    expect((await svc.request('GET', `/v1/refunds/${inReview.refundId}`, { key: auditor })).body.state).toBe('APPROVED');

    const next = await decide(goodwill(customerId));
    expect(feature(next.body, 'goodwillRefunds12m')).toMatchObject({ platform: 2, caller: 0, value: 2, from: 'platform' });
  });

  it('the third goodwill refund reaches the limit even when the caller says 0', async () => {
    const customerId = `cus_gw_limit_${newKey()}`;
    for (let i = 0; i < 3; i++) expect((await decide(goodwill(customerId))).body.outcome).toBe('APPROVE');
    const fourth = await decide(goodwill(customerId));
    expect(feature(fourth.body, 'goodwillRefunds12m')).toMatchObject({ platform: 3, caller: 0, value: 3 });
    expect(fourth.body.outcome).toBe('DENY');
    expect(fourth.body.reasons.map((r: { code: string }) => r.code)).toContain('GOODWILL_LIMIT_REACHED');
  });
});
