/**
 * The review queue over HTTP on a real database (api-contract.md section 8): order, filters and pages; claims, leases
 * and parallel claims; resolutions with four-eyes, the linked decision and the refund's transition; cancellation and
 * the overdue sweep.
 */
import { ReviewsRepository } from '../libs/persistence/index.js';
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let seq = 0;
const unique = (p: string) => `${p}_${process.pid}_${++seq}`;

interface Key {
  id: string;
  key: string;
}

async function issue(tenant: string, roles: string[], name = 'test', extra: Record<string, unknown> = {}): Promise<Key> {
  const r = await svc.request<Key>('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant, roles, name, ...extra } });
  if (r.status !== 201) throw new Error(`issue ${r.status} ${r.text}`);
  return r.body;
}

/** One tenant with a requesting service key, three reviewers and an auditor. */
async function team(tenant = unique('t')) {
  const [service, a, b, c, auditor] = await Promise.all([
    issue(tenant, ['service'], 'checkout'),
    issue(tenant, ['reviewer'], 'alice'),
    issue(tenant, ['reviewer'], 'bob'),
    issue(tenant, ['reviewer'], 'carol'),
    issue(tenant, ['auditor'], 'audit'),
  ]);
  return { tenant, service, a, b, c, auditor };
}
type Team = Awaited<ReturnType<typeof team>>;

interface Opened {
  reviewId: string;
  decisionId: string;
  refundId: string;
  orderId: string;
}

/**
 * A refund decision over HTTP whose outcome is REVIEW (a dispute is open), and the review item it opened. `deadline`
 * arranges (in the database) what the release's SLA parameter would otherwise fix.
 */
async function openReview(t: Team, o: { amount?: number; orderId?: string; captured?: number; requester?: Key; deadline?: Date } = {}): Promise<Opened> {
  const refundId = unique('rf');
  const orderId = o.orderId ?? unique('ord');
  const amount = o.amount ?? 8000;
  const captured = o.captured ?? Math.max(amount, 12999);
  const body = {
    case: refundCase({
      refundId,
      orderId,
      requestedAmount: amount,
      disputeOpen: true,
      order: { capturedAmount: captured, items: [{ sku: 'SKU-1', amount: captured, finalSale: false, category: 'apparel' }] },
    }),
  };
  const requester = o.requester ?? t.service;
  const d = await svc.request('POST', '/v1/decisions/refund', { key: requester.key, idempotencyKey: newKey(), body });
  if (d.status !== 201 || d.body.outcome !== 'REVIEW') throw new Error(`decision ${d.status} ${d.text}`);
  const decisionId = d.body.id as string;
  // The refund decision opened the item (deadline, lease and approvals from the release's refund-policy parameters).
  const rows = await svc.sql<{ id: string }>('select id from reviews where tenant = ? and decision_id = ?', [t.tenant, decisionId]);
  if (rows.length !== 1) throw new Error(`decision ${decisionId} opened ${rows.length} review items`);
  const reviewId = rows[0]!.id;
  if (o.deadline !== undefined) await svc.sql('update reviews set deadline = ? where id = ?', [o.deadline.toISOString(), reviewId]);
  return { reviewId, decisionId, refundId, orderId };
}

const post = (key: Key, path: string, body?: unknown, idempotencyKey = newKey()) => svc.request('POST', path, { key: key.key, idempotencyKey, body });
const claim = (key: Key, id: string) => post(key, `/v1/reviews/${id}/claim`);
const release = (key: Key, id: string) => post(key, `/v1/reviews/${id}/release`);
const resolve = (key: Key, id: string, body: Record<string, unknown>, idem?: string) => post(key, `/v1/reviews/${id}/resolve`, body, idem);
const get = (key: Key, path: string) => svc.request('GET', path, { key: key.key });
const approve = (amount?: number, note?: string) => ({ resolution: 'APPROVE', reasonCode: 'GOODWILL', ...(amount === undefined ? {} : { amount }), ...(note ? { note } : {}) });

async function refundOf(t: Team, refundId: string) {
  const [refund] = await svc.sql<{ state: string; approved_amount: string }>('select state, approved_amount from refunds where tenant = ? and refund_id = ?', [t.tenant, refundId]);
  const history = await svc.sql<{ from_state: string; to_state: string; actor_id: string; actor_role: string; reason: string; decision_id: string }>(
    'select * from refund_transitions where tenant = ? and refund_id = ? order by at, id',
    [t.tenant, refundId],
  );
  return { state: refund!.state, approvedAmount: Number(refund!.approved_amount), history };
}

const events = (tenant: string, type: string) =>
  svc.sql<{ data: Record<string, unknown> }>('select data from outbox_events where tenant = ? and type = ? order by position', [tenant, type]);

beforeAll(async () => {
  svc = await TestService.start('reviews', { reviewOverdueSweepMs: 50 });
});

afterAll(async () => {
  await svc?.stop();
});

describe('the queue', () => {
  let t: Team;
  const opened: Opened[] = [];
  const base = Date.now() + 86_400_000;

  beforeAll(async () => {
    t = await team();
    // Deadlines out of creation order; amounts to filter on.
    for (const [hours, amount] of [[5, 3000], [1, 9000], [3, 5000], [2, 7000], [4, 1000]] as const) {
      opened.push(await openReview(t, { amount, deadline: new Date(base + hours * 3_600_000) }));
    }
    // One closed item (its deadline is the earliest, yet it lists after every open one).
    const closed = await openReview(t, { amount: 2000, deadline: new Date(base - 3_600_000) });
    expect((await claim(t.a, closed.reviewId)).status).toBe(200);
    expect((await resolve(t.a, closed.reviewId, { resolution: 'DENY', reasonCode: 'FRAUD_SUSPECTED' })).status).toBe(200);
    opened.push(closed);
  });

  const byHours = () => [1, 3, 2, 4, 0].map((i) => opened[i]!.reviewId);

  it('lists open items by deadline, then closed ones, in the contract\'s shape', async () => {
    const r = await get(t.a, '/v1/reviews');
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { id: string }) => i.id)).toEqual([...byHours(), opened[5]!.reviewId]);
    expect(r.body.nextCursor).toBeNull();
    expect(r.body.items[0]).toMatchObject({
      id: opened[1]!.reviewId,
      type: 'refund',
      decisionId: opened[1]!.decisionId,
      refundId: opened[1]!.refundId,
      amount: 9000,
      currency: 'EUR',
      state: 'OPEN',
      assignee: null,
      approvals: [],
      overdue: false,
    });
    expect(r.body.items[5]).toMatchObject({ state: 'DENIED', resolution: 'DENY', resolvedBy: t.a.id });
  });

  it('filters by state, type, amount, assignee and overdue', async () => {
    const ids = async (q: string) => ((await get(t.auditor, `/v1/reviews?${q}`)).body.items as { id: string }[]).map((i) => i.id);
    expect(await ids('state=OPEN')).toEqual(byHours());
    expect(await ids('state=DENIED')).toEqual([opened[5]!.reviewId]);
    expect(await ids('state=APPROVED')).toEqual([]);
    expect(await ids('type=refund&state=OPEN')).toEqual(byHours());
    expect(await ids('type=payout')).toEqual([]);
    expect(await ids('minAmount=5000&maxAmount=7000')).toEqual([opened[3]!.reviewId, opened[2]!.reviewId]);
    expect(await ids('maxAmount=2000')).toEqual([opened[4]!.reviewId, opened[5]!.reviewId]);
    expect((await claim(t.b, opened[2]!.reviewId)).status).toBe(200);
    expect(await ids(`assignee=${t.b.id}`)).toEqual([opened[2]!.reviewId]);
    expect(await ids(`assignee=${t.a.id}`)).toEqual([]);
    expect((await release(t.b, opened[2]!.reviewId)).status).toBe(200);
    expect(await ids(`assignee=${t.b.id}`)).toEqual([]);
    expect(await ids('overdue=true')).toEqual([]);
    expect(await ids('overdue=false')).toHaveLength(6);
  });

  it('pages with an opaque cursor through open and closed items without loss or repetition', async () => {
    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await get(t.a, `/v1/reviews?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...r.body.items.map((i: { id: string }) => i.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...byHours(), opened[5]!.reviewId]);
    }
  });

  it('answers 400 naming every bad parameter, 403 to a key without the role, 404 for another tenant\'s item', async () => {
    const r = await get(t.a, '/v1/reviews?state=PENDING&overdue=yes&limit=0&minAmount=-1&type=Not%20A%20Name');
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query:limit', 'query:minAmount', 'query:overdue', 'query:state', 'query:type']);
    expect((await get(t.a, '/v1/reviews?minAmount=10&maxAmount=5')).status).toBe(400);
    const badCursor = await get(t.a, '/v1/reviews?cursor=bm90LWEtY3Vyc29y');
    expect([badCursor.status, badCursor.body.code]).toEqual([400, 'CURSOR_INVALID']);
    // A cursor of the right shape whose deadline is no time PostgreSQL can hold: 400, not the driver's error.
    for (const d of ['2026-13-45T99:99:99.000000Z', '0000-01-01T00:00:00.000000Z', '2026-02-30T10:00:00.000000Z']) {
      const forged = Buffer.from(JSON.stringify({ p: 'open', d, i: opened[0]!.reviewId })).toString('base64url');
      const r = await get(t.a, `/v1/reviews?cursor=${forged}`);
      expect([d, r.status, r.body.code]).toEqual([d, 400, 'CURSOR_INVALID']);
    }
    expect((await get(t.service, '/v1/reviews')).status).toBe(403);
    expect((await claim(t.auditor, opened[0]!.reviewId)).status).toBe(403);
    const other = await team();
    expect((await get(other.a, `/v1/reviews/${opened[0]!.reviewId}`)).status).toBe(404);
    expect((await claim(other.a, opened[0]!.reviewId)).status).toBe(404);
    expect((await get(other.a, '/v1/reviews')).body.items).toEqual([]);
    expect((await get(t.a, '/v1/reviews/not-a-uuid')).status).toBe(404);
    expect((await get(t.a, `/v1/reviews/${opened[0]!.reviewId}`)).body.id).toBe(opened[0]!.reviewId);
  });
});

describe('claims', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team();
  });

  it('holds the item for its lease; another reviewer gets 409 naming the holder; renew, release, expiry', async () => {
    const { reviewId } = await openReview(t);
    const first = await claim(t.a, reviewId);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ assignee: t.a.id, state: 'OPEN' });
    const lease = Date.parse(first.body.leaseUntil);
    expect(lease - Date.now()).toBeGreaterThan(14 * 60_000);

    const other = await claim(t.b, reviewId);
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'REVIEW_CLAIMED', assignee: t.a.id, leaseUntil: first.body.leaseUntil });
    expect(other.body.detail).toContain(t.a.id);

    const again = await claim(t.a, reviewId);
    expect(again.status).toBe(200);
    expect(Date.parse(again.body.leaseUntil)).toBeGreaterThanOrEqual(lease);

    expect((await release(t.b, reviewId)).body.code).toBe('REVIEW_CLAIMED');
    expect((await release(t.a, reviewId)).body).toMatchObject({ assignee: null, leaseUntil: null });
    expect((await release(t.a, reviewId)).body.code).toBe('REVIEW_NOT_CLAIMED');
    expect((await claim(t.b, reviewId)).status).toBe(200);

    // The lease runs out (arranged: its end moved into the past): anyone may claim, and the old holder holds nothing.
    await svc.sql(`update reviews set lease_until = now() - interval '1 second' where id = ?`, [reviewId]);
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body.assignee).toBeNull();
    expect((await resolve(t.b, reviewId, approve())).body.code).toBe('REVIEW_NOT_CLAIMED');
    expect((await claim(t.c, reviewId)).body.assignee).toBe(t.c.id);
  });

  it('needs an Idempotency-Key and replays a claim under the same key', async () => {
    const { reviewId } = await openReview(t);
    const none = await svc.request('POST', `/v1/reviews/${reviewId}/claim`, { key: t.a.key });
    expect([none.status, none.body.code]).toEqual([400, 'IDEMPOTENCY_KEY_MISSING']);
    const k = newKey();
    const one = await post(t.a, `/v1/reviews/${reviewId}/claim`, undefined, k);
    const two = await post(t.a, `/v1/reviews/${reviewId}/claim`, undefined, k);
    expect(two.text).toBe(one.text);
    expect(two.headers.get('idempotent-replayed')).toBe('true');
  });

  it('gives one item to exactly one of two reviewers claiming at the same time', async () => {
    for (let i = 0; i < 6; i++) {
      const { reviewId } = await openReview(t);
      const answers = await Promise.all([claim(t.a, reviewId), claim(t.b, reviewId)]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = answers.find((r) => r.status === 200)!.body.assignee;
      expect(answers.find((r) => r.status === 409)!.body).toMatchObject({ code: 'REVIEW_CLAIMED', assignee: winner });
      expect((await get(t.a, `/v1/reviews/${reviewId}`)).body.assignee).toBe(winner);
    }
  });
});

describe('resolving', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team();
  });

  it('validates the body, needs the claim, caps the amount at the request', async () => {
    const { reviewId } = await openReview(t, { amount: 8000 });
    const bad = await resolve(t.a, reviewId, { resolution: 'MAYBE', amount: 1.5, reasonCode: 'lower case', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/amount', '/extra', '/reasonCode', '/resolution']);
    expect((await resolve(t.a, reviewId, { resolution: 'APPROVE' })).body.errors).toEqual([expect.objectContaining({ path: '/reasonCode' })]);
    expect((await resolve(t.a, reviewId, approve(0))).status).toBe(400);

    const unclaimed = await resolve(t.a, reviewId, approve());
    expect([unclaimed.status, unclaimed.body.code]).toEqual([409, 'REVIEW_NOT_CLAIMED']);
    expect((await claim(t.a, reviewId)).status).toBe(200);
    const above = await resolve(t.a, reviewId, approve(8001));
    expect([above.status, above.body.code]).toEqual([422, 'AMOUNT_ABOVE_REQUESTED']);
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body.state).toBe('OPEN');
    const missing = await resolve(t.a, '0190a8a4-0000-7000-8000-000000000000', approve());
    expect(missing.status).toBe(404);
  });

  it('closes an approval with a linked decision, the refund\'s transition and an event; replays; then refuses', async () => {
    const { reviewId, decisionId, refundId } = await openReview(t, { amount: 8000 });
    expect((await claim(t.a, reviewId)).status).toBe(200);
    const k = newKey();
    const body = approve(6000, 'photos show damage to one item');
    const r = await resolve(t.a, reviewId, body, k);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'APPROVED', resolution: 'APPROVE', resolvedBy: t.a.id, assignee: null });
    expect(r.body.approvals).toEqual([{ keyId: t.a.id, amount: 6000, reasonCode: 'GOODWILL', note: 'photos show damage to one item', at: expect.any(String) }]);
    const linked = r.body.resolutionDecisionId as string;
    expect(linked).toMatch(/^[0-9a-f-]{36}$/);

    const replay = await resolve(t.a, reviewId, body, k);
    expect(replay.text).toBe(r.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await resolve(t.a, reviewId, approve(5000), k)).body.code).toBe('IDEMPOTENCY_KEY_REUSED');

    const doc = (await get(t.auditor, `/v1/decisions/${linked}`)).body;
    expect(doc).toMatchObject({
      id: linked,
      type: 'refund',
      outcome: 'APPROVE',
      approvedAmount: 6000,
      overrides: decisionId,
      reasons: [{ code: 'GOODWILL', source: `review@${reviewId}`, rule: 'reviewer' }],
      review: { id: reviewId, reviewers: [t.a.id], note: 'photos show damage to one item' },
    });
    expect(doc.explanation).toBe(`engine said REVIEW because CHARGEBACK_IN_PROGRESS (${doc.explanation.match(/\((.*)\);/)[1]}); reviewer ${t.a.id} approved 60.00 EUR with note "photos show damage to one item"`);
    const engine = (await get(t.auditor, `/v1/decisions/${decisionId}`)).body;
    expect(engine.outcome).toBe('REVIEW');
    expect(doc.release).toEqual(engine.release);

    const refund = await refundOf(t, refundId);
    expect(refund).toMatchObject({ state: 'APPROVED', approvedAmount: 6000 });
    expect(refund.history.at(-1)).toMatchObject({ from_state: 'IN_REVIEW', to_state: 'APPROVED', actor_id: t.a.id, actor_role: 'reviewer', decision_id: linked, reason: 'GOODWILL: photos show damage to one item' });
    // The refund shows both decisions, the reviewer's naming the engine's, and the transition that points at it.
    const shown = (await get(t.service, `/v1/refunds/${refundId}`)).body;
    expect(shown).toMatchObject({ state: 'APPROVED', approvedAmount: 6000 });
    expect(shown.decisions).toEqual([
      expect.objectContaining({ id: decisionId, outcome: 'REVIEW' }),
      expect.objectContaining({ id: linked, outcome: 'APPROVE', overrides: decisionId }),
    ]);
    expect(shown.history.at(-1)).toMatchObject({ from: 'IN_REVIEW', to: 'APPROVED', decisionId: linked, actor: { id: t.a.id, role: 'reviewer' } });
    const resolved = (await events(t.tenant, 'review.resolved')).filter((e) => e.data.reviewId === reviewId);
    expect(resolved).toEqual([{ data: expect.objectContaining({ state: 'APPROVED', approvedAmount: 6000, resolutionDecisionId: linked, refundId }) }]);
    // The reviewer's decision is announced like the engine's, and names the one it overrides.
    const created = (await events(t.tenant, 'decision.created')).filter((e) => e.data.decisionId === linked);
    expect(created).toEqual([{ data: expect.objectContaining({ type: 'refund', outcome: 'APPROVE', overrides: decisionId, reviewId, caseRef: refundId }) }]);
    // A person's act is not re-evaluated: the replay points at the engine decision (which replays identical).
    const replayed = await svc.request('POST', `/v1/decisions/${linked}/replay`, { key: t.auditor.key });
    expect([replayed.status, replayed.body.code, replayed.body.overrides]).toEqual([422, 'DECISION_NOT_REPLAYABLE', decisionId]);
    expect((await svc.request('POST', `/v1/decisions/${decisionId}/replay`, { key: t.auditor.key })).body.identical).toBe(true);

    expect((await resolve(t.b, reviewId, approve())).body.code).toBe('REVIEW_CLOSED');
    expect((await claim(t.b, reviewId)).body.code).toBe('REVIEW_CLOSED');
    expect((await release(t.a, reviewId)).status).toBe(409);
  });

  it('denies at once and the refund is DENIED', async () => {
    const { reviewId, refundId } = await openReview(t);
    await claim(t.b, reviewId);
    const r = await resolve(t.b, reviewId, { resolution: 'DENY', reasonCode: 'FRAUD_SUSPECTED' });
    expect(r.body).toMatchObject({ state: 'DENIED', resolution: 'DENY' });
    expect((await refundOf(t, refundId)).state).toBe('DENIED');
    const doc = (await get(t.auditor, `/v1/decisions/${r.body.resolutionDecisionId}`)).body;
    expect(doc).toMatchObject({ outcome: 'DENY', approvedAmount: null });
    expect(doc.explanation).toMatch(new RegExp(`reviewer ${t.b.id} denied \\(reason FRAUD_SUSPECTED\\)$`));
  });

  it("a simulation's replay leaves a reviewer's resolution out, and counts it: the engine's decision is what it re-decides", async () => {
    const own = await team();
    const { reviewId, decisionId } = await openReview(own);
    await claim(own.a, reviewId);
    expect((await resolve(own.a, reviewId, { resolution: 'DENY', reasonCode: 'FRAUD_SUSPECTED' })).status).toBe(200);
    const engine = (await get(own.auditor, `/v1/decisions/${decisionId}`)).body;
    const author = await issue(own.tenant, ['author']);
    const window = { from: engine.createdAt, to: new Date(Date.now() + 60_000).toISOString() };
    const r = await post(author, '/v1/simulations', { domain: 'refund', release: engine.release, replay: window });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'completed', baseline: { kind: 'stored-decisions', resolutionsSkipped: 1, purgedSkipped: 0 }, summary: { total: 1, changed: 0 } });
    expect(r.body.results.map((x: { caseRef: string }) => x.caseRef)).toEqual([decisionId]);
    // A resolution stored before decisions named their actor (actor_role null) is told by its case, and left out too.
    await svc.sql(
      `insert into decisions (id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, idempotency_key, evaluated_at, created_at)
       select gen_random_uuid(), tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, null, evaluated_at, created_at
       from decisions where tenant = ? and actor_role = 'reviewer'`,
      [own.tenant],
    );
    const again = await post(author, '/v1/simulations', { domain: 'refund', release: engine.release, replay: window });
    expect(again.body).toMatchObject({ status: 'completed', baseline: { resolutionsSkipped: 2 }, summary: { total: 1, changed: 0 } });
  });

  it('four-eyes: two approvals from two reviewers, the smaller amount wins; the same key twice is 403', async () => {
    // 1,500.00 is above the release's reviewFourEyesAmount (1,000.00): two approvals; 80.00 needs one.
    const { reviewId, refundId } = await openReview(t, { amount: 150_000 });
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body.requiredApprovals).toBe(2);
    expect((await get(t.a, `/v1/reviews/${(await openReview(t, { amount: 8000 })).reviewId}`)).body.requiredApprovals).toBe(1);
    expect((await claim(t.a, reviewId)).status).toBe(200);
    const first = await resolve(t.a, reviewId, approve(120_000, 'first look'));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ state: 'OPEN', requiredApprovals: 2, assignee: null, resolutionDecisionId: null });
    expect(first.body.approvals).toEqual([expect.objectContaining({ keyId: t.a.id, amount: 120_000, reasonCode: 'GOODWILL', note: 'first look' })]);
    expect((await refundOf(t, refundId)).state).toBe('IN_REVIEW');

    const twice = await resolve(t.a, reviewId, approve());
    expect([twice.status, twice.body.code]).toEqual([403, 'FOUR_EYES_SAME_REVIEWER']);
    expect((await claim(t.a, reviewId)).body.code).toBe('FOUR_EYES_SAME_REVIEWER');

    expect((await claim(t.b, reviewId)).status).toBe(200);
    const second = await resolve(t.b, reviewId, approve(130_000));
    expect(second.body).toMatchObject({ state: 'APPROVED' });
    expect(second.body.approvals.map((a: { keyId: string }) => a.keyId)).toEqual([t.a.id, t.b.id]);
    expect((await refundOf(t, refundId)).approvedAmount).toBe(120_000);
    const doc = (await get(t.auditor, `/v1/decisions/${second.body.resolutionDecisionId}`)).body;
    expect(doc).toMatchObject({ approvedAmount: 120_000, review: { reviewers: [t.a.id, t.b.id] } });
    expect(doc.explanation).toContain(`after approval by reviewer ${t.a.id}`);
  });

  it('four-eyes: the key that asked for the refund may not approve it', async () => {
    const both = await issue(t.tenant, ['service', 'reviewer'], 'both');
    const { reviewId } = await openReview(t, { requester: both });
    const own = await resolve(both, reviewId, approve());
    expect([own.status, own.body.code]).toEqual([403, 'FOUR_EYES_OWN_REQUEST']);
    expect((await claim(both, reviewId)).body.code).toBe('FOUR_EYES_OWN_REQUEST');
    expect((await claim(t.a, reviewId)).status).toBe(200);
  });

  it('four-eyes across a rotation: a rotated key is the same reviewer (or requester) as the key it replaced, both ways', async () => {
    const admin = await issue(t.tenant, ['admin'], 'keys');
    const rotate = async (k: Key): Promise<Key> => {
      const r = await post(admin, `/v1/api-keys/${k.id}/rotate`, {});
      if (r.status !== 201) throw new Error(`rotate ${r.status} ${r.text}`);
      return { id: r.body.id, key: r.body.key };
    };
    // The first approver rotates its key: the successor may neither claim nor give the second approval.
    const dora = await issue(t.tenant, ['reviewer'], 'dora');
    const { reviewId } = await openReview(t, { amount: 150_000 });
    expect((await claim(dora, reviewId)).status).toBe(200);
    expect((await resolve(dora, reviewId, approve())).body.state).toBe('OPEN');
    const dora2 = await rotate(dora);
    const claimed = await claim(dora2, reviewId);
    expect([claimed.status, claimed.body.code]).toEqual([403, 'FOUR_EYES_SAME_REVIEWER']);
    const again = await resolve(dora2, reviewId, approve());
    expect([again.status, again.body.code]).toEqual([403, 'FOUR_EYES_SAME_REVIEWER']);
    // The other way: the new key approved first, the old one (still in its overlap) may not approve again.
    const erin = await issue(t.tenant, ['reviewer'], 'erin');
    const erin2 = await rotate(erin);
    const other = await openReview(t, { amount: 150_000 });
    expect((await claim(erin2, other.reviewId)).status).toBe(200);
    expect((await resolve(erin2, other.reviewId, approve())).body.state).toBe('OPEN');
    expect((await claim(erin, other.reviewId)).body.code).toBe('FOUR_EYES_SAME_REVIEWER');
    // The requester's key, rotated (roles carry over), still asked for the refund.
    const both = await issue(t.tenant, ['service', 'reviewer'], 'both-rotating');
    const own = await openReview(t, { requester: both });
    const both2 = await rotate(both);
    const mine = await claim(both2, own.reviewId);
    expect([mine.status, mine.body.code]).toEqual([403, 'FOUR_EYES_OWN_REQUEST']);
    // Still one approval on each, and another reviewer completes the first.
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body.approvals.map((x: { keyId: string }) => x.keyId)).toEqual([dora.id]);
    expect((await claim(t.b, reviewId)).status).toBe(200);
    expect((await resolve(t.b, reviewId, approve())).body.state).toBe('APPROVED');
  });

  it('refuses an approval above the key\'s approval limit (issued with the key), and takes one within it', async () => {
    const junior = await issue(t.tenant, ['reviewer'], 'junior', { approvalLimit: 5000 });
    const { reviewId, refundId } = await openReview(t, { amount: 8000 });
    expect((await claim(junior, reviewId)).status).toBe(200);
    const above = await resolve(junior, reviewId, approve());
    expect([above.status, above.body.code]).toEqual([403, 'APPROVAL_LIMIT_EXCEEDED']);
    expect(above.body).toMatchObject({ approvalLimit: 5000, amount: 8000 });
    expect((await resolve(junior, reviewId, approve(5001))).body.code).toBe('APPROVAL_LIMIT_EXCEEDED');
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body).toMatchObject({ state: 'OPEN', approvals: [] });
    expect((await resolve(junior, reviewId, approve(5000))).body).toMatchObject({ state: 'APPROVED' });
    expect((await refundOf(t, refundId)).approvedAmount).toBe(5000);
  });

  it('never approves more than the order has left to refund, even when two approvals race', async () => {
    const orderId = unique('ord');
    const one = await openReview(t, { orderId, amount: 8000, captured: 10_000 });
    const two = await openReview(t, { orderId, amount: 8000, captured: 10_000 });
    await claim(t.a, one.reviewId);
    await claim(t.b, two.reviewId);
    const answers = await Promise.all([resolve(t.a, one.reviewId, approve()), resolve(t.b, two.reviewId, approve())]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 422]);
    const refused = answers.find((r) => r.status === 422)!;
    expect(refused.body).toMatchObject({ code: 'AMOUNT_EXCEEDS_REFUNDABLE', refundable: 2000 });
    const loser = answers[0].status === 422 ? one : two;
    const loserKey = loser === one ? t.a : t.b;
    expect((await get(t.a, `/v1/reviews/${loser.reviewId}`)).body.state).toBe('OPEN');
    expect((await resolve(loserKey, loser.reviewId, approve(2000))).body.state).toBe('APPROVED');
    const [total] = await svc.sql<{ total: string }>(`select sum(approved_amount)::text as total from refunds where tenant = ? and order_id = ? and state = 'APPROVED'`, [t.tenant, orderId]);
    expect(Number(total!.total)).toBe(10_000);
  });
});

describe('cancellation and overdue', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team();
  });

  it('closes a canceled refund\'s open review as CANCELED (the cancel route calls closeReviewsOfRefund)', async () => {
    const { reviewId, refundId } = await openReview(t);
    await claim(t.a, reviewId);
    const canceled = await post(t.service, `/v1/refunds/${refundId}/cancel`, { reason: 'customer withdrew' });
    expect([canceled.status, canceled.body.state]).toEqual([200, 'CANCELED']);
    // No reviewer closed it: the claim it had when the refund was canceled names nobody as the resolver.
    expect((await get(t.a, `/v1/reviews/${reviewId}`)).body).toMatchObject({ state: 'CANCELED', assignee: null, resolvedBy: null, resolution: null, resolutionDecisionId: null });
    expect((await resolve(t.a, reviewId, approve())).body.code).toBe('REVIEW_CLOSED');
    expect((await claim(t.b, reviewId)).body.code).toBe('REVIEW_CLOSED');
    expect((await events(t.tenant, 'review.resolved')).filter((e) => e.data.reviewId === reviewId)).toEqual([{ data: expect.objectContaining({ state: 'CANCELED', refundId }) }]);
    // Nothing left open: closing again closes nothing and announces nothing.
    expect(await svc.db.em().transactional((em) => new ReviewsRepository().closeReviewsOfRefund(em, t.tenant, refundId, new Date()))).toEqual([]);
    expect((await events(t.tenant, 'review.resolved')).filter((e) => e.data.reviewId === reviewId)).toHaveLength(1);
  });

  it('closeReviewsOfRefund closes exactly that refund\'s open items and returns their ids', async () => {
    const one = await openReview(t);
    const other = await openReview(t);
    const closed = await svc.db.em().transactional((em) => new ReviewsRepository().closeReviewsOfRefund(em, t.tenant, one.refundId, new Date()));
    expect(closed).toEqual([one.reviewId]);
    expect((await get(t.a, `/v1/reviews/${other.reviewId}`)).body.state).toBe('OPEN');
    // Another tenant's refund of the same id is not touched.
    expect(await svc.db.em().transactional((em) => new ReviewsRepository().closeReviewsOfRefund(em, 'no-such-tenant', other.refundId, new Date()))).toEqual([]);
  });

  it('two sweeps racing over the same due items mark and announce each once', async () => {
    const items = await Promise.all([1, 2, 3, 4, 5].map(() => openReview(t)));
    const ids = items.map((i) => i.reviewId);
    // Far in the future, so only the sweeps below (their own "now") find these items due, not the service's sweeper.
    const later = new Date(Date.now() + 400 * 86_400_000);
    await svc.sql(`update reviews set deadline = ? where id in (?, ?, ?, ?, ?)`, [new Date(later.getTime() - 60_000).toISOString(), ...ids]);
    const repo = new ReviewsRepository();
    const sweep = () => svc.db.em().transactional((em) => repo.markOverdue(em, later, 2));
    let marked = 0;
    for (let round = 0; round < 5; round++) marked += (await Promise.all([sweep(), sweep()])).reduce((a, b) => a + b, 0);
    // Every item the sweeps found due (other tests' open items too: the sweep spans tenants) was counted once.
    const [due] = await svc.sql<{ n: number }>('select count(*)::int as n from reviews where overdue_at = ?', [later.toISOString()]);
    expect(marked).toBe(due!.n);
    const evs = (await events(t.tenant, 'review.overdue')).map((e) => e.data.reviewId as string).filter((id) => ids.includes(id));
    expect(evs.sort()).toEqual([...ids].sort());
  });

  it('marks an open item past its deadline overdue once, with one event (across two instances on PostgreSQL)', async () => {
    // A second service sweeping the same database; an in-memory PGlite cannot be shared, so there it is one instance.
    const second = svc.db.kind === 'postgresql' ? await TestService.join(svc, { reviewOverdueSweepMs: 20 }) : undefined;
    try {
      const items = await Promise.all([1, 2, 3].map(() => openReview(t)));
      const done = await openReview(t);
      await claim(t.a, done.reviewId);
      await resolve(t.a, done.reviewId, { resolution: 'DENY', reasonCode: 'NO' });
      const ids = [...items.map((i) => i.reviewId), done.reviewId];
      await svc.sql(`update reviews set deadline = now() - interval '1 minute' where id in (?, ?, ?, ?)`, ids);
      const overdue = async () => (await svc.sql<{ id: string }>('select id from reviews where id in (?, ?, ?, ?) and overdue_at is not null', ids)).map((r) => r.id).sort();
      for (let i = 0; i < 200 && (await overdue()).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await overdue()).toEqual(items.map((i) => i.reviewId).sort());
      // More sweeps pass: still one event per item, none for the closed one.
      await new Promise((r) => setTimeout(r, 300));
      const evs = (await events(t.tenant, 'review.overdue')).map((e) => e.data.reviewId);
      expect(evs.filter((id) => ids.includes(id as string)).sort()).toEqual(items.map((i) => i.reviewId).sort());
      const list = await get(t.a, '/v1/reviews?overdue=true');
      expect(list.body.items.map((i: { id: string }) => i.id).sort()).toEqual(items.map((i) => i.reviewId).sort());
      expect(list.body.items[0]).toMatchObject({ overdue: true, overdueAt: expect.any(String) });
    } finally {
      await second?.stop();
    }
  });
});
