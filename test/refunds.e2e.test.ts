/**
 * Refunds as objects with a lifecycle (api-contract.md section 8): one per refundId, entered from the decision,
 * every transition recorded, REFUND_EXISTS for a second decision, the order's refunded total the platform's own
 * (raced by real parallel requests on PostgreSQL), cancel before processing, listing and tenancy.
 */
import pg from 'pg';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;
let auditor: string;
let reviewer: string;
let author: string;
let otherTenant: string;

beforeAll(async () => {
  svc = await TestService.start('refunds');
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  reviewer = await svc.issueKey('acme', ['reviewer']);
  author = await svc.issueKey('acme', ['author']);
  otherTenant = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

const decide = (c: Record<string, unknown>, o: { key?: string; idempotencyKey?: string } = {}) =>
  svc.request('POST', '/v1/decisions/refund', { key: o.key ?? service, idempotencyKey: o.idempotencyKey ?? newKey(), body: { case: c } });
const refund = (id: string, key = auditor) => svc.request('GET', `/v1/refunds/${encodeURIComponent(id)}`, { key });
const cancel = (id: string, o: { key?: string; body?: unknown; idempotencyKey?: string } = {}) =>
  svc.request('POST', `/v1/refunds/${encodeURIComponent(id)}/cancel`, { key: o.key ?? service, idempotencyKey: o.idempotencyKey ?? newKey(), body: o.body ?? {} });

describe('a decision creates the refund in the state its outcome names', () => {
  it('APPROVE → APPROVED, with the decision and the first transition by the system', async () => {
    const c = refundCase();
    const d = await decide(c);
    expect(d.status).toBe(201);
    expect(d.body.outcome).toBe('APPROVE');
    const r = await refund(c.refundId);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      refundId: c.refundId,
      orderId: c.orderId,
      // The type marks customerId personal (x-pii): the refund holds the tenant's pseudonym, never the id.
      customerId: expect.stringMatching(/^pii_[A-Za-z0-9_-]{43}$/),
      state: 'APPROVED',
      requestedAmount: 4999,
      approvedAmount: 4999,
      currency: 'EUR',
      decisions: [{ id: d.body.id, type: 'refund', outcome: 'APPROVE' }],
    });
    expect(r.body.history).toEqual([{ from: null, to: 'APPROVED', actor: { id: 'system', role: 'system' }, at: d.body.createdAt, reason: 'decision approved', decisionId: d.body.id }]);
  });

  it('REVIEW → IN_REVIEW and DENY → DENIED, with no approved amount', async () => {
    const review = refundCase({ disputeOpen: true });
    expect((await decide(review)).body.outcome).toBe('REVIEW');
    expect((await refund(review.refundId)).body).toMatchObject({ state: 'IN_REVIEW', approvedAmount: 0 });
    const deny = refundCase({ requestedAmount: 20000 });
    const d = await decide(deny);
    expect(d.body.outcome).toBe('DENY');
    const r = await refund(deny.refundId);
    expect(r.body).toMatchObject({ state: 'DENIED', approvedAmount: 0 });
    expect(r.body.history[0]).toMatchObject({ from: null, to: 'DENIED', reason: 'AMOUNT_EXCEEDS_REFUNDABLE' });
  });

  it('the reviewer and service roles read refunds too; author may not; another tenant gets 404', async () => {
    const c = refundCase();
    await decide(c);
    expect((await refund(c.refundId, reviewer)).status).toBe(200);
    expect((await refund(c.refundId, service)).status).toBe(200);
    expect((await refund(c.refundId, author)).status).toBe(403);
    const other = await refund(c.refundId, otherTenant);
    expect([other.status, other.body.code]).toEqual([404, 'REFUND_NOT_FOUND']);
    expect((await refund('rf_never')).status).toBe(404);
  });
});

describe('one refund per refundId', () => {
  it('a second decision under another Idempotency-Key is 409 REFUND_EXISTS with the refund location; nothing is decided twice', async () => {
    const c = refundCase();
    const k = newKey();
    const first = await decide(c, { idempotencyKey: k });
    expect(first.status).toBe(201);
    const before = (await svc.request('GET', '/v1/decisions?type=refund&limit=500', { key: auditor })).body.items.length;

    const again = await decide(c);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(/problem\+json/);
    expect(again.body).toMatchObject({ code: 'REFUND_EXISTS', location: `/v1/refunds/${c.refundId}`, state: 'APPROVED' });
    expect(again.headers.get('location')).toBe(`/v1/refunds/${c.refundId}`);
    // Even with other content (another order): still the same refund.
    expect((await decide({ ...c, orderId: 'ord_other', requestedAmount: 10 })).body.code).toBe('REFUND_EXISTS');
    // The same key and body: the first answer, replayed.
    const replay = await decide(c, { idempotencyKey: k });
    expect([replay.status, replay.headers.get('idempotent-replayed'), replay.text]).toEqual([201, 'true', first.text]);

    const after = (await svc.request('GET', '/v1/decisions?type=refund&limit=500', { key: auditor })).body.items.length;
    expect(after).toBe(before);
    expect((await refund(c.refundId)).body.decisions).toHaveLength(1);
  });

  it('parallel decisions for one refundId under different keys: exactly one is stored', async () => {
    const c = refundCase();
    const answers = await Promise.all(Array.from({ length: 8 }, () => decide(c)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect((await refund(c.refundId)).body.decisions).toHaveLength(1);
  });

  it('parallel decisions for one refundId under different orders (no shared lock): one is stored, the others 409 and write nothing', async () => {
    // Each holds its own order's and customer's locks, so each passes the read; the refund's insert decides. The losers'
    // writes fail (they go out with their COMMIT): neither their key's claim nor their decision may stay.
    const refundId = `re_race_${newKey()}`;
    const cases = Array.from({ length: 6 }, (_, i) => refundCase({ refundId, orderId: `ord_race_${i}_${refundId}`, customerId: `cus_race_${i}_${refundId}` }));
    const keys = cases.map(() => newKey());
    const answers = await Promise.all(cases.map((c, i) => decide(c, { idempotencyKey: keys[i] })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body).toMatchObject({ code: 'REFUND_EXISTS', location: `/v1/refunds/${refundId}` });
    expect((await refund(refundId)).body.decisions).toHaveLength(1);
    const stored = await svc.sql<{ n: number }>('select count(*)::int as n from decisions where case_data->>\'refundId\' = ?', [refundId]);
    expect(stored).toEqual([{ n: 1 }]);
    // A loser's key sent again gets the same 409 (its claim was not kept as a success).
    const i = answers.findIndex((a) => a.status === 409);
    expect((await decide(cases[i]!, { idempotencyKey: keys[i] })).status).toBe(409);
  });
});

const onPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;

describe('one Idempotency-Key sent to two routes at once (a client bug: 422, never a deadlock)', () => {
  // The order's lock and the key's claim are taken in one order by every route: the claim, then the order. A refund
  // decision that locked the order first and then waited on a review resolution's claim of the same key, while that
  // resolution waited on the order, was a deadlock PostgreSQL broke by failing one of them with a 500.
  onPostgres('a refund decision and a review resolution of the same order with one key: the first is answered, the other 422', async () => {
    const c = refundCase({ disputeOpen: true });
    const opened = await decide(c);
    expect(opened.body.outcome).toBe('REVIEW');
    const [item] = await svc.sql<{ id: string }>('select id from reviews where decision_id = ?', [opened.body.id]);
    expect((await svc.request('POST', `/v1/reviews/${item!.id}/claim`, { key: reviewer, idempotencyKey: newKey(), body: {} })).status).toBe(200);
    // Line both requests up behind the order's lock (held here), the decision first.
    const lock = new pg.Client({ connectionString: svc.databaseUrl });
    await lock.connect();
    const order = [0x72666e64, `acme/${c.orderId}`];
    await lock.query('select pg_advisory_lock($1, hashtext($2))', order);
    const k = newKey();
    const decided = decide(refundCase({ orderId: c.orderId }), { idempotencyKey: k });
    await new Promise((r) => setTimeout(r, 300));
    const resolved = svc.request('POST', `/v1/reviews/${item!.id}/resolve`, { key: reviewer, idempotencyKey: k, body: { resolution: 'APPROVE', reasonCode: 'GOODWILL' } });
    await new Promise((r) => setTimeout(r, 300));
    await lock.query('select pg_advisory_unlock($1, hashtext($2))', order);
    await lock.end();
    // The decision claimed the key first (before waiting for the order): it is answered, the resolution is refused.
    const [d, r] = await Promise.all([decided, resolved]);
    expect([d.status, r.status, r.body.code]).toEqual([201, 422, 'IDEMPOTENCY_KEY_REUSED']);
  });
});

describe("the order's refunded total is the platform's own", () => {
  it('uses the larger of the caller\'s and the platform\'s, and shows both in the trace', async () => {
    const order = { orderId: `ord_total_${newKey()}` };
    const a = refundCase({ ...order, requestedAmount: 8000 });
    expect((await decide(a)).body.outcome).toBe('APPROVE');
    // The caller forgot refund A: the platform did not.
    const b = refundCase({ ...order, requestedAmount: 5000, order: { refundedAmount: 0 } });
    const d = await decide(b);
    expect(d.body.outcome).toBe('DENY');
    expect(d.body.reasons.map((r: { code: string }) => r.code)).toContain('AMOUNT_EXCEEDS_REFUNDABLE');
    expect(d.body.trace[0]).toEqual({ source: 'platform@refunds', rule: 'order.refundedAmount', fired: true, callerRefundedAmount: 0, platformRefundedAmount: 8000, used: 8000 });
    // A caller that knows of more (refunds made elsewhere) wins.
    const c = refundCase({ ...order, requestedAmount: 1000, order: { refundedAmount: 12000 } });
    const e = await decide(c);
    expect(e.body.trace[0]).toMatchObject({ fired: false, callerRefundedAmount: 12000, platformRefundedAmount: 8000, used: 12000 });
    expect(e.body.outcome).toBe('DENY');
    // The replay sees what the platform knew then, not what it knows now.
    const replay = await svc.request('POST', `/v1/decisions/${d.body.id}/replay`, { key: auditor });
    expect(replay.body.identical).toBe(true);
  });

  it('parallel refunds of one order that together exceed the captured amount are not all approved', async () => {
    const orderId = `ord_race_${newKey()}`;
    // Captured 12999: three refunds of 4000 fit, the fourth does not.
    const cases = Array.from({ length: 10 }, () => refundCase({ orderId, requestedAmount: 4000 }));
    const answers = await Promise.all(cases.map((c) => decide(c)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    const outcomes = answers.map((a) => a.body.outcome);
    expect(outcomes.filter((o) => o === 'APPROVE')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'DENY')).toHaveLength(7);
    const approved = await svc.request('GET', `/v1/refunds?orderId=${orderId}&state=APPROVED`, { key: auditor });
    const total = approved.body.items.reduce((s: number, r: { approvedAmount: number }) => s + r.approvedAmount, 0);
    expect(total).toBe(12000);
  });
});

describe('cancel before processing', () => {
  it('APPROVED → CANCELED by the service, recorded with its actor and reason; the amount is free again', async () => {
    const orderId = `ord_cancel_${newKey()}`;
    const c = refundCase({ orderId, requestedAmount: 12000 });
    await decide(c);
    const k = newKey();
    const r = await cancel(c.refundId, { body: { reason: 'customer kept the item' }, idempotencyKey: k });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ refundId: c.refundId, state: 'CANCELED' });
    const replay = await cancel(c.refundId, { body: { reason: 'customer kept the item' }, idempotencyKey: k });
    expect([replay.status, replay.headers.get('idempotent-replayed'), replay.text]).toEqual([200, 'true', r.text]);
    const got = await refund(c.refundId);
    expect(got.body.history.map((h: { to: string }) => h.to)).toEqual(['APPROVED', 'CANCELED']);
    expect(got.body.history[1]).toMatchObject({ from: 'APPROVED', to: 'CANCELED', reason: 'customer kept the item' });
    expect(got.body.history[1].actor.role).toBe('service');
    // The canceled 12000 no longer counts against the order.
    expect((await decide(refundCase({ orderId, requestedAmount: 12000 }))).body.outcome).toBe('APPROVE');
  });

  it('IN_REVIEW → CANCELED; a final state refuses with 409 INVALID_TRANSITION naming both states', async () => {
    const inReview = refundCase({ disputeOpen: true });
    await decide(inReview);
    expect((await cancel(inReview.refundId)).body.state).toBe('CANCELED');
    const again = await cancel(inReview.refundId);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'INVALID_TRANSITION', from: 'CANCELED', to: 'CANCELED' });
    const denied = refundCase({ requestedAmount: 20000 });
    await decide(denied);
    const r = await cancel(denied.refundId);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'INVALID_TRANSITION', from: 'DENIED', to: 'CANCELED' });
    expect(r.body.detail).toContain('DENIED');
    expect(r.body.detail).toContain('CANCELED');
  });

  it('bad input is 400 naming the field; unknown refund 404; roles and tenancy hold', async () => {
    const c = refundCase();
    await decide(c);
    const bad = await cancel(c.refundId, { body: { reason: 7, extra: true } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/extra', '/reason']);
    expect((await cancel('rf_missing')).status).toBe(404);
    expect((await cancel(c.refundId, { key: auditor })).status).toBe(403);
    expect((await cancel(c.refundId, { key: otherTenant })).status).toBe(404);
    expect((await svc.request('POST', `/v1/refunds/${c.refundId}/cancel`, { key: service, body: {} })).status).toBe(400);
    expect((await refund(c.refundId)).body.state).toBe('APPROVED');
  });
});

describe('listing', () => {
  it('filters by state, customer and time, newest first, with cursor pagination', async () => {
    const customerId = `cus_list_é_${newKey()}`;
    const made: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const c = refundCase({ customerId, ...(i === 2 ? { disputeOpen: true } : {}) });
      await decide(c);
      made.push(c.refundId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { refundId: string }[]; nextCursor: string | null } } = await svc.request('GET', `/v1/refunds?customerId=${encodeURIComponent(customerId)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: auditor });
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((r) => r.refundId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    const inReview = await svc.request('GET', `/v1/refunds?customerId=${encodeURIComponent(customerId)}&state=IN_REVIEW`, { key: auditor });
    expect(inReview.body.items.map((r: { refundId: string }) => r.refundId)).toEqual([made[2]]);
    // Listed as GET /v1/refunds/{id} shows them (api-contract.md section 8): decisions and history included.
    const one = (await refund(made[2]!)).body;
    expect(inReview.body.items[0]).toMatchObject({ decisions: one.decisions, history: one.history, state: 'IN_REVIEW' });
    expect(inReview.body.items[0].decisions).toHaveLength(1);
    expect(inReview.body.items[0].history).toEqual([expect.objectContaining({ from: null, to: 'IN_REVIEW' })]);
    const future = await svc.request('GET', `/v1/refunds?customerId=${encodeURIComponent(customerId)}&from=2999-01-01T00:00:00Z`, { key: auditor });
    expect(future.body.items).toEqual([]);
    expect((await svc.request('GET', `/v1/refunds?customerId=${encodeURIComponent(customerId)}`, { key: otherTenant })).body.items).toEqual([]);
  });

  it('refuses bad filters with 400 naming each', async () => {
    const r = await svc.request('GET', '/v1/refunds?state=PAID&limit=0&from=yesterday', { key: auditor });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query:from', 'query:limit', 'query:state']);
    const nul = await svc.request('GET', '/v1/refunds?customerId=a%00b&orderId=' + 'o'.repeat(256), { key: auditor });
    expect([nul.status, nul.body.errors.map((e: { path: string }) => e.path).sort()]).toEqual([400, ['query:customerId', 'query:orderId']]);
    const c = await svc.request('GET', '/v1/refunds?cursor=nope', { key: auditor });
    expect([c.status, c.body.errors[0].path]).toEqual([400, 'query:cursor']);
  });
});

describe('review: odd refundIds in the path and in cursors are client input, never a 500', () => {
  it('a NUL in the path is a missing refund: 404 on GET and on cancel', async () => {
    const got = await svc.request('GET', '/v1/refunds/rf%00x', { key: auditor });
    expect([got.status, got.body.code]).toEqual([404, 'REFUND_NOT_FOUND']);
    const canceled = await svc.request('POST', '/v1/refunds/rf%00x/cancel', { key: service, idempotencyKey: newKey(), body: {} });
    expect([canceled.status, canceled.body.code]).toEqual([404, 'REFUND_NOT_FOUND']);
  });

  it('every refundId the case schema accepts (255 characters, non-ASCII) can be read and canceled', async () => {
    for (const refundId of [`rf_${'x'.repeat(252)}`, 'é'.repeat(255), `rf/${'€'.repeat(60)}`]) {
      const c = refundCase({ refundId, orderId: `ord_long_${newKey()}` });
      expect((await decide(c)).status).toBe(201);
      const got = await refund(refundId);
      expect([got.status, got.body.refundId]).toEqual([200, refundId]);
      const canceled = await cancel(refundId);
      expect([canceled.status, canceled.body.state]).toEqual([200, 'CANCELED']);
    }
  });

  it('a cursor whose position PostgreSQL cannot hold (NUL, a year out of range) is 400 CURSOR_INVALID', async () => {
    const cursors = [
      { at: '2026-01-01T00:00:00.000Z', id: 'a\u0000b' },
      { at: '+275760-09-13T00:00:00.000Z', id: 'a' },
      { at: '-271821-04-20T00:00:00.000Z', id: 'a' },
    ].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url'));
    for (const cursor of cursors) {
      const r = await svc.request('GET', `/v1/refunds?cursor=${cursor}`, { key: auditor });
      expect([r.status, r.body.code]).toEqual([400, 'CURSOR_INVALID']);
    }
  });
});
