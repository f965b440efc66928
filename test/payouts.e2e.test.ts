/**
 * Payout execution end to end: the worker takes APPROVED refunds through PROCESSING to SUCCEEDED or FAILED against a
 * simulated provider and a fake Stripe-style one, retries with backoff, stays PROCESSING on answers it cannot read,
 * posts the ledger clawback once, survives SIGKILL mid-payout without paying twice, and the manual retry route.
 */
import { randomUUID } from 'node:crypto';
import { DEFERRED_CLAWBACKS, openDatabase, RefundsRepository, type Database, type RewardRef } from '../libs/persistence/index.js';
import { SYSTEM } from '../libs/refunds/index.js';
import { createTestDatabase, genericIndexPlan } from './support/database.js';
import { FakeProvider } from './support/fake-provider.js';
import { newKey, TestService } from './support/harness.js';
import { parsePrometheusText } from './support/prometheus-text.js';
import { refundCase } from './support/refund-cases.js';
import { ServiceProcess } from './support/service-process.js';

const TENANT = 'payouts';
// A second instance on the same database, and a service process killed and restarted over it, need a database server.
const onServer = process.env.TEST_DATABASE_URL ? it : it.skip;
const refunds = new RefundsRepository();

/** An APPROVED refund, as a decision (or a reviewer) leaves it; the worker takes it from there. */
async function seedApproved(db: Database, refundId: string, amount: number, reward: RewardRef | null = null, currency = 'EUR'): Promise<void> {
  await db.em().transactional((em) =>
    refunds.create(em, {
      tenant: TENANT,
      refundId,
      type: 'refund',
      orderId: `order-${refundId}`,
      customerId: 'cust-1',
      state: 'APPROVED',
      requestedAmount: amount,
      approvedAmount: amount,
      capturedAmount: amount * 2,
      currency,
      reward,
      requestedBy: 'seed',
      decisionId: randomUUID(),
      createdAt: new Date(),
      reason: 'approved by the engine',
      actor: SYSTEM,
    }),
  );
}

/** Waits (no timing asserted) until `probe` answers something `done` accepts; fails with the last answer after `ms`. */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`still not there after ${ms} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface RefundState {
  state: string;
  attempts: number;
  last_error: string | null;
  provider_ref: string | null;
  clawback: Record<string, unknown> | null;
}

const stateOf = async (svc: TestService, refundId: string): Promise<RefundState> =>
  (await svc.sql<RefundState>('select state, attempts, last_error, provider_ref, clawback from refunds where tenant = ? and refund_id = ?', [TENANT, refundId]))[0]!;

const historyOf = async (svc: TestService, refundId: string) =>
  svc.sql<{ from_state: string | null; to_state: string; actor_id: string; reason: string | null }>(
    'select from_state, to_state, actor_id, reason from refund_transitions where tenant = ? and refund_id = ? order by at, id',
    [TENANT, refundId],
  );

const eventsOf = async (svc: TestService, refundId: string) =>
  (
    await svc.sql<{ data: Record<string, unknown> }>(
      "select data from outbox_events where tenant = ? and type = 'refund.state_changed' and data->>'refundId' = ? order by position",
      [TENANT, refundId],
    )
  ).map((e) => e.data);

describe('payouts through the simulated provider (the default)', () => {
  let svc: TestService;
  let service: string;
  let auditor: string;

  beforeAll(async () => {
    svc = await TestService.start('payouts_sim', { payoutPollMs: 50, payoutConcurrency: 16 });
    service = await svc.issueKey(TENANT, ['service']);
    auditor = await svc.issueKey(TENANT, ['auditor']);
  });
  afterAll(() => svc?.stop());

  const ledgerPost = async (path: string, body: unknown, expected = 201) => {
    const r = await svc.request('POST', path, { key: service, idempotencyKey: newKey('l'), body });
    expect([r.status, r.text]).toEqual([expected, r.text]);
    return r.body;
  };

  /** An account with one settled GROCERY purchase of `amount` (5% reward in cashback-default). */
  async function rewarded(accountId: string, transactionId: string, amount: number): Promise<void> {
    const open = await svc.request('PUT', `/v1/ledger/accounts/${accountId}`, { key: service, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(open.status).toBe(201);
    await ledgerPost(`/v1/ledger/accounts/${accountId}/transactions`, { transactionId, amount, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' });
    await ledgerPost(`/v1/ledger/transactions/${transactionId}/settle`, { settledAt: '2026-11-03T10:00:00Z' }, 200);
  }

  const refund = (id: string) => svc.request('GET', `/v1/refunds/${encodeURIComponent(id)}`, { key: auditor });

  it('an APPROVE decision over HTTP: the refund goes APPROVED → PROCESSING → SUCCEEDED, and its reward is clawed back once', async () => {
    await rewarded('acc-http', 'tx-http', 20_000); // r0 = 1000
    const c = refundCase({ reward: { accountId: 'acc-http', transactionId: 'tx-http' } });
    const d = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey('d'), body: { case: c } });
    expect([d.status, d.body.outcome]).toEqual([201, 'APPROVE']);
    const paid = await until(() => refund(c.refundId), (r) => r.body.state === 'SUCCEEDED');
    expect(paid.body).toMatchObject({
      refundId: c.refundId,
      state: 'SUCCEEDED',
      approvedAmount: 4999,
      reward: { accountId: 'acc-http', transactionId: 'tx-http' },
      payout: { attempts: 1, lastError: null, nextAttemptAt: null, providerRef: expect.stringMatching(/^sim_/) },
      // Algorithm 2: rhe(4999 × 1000 / 20000) = 250 clawed back.
      clawback: { status: 'posted', accountId: 'acc-http', transactionId: 'tx-http', refundId: c.refundId, amount: 4999, clawback: 250, rewardAfter: 750 },
    });
    expect(paid.body.history.map((h: { from: string | null; to: string; actor: { id: string } }) => [h.from, h.to, h.actor.id])).toEqual([
      [null, 'APPROVED', 'system'],
      ['APPROVED', 'PROCESSING', 'system'],
      ['PROCESSING', 'SUCCEEDED', 'system'],
    ]);
    const tx = await svc.request('GET', '/v1/ledger/transactions/tx-http', { key: auditor });
    expect(tx.body).toMatchObject({ refunded: 4999, reward: 750 });
    // Paid is final: cancel and retry are refused, nothing moves again.
    const cancel = await svc.request('POST', `/v1/refunds/${c.refundId}/cancel`, { key: service, idempotencyKey: newKey(), body: {} });
    expect([cancel.status, cancel.body.code]).toEqual([409, 'INVALID_TRANSITION']);
    expect((await svc.request('GET', '/v1/ledger/accounts/acc-http/entries?limit=500', { key: auditor })).body.items.filter((e: { type: string }) => e.type === 'CLAWBACK')).toHaveLength(1);
  });

  it('a REVIEW decision approved by a reviewer (for less than asked) is paid the approved amount', async () => {
    const reviewer = await svc.issueKey(TENANT, ['reviewer'], 'rev-1');
    const c = refundCase({ disputeOpen: true, requestedAmount: 6000 });
    const d = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey('d'), body: { case: c } });
    expect([d.status, d.body.outcome]).toEqual([201, 'REVIEW']);
    const [item] = await svc.sql<{ id: string }>('select id from reviews where tenant = ? and decision_id = ?', [TENANT, d.body.id]);
    expect((await svc.request('POST', `/v1/reviews/${item!.id}/claim`, { key: reviewer, idempotencyKey: newKey() })).status).toBe(200);
    const resolved = await svc.request('POST', `/v1/reviews/${item!.id}/resolve`, {
      key: reviewer,
      idempotencyKey: newKey(),
      body: { resolution: 'APPROVE', amount: 4500, reasonCode: 'GOODWILL' },
    });
    expect([resolved.status, resolved.text]).toEqual([200, resolved.text]);
    const paid = await until(() => refund(c.refundId), (r) => r.body.state === 'SUCCEEDED');
    expect(paid.body).toMatchObject({ requestedAmount: 6000, approvedAmount: 4500, payout: { attempts: 1 } });
    expect(paid.body.history.map((h: { to: string }) => h.to)).toEqual(['IN_REVIEW', 'APPROVED', 'PROCESSING', 'SUCCEEDED']);
    const [paidEvent] = (await eventsOf(svc, c.refundId)).filter((e) => e.to === 'SUCCEEDED');
    expect(paidEvent).toMatchObject({ approvedAmount: 4500, providerRef: paid.body.payout.providerRef });
  });

  it('a refund canceled while APPROVED is never paid', async () => {
    // The cancel and the worker race for the row: the cancel wins (CANCELED, never claimed) or finds it PROCESSING (409).
    const c = refundCase();
    await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey('d'), body: { case: c } });
    const cancel = await svc.request('POST', `/v1/refunds/${c.refundId}/cancel`, { key: service, idempotencyKey: newKey(), body: {} });
    const final = await until(() => refund(c.refundId), (r) => ['CANCELED', 'SUCCEEDED'].includes(r.body.state));
    if (cancel.status === 200) {
      expect(final.body).toMatchObject({ state: 'CANCELED', payout: { attempts: 0, providerRef: null } });
    } else {
      expect([cancel.status, cancel.body.code, final.body.state]).toEqual([409, 'INVALID_TRANSITION', 'SUCCEEDED']);
    }
  });

  it('an APPROVED refund reaches SUCCEEDED through PROCESSING, by the system, with the provider reference', async () => {
    await seedApproved(svc.db, 'sim-1', 2500);
    const done = await until(() => stateOf(svc, 'sim-1'), (s) => s.state === 'SUCCEEDED');
    expect(done).toMatchObject({ attempts: 1, last_error: null, clawback: null, provider_ref: expect.stringMatching(/^sim_/) });
    const history = await historyOf(svc, 'sim-1');
    expect(history.map((h) => [h.from_state, h.to_state, h.actor_id])).toEqual([
      [null, 'APPROVED', 'system'],
      ['APPROVED', 'PROCESSING', 'system'],
      ['PROCESSING', 'SUCCEEDED', 'system'],
    ]);
    const events = await eventsOf(svc, 'sim-1');
    expect(events.map((e) => e.to)).toEqual(['APPROVED', 'PROCESSING', 'SUCCEEDED']);
    expect(events[2]).toMatchObject({ providerRef: done.provider_ref, attempts: 1, clawback: null });
  });

  it('SUCCEEDED posts the ledger clawback of the approved amount to the rewarded transaction once, in its event and on the refund', async () => {
    await rewarded('acc-claw', 'tx-claw', 10_000); // r0 = 500
    await seedApproved(svc.db, 'sim-claw', 4000, { accountId: 'acc-claw', transactionId: 'tx-claw' });
    const done = await until(() => stateOf(svc, 'sim-claw'), (s) => s.state === 'SUCCEEDED');
    // Algorithm 2: 4000 × 500 / 10000 = 200 clawed back, 300 kept.
    expect(done.clawback).toMatchObject({ status: 'posted', accountId: 'acc-claw', transactionId: 'tx-claw', refundId: 'sim-claw', amount: 4000, clawback: 200, rewardAfter: 300 });
    const tx = await svc.request('GET', '/v1/ledger/transactions/tx-claw', { key: auditor });
    expect(tx.body).toMatchObject({ refunded: 4000, reward: 300, originalReward: 500, status: 'PART_REF' });
    const entries = await svc.request('GET', '/v1/ledger/accounts/acc-claw/entries?limit=500', { key: auditor });
    const clawbacks = (entries.body.items as { type: string; amount: number; cause: { id: string } }[]).filter((e) => e.type === 'CLAWBACK');
    expect(clawbacks).toEqual([expect.objectContaining({ amount: -200, cause: { kind: 'refund', id: 'sim-claw' } })]);
    const succeeded = (await eventsOf(svc, 'sim-claw')).find((e) => e.to === 'SUCCEEDED');
    expect(succeeded?.clawback).toEqual(done.clawback);
  });

  it('a refund paid before its reward transaction settles: the clawback waits, then the settlement posts it once', async () => {
    const open = await svc.request('PUT', '/v1/ledger/accounts/acc-late', { key: service, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(open.status).toBe(201);
    await ledgerPost('/v1/ledger/accounts/acc-late/transactions', { transactionId: 'tx-late', amount: 10_000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' });
    await seedApproved(svc.db, 'sim-late', 4000, { accountId: 'acc-late', transactionId: 'tx-late' });
    const paid = await until(() => stateOf(svc, 'sim-late'), (s) => s.state === 'SUCCEEDED');
    expect(paid.clawback).toMatchObject({ status: 'deferred', code: 'TRANSACTION_NOT_SETTLED', transactionId: 'tx-late' });
    expect((await historyOf(svc, 'sim-late')).at(-1)!.reason).toMatch(/clawback deferred until the reward transaction settles/);

    // Settling creates the reward (500) and, in the same transaction, takes back the paid refund's share (200).
    const k = newKey('settle');
    const settled = await svc.request('POST', '/v1/ledger/transactions/tx-late/settle', { key: service, idempotencyKey: k, body: { settledAt: '2026-11-05T10:00:00Z' } });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'PART_REF', refunded: 4000, originalReward: 500, reward: 300 });
    const after = await stateOf(svc, 'sim-late');
    expect(after.clawback).toMatchObject({ status: 'posted', refundId: 'sim-late', amount: 4000, clawback: 200, rewardAfter: 300 });
    const again = await svc.request('POST', '/v1/ledger/transactions/tx-late/settle', { key: service, idempotencyKey: k, body: { settledAt: '2026-11-05T10:00:00Z' } });
    expect([again.status, again.headers.get('idempotent-replayed'), again.text]).toEqual([200, 'true', settled.text]);
    const entries = await svc.request('GET', '/v1/ledger/accounts/acc-late/entries?limit=500', { key: auditor });
    const clawbacks = (entries.body.items as { type: string; amount: number; cause: { id: string } }[]).filter((e) => e.type === 'CLAWBACK');
    expect(clawbacks).toEqual([expect.objectContaining({ amount: -200, cause: { kind: 'refund', id: 'sim-late' } })]);
    const posted = await svc.sql<{ data: Record<string, unknown> }>("select data from outbox_events where tenant = ? and type = 'refund.clawback_posted'", [TENANT]);
    expect(posted.map((e) => e.data)).toEqual([expect.objectContaining({ refundId: 'sim-late', clawback: expect.objectContaining({ status: 'posted' }) })]);
  });

  it("a settlement finds the refunds waiting for it through an index, not by reading every paid refund of the tenant", async () => {
    // Every purchase settles once, and each settlement asks for the refunds deferred to it: without its own index that
    // read was every SUCCEEDED refund of the tenant (refunds_by_state), growing with the tenant's history.
    // As the service plans it: once per connection, with index scans only (GENERIC_INDEX_PLAN), here on a table of a
    // few refunds, where a plan made for the tenant alone would be as cheap as any.
    const text = await genericIndexPlan(svc.db, DEFERRED_CLAWBACKS, [TENANT, 'tx-any']);
    // Bounded by the tenant (an InitPlan: `$0` up to PostgreSQL 16, `(InitPlan 1).col1` from 17) and the transaction.
    expect(text).toMatch(/Index Scan using refunds_deferred_clawbacks .*\n.*Index Cond: \(\(tenant = (\$0|\(InitPlan 1\)\.col1)\) AND \(\(reward ->> 'transactionId'::text\) = /);
  });

  it('a clawback the ledger refuses does not block the payout: SUCCEEDED, with the refusal on the refund, its event and its history', async () => {
    await rewarded('acc-small', 'tx-small', 1000);
    await seedApproved(svc.db, 'sim-missing', 700, { accountId: 'acc-small', transactionId: 'tx-nowhere' });
    await seedApproved(svc.db, 'sim-too-much', 1500, { accountId: 'acc-small', transactionId: 'tx-small' });
    const missing = await until(() => stateOf(svc, 'sim-missing'), (s) => s.state === 'SUCCEEDED');
    const tooMuch = await until(() => stateOf(svc, 'sim-too-much'), (s) => s.state === 'SUCCEEDED');
    expect(missing.clawback).toMatchObject({ status: 'refused', code: 'TRANSACTION_NOT_FOUND' });
    expect(tooMuch.clawback).toMatchObject({ status: 'refused', code: 'REFUND_EXCEEDS_TRANSACTION' });
    const last = (await historyOf(svc, 'sim-too-much')).at(-1)!;
    expect(last.reason).toMatch(/ledger clawback refused: REFUND_EXCEEDS_TRANSACTION/);
    const tx = await svc.request('GET', '/v1/ledger/transactions/tx-small', { key: auditor });
    expect(tx.body).toMatchObject({ refunded: 0, reward: 50 });
  });
});

describe('payouts through a Stripe-style HTTP provider', () => {
  let fake: FakeProvider;
  let svc: TestService;
  let service: string;
  let reviewer: string;
  const MAX_ATTEMPTS = 3;

  beforeAll(async () => {
    fake = await FakeProvider.start();
    svc = await TestService.start('payouts_http', {
      paymentProvider: 'http',
      paymentProviderUrl: fake.url,
      paymentProviderTimeoutMs: 500,
      payoutLeaseMs: 2000,
      payoutPollMs: 50,
      payoutConcurrency: 16,
      payoutBackoffMs: 20,
      payoutMaxAttempts: MAX_ATTEMPTS,
    });
    service = await svc.issueKey(TENANT, ['service']);
    reviewer = await svc.issueKey(TENANT, ['reviewer']);
  });
  afterAll(async () => {
    await svc?.stop();
    await fake?.stop();
  });

  it('retries a failing provider with backoff, FAILS after the last attempt with its reason, and a manual retry pays it', async () => {
    let down = true;
    fake.behave = (id) => (id === 'http-500' && down ? 'error500' : 'pay');
    await seedApproved(svc.db, 'http-500', 1200);
    const failed = await until(() => stateOf(svc, 'http-500'), (s) => s.state === 'FAILED');
    expect(failed).toMatchObject({ attempts: MAX_ATTEMPTS, last_error: 'HTTP 500: provider_down: try later', provider_ref: null });
    const history = await historyOf(svc, 'http-500');
    expect(history.map((h) => h.to_state)).toEqual(['APPROVED', 'PROCESSING', 'FAILED']);
    expect(history.at(-1)!.reason).toBe('provider: HTTP 500: provider_down: try later');
    expect((await eventsOf(svc, 'http-500')).at(-1)).toMatchObject({ to: 'FAILED', failure: 'HTTP 500: provider_down: try later', attempts: MAX_ATTEMPTS });
    expect(fake.paidRefundIds().has('http-500')).toBe(false);
    // /metrics: the two retries and the failure, each counted once it was recorded (the first refund of this service).
    const counted = await until(
      async () => parsePrometheusText((await svc.request('GET', '/metrics')).text),
      (m) => m.value('decision_platform_job_failures_total', { job: 'payout' }) === 1,
    );
    expect(counted.value('decision_platform_job_retries_total', { job: 'payout' })).toBe(MAX_ATTEMPTS - 1);

    // Only a service key may retry, with an Idempotency-Key.
    expect((await svc.request('POST', '/v1/refunds/http-500/retry', { key: reviewer, idempotencyKey: newKey() })).status).toBe(403);
    expect((await svc.request('POST', '/v1/refunds/http-500/retry', { key: service })).status).toBe(400);

    down = false;
    const key = newKey('retry');
    const retried = await svc.request('POST', '/v1/refunds/http-500/retry', { key: service, idempotencyKey: key });
    expect([retried.status, retried.text]).toEqual([200, retried.text]);
    expect(retried.body).toMatchObject({ refundId: 'http-500', state: 'PROCESSING', payout: { attempts: 0, lastError: null } });
    const replay = await svc.request('POST', '/v1/refunds/http-500/retry', { key: service, idempotencyKey: key });
    expect([replay.status, replay.text, replay.headers.get('idempotent-replayed')]).toEqual([200, retried.text, 'true']);

    const paid = await until(() => stateOf(svc, 'http-500'), (s) => s.state === 'SUCCEEDED');
    expect(paid).toMatchObject({ attempts: 1, last_error: null, provider_ref: expect.stringMatching(/^re_/) });
    expect((await historyOf(svc, 'http-500')).map((h) => [h.to_state, h.actor_id === 'system' ? 'system' : 'key'])).toEqual([
      ['APPROVED', 'system'],
      ['PROCESSING', 'system'],
      ['FAILED', 'system'],
      ['PROCESSING', 'key'],
      ['SUCCEEDED', 'system'],
    ]);
    // One idempotency key for every attempt, before and after the manual retry.
    expect(fake.keysOf.get('http-500')?.size).toBe(1);
    expect([...fake.paid.values()].filter((r) => r.metadata.refundId === 'http-500')).toHaveLength(1);

    // Nothing left to retry: 409 naming both states; an unknown refund: 404.
    const again = await svc.request('POST', '/v1/refunds/http-500/retry', { key: service, idempotencyKey: newKey() });
    expect([again.status, again.body.code]).toEqual([409, 'INVALID_TRANSITION']);
    const nobody = await svc.request('POST', '/v1/refunds/nobody/retry', { key: service, idempotencyKey: newKey() });
    expect([nobody.status, nobody.body.code]).toEqual([404, 'REFUND_NOT_FOUND']);
  });

  it('an answer it could not read, then provider errors past the last attempt: PROCESSING (the first call may have paid), not FAILED', async () => {
    // The first call is answered with garbage (as when the provider paid and a proxy mangled the answer), every later
    // one with a 500 from in front of the provider's idempotency record: nothing says the first did not pay.
    let down = true;
    fake.behave = (id, asked) => (id !== 'http-doubt' ? 'pay' : asked === 1 ? 'garbage' : down ? 'error500' : 'pay');
    await seedApproved(svc.db, 'http-doubt', 800);
    await until(() => stateOf(svc, 'http-doubt'), (s) => s.attempts >= MAX_ATTEMPTS + 2);
    expect(await stateOf(svc, 'http-doubt')).toMatchObject({ state: 'PROCESSING', last_error: expect.stringContaining('HTTP 500') });
    expect((await historyOf(svc, 'http-doubt')).map((h) => h.to_state)).toEqual(['APPROVED', 'PROCESSING']);
    down = false;
    await until(() => stateOf(svc, 'http-doubt'), (s) => s.state === 'SUCCEEDED');
  });

  it('a decline is FAILED at once, without retries', async () => {
    fake.behave = (id) => (id === 'http-decline' ? 'decline' : 'pay');
    await seedApproved(svc.db, 'http-decline', 900);
    const failed = await until(() => stateOf(svc, 'http-decline'), (s) => s.state === 'FAILED');
    expect(failed).toMatchObject({ attempts: 1, last_error: 'HTTP 402: charge_already_refunded: already refunded' });
  });

  it('parallel manual retries of one FAILED refund: exactly one moves it, the others are 409; it is paid once', async () => {
    let declined = true;
    fake.behave = (id) => (id === 'http-race' && declined ? 'decline' : 'pay');
    await seedApproved(svc.db, 'http-race', 750);
    await until(() => stateOf(svc, 'http-race'), (s) => s.state === 'FAILED');
    declined = false;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => svc.request('POST', '/v1/refunds/http-race/retry', { key: service, idempotencyKey: newKey('race') })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    await until(() => stateOf(svc, 'http-race'), (s) => s.state === 'SUCCEEDED');
    expect((await historyOf(svc, 'http-race')).map((h) => h.to_state)).toEqual(['APPROVED', 'PROCESSING', 'FAILED', 'PROCESSING', 'SUCCEEDED']);
    expect([...fake.paid.values()].filter((r) => r.metadata.refundId === 'http-race')).toHaveLength(1);
  });

  it('an answer it cannot read (garbage, no answer in time) keeps the refund PROCESSING and asks again with the same key, past the attempt limit', async () => {
    fake.behave = (id) => (id === 'http-garbage' ? 'garbage' : id === 'http-hang' ? 'hang' : 'pay');
    await seedApproved(svc.db, 'http-garbage', 300);
    await seedApproved(svc.db, 'http-hang', 400);
    const garbage = await until(() => stateOf(svc, 'http-garbage'), (s) => s.attempts > MAX_ATTEMPTS + 1);
    expect(garbage).toMatchObject({ state: 'PROCESSING', provider_ref: null, last_error: expect.stringMatching(/unreadable answer/) });
    const hang = await until(() => stateOf(svc, 'http-hang'), (s) => s.attempts >= 2 && s.last_error !== null);
    expect(hang).toMatchObject({ state: 'PROCESSING', last_error: expect.stringMatching(/no answer within 500 ms/) });
    expect(fake.keysOf.get('http-garbage')?.size).toBe(1);
    expect((await historyOf(svc, 'http-garbage')).map((h) => h.to_state)).toEqual(['APPROVED', 'PROCESSING']);
    // The provider recovers: the next attempt (same key) pays it.
    fake.behave = () => 'pay';
    await until(() => stateOf(svc, 'http-garbage'), (s) => s.state === 'SUCCEEDED');
    await until(() => stateOf(svc, 'http-hang'), (s) => s.state === 'SUCCEEDED');
  });

  onServer('two instances on one database pay each of many refunds exactly once (SKIP LOCKED claims)', async () => {
    fake.behave = () => 'pay';
    const second = await TestService.join(svc, {
      paymentProvider: 'http',
      paymentProviderUrl: fake.url,
      paymentProviderTimeoutMs: 500,
      payoutLeaseMs: 2000,
      payoutPollMs: 50,
      payoutConcurrency: 16,
      payoutBackoffMs: 20,
      payoutMaxAttempts: MAX_ATTEMPTS,
    });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `many-${i}`);
      await Promise.all(ids.map((id) => seedApproved(svc.db, id, 100 + Number(id.slice(5)))));
      await until(
        () => svc.sql<{ n: string }>("select count(*)::text as n from refunds where tenant = ? and refund_id like 'many-%' and state = 'SUCCEEDED'", [TENANT]),
        (r) => Number(r[0]!.n) === ids.length,
      );
      for (const id of ids) expect(fake.keysOf.get(id)?.size).toBe(1);
      const paidMany = [...fake.paid.values()].filter((r) => r.metadata.refundId.startsWith('many-'));
      expect(paidMany).toHaveLength(ids.length);
      // Each was asked once: no two workers claimed the same refund.
      const asked = ids.map((id) => fake.requests.get([...fake.keysOf.get(id)!][0]!));
      expect(asked.every((n) => n === 1)).toBe(true);
    } finally {
      await second.stop();
    }
  });
});

describe('kill -9 in the middle of payouts', () => {
  onServer('after a SIGKILL and a restart every refund is SUCCEEDED and the provider paid each exactly once', async () => {
    const fake = await FakeProvider.start();
    fake.latencyMs = 600; // slow: several payouts are in flight when the service dies
    const database = await createTestDatabase('payouts_kill');
    const env = {
      PAYMENT_PROVIDER: 'http',
      PAYMENT_PROVIDER_URL: fake.url,
      PAYMENT_PROVIDER_TIMEOUT_MS: '3000',
      PAYOUT_LEASE_MS: '4000',
      PAYOUT_POLL_MS: '50',
      PAYOUT_CONCURRENCY: '6',
      PAYOUT_BACKOFF_MS: '50',
    };
    let svc: ServiceProcess | undefined;
    let db: Database | undefined;
    try {
      svc = await ServiceProcess.onDatabase(database.url, env);
      db = await openDatabase(database.url, { migrate: false, poolSize: 2 });
      const ids = Array.from({ length: 30 }, (_, i) => `kill-${i}`);
      for (const id of ids) await seedApproved(db, id, 1000 + Number(id.slice(5)));
      // Kill while the provider holds requests whose answers have not come back yet.
      await until(() => Promise.resolve(fake.requests.size), (n) => n >= 8);
      await svc.kill('SIGKILL');
      const inFlightAtKill = fake.paid.size;
      const states = async () =>
        db!.em().execute<{ state: string; n: string }[]>("select state, count(*)::text as n from refunds where tenant = ? group by state order by state", [TENANT]);
      const before = await states();
      // Some were mid-execution: PROCESSING, and paid or being paid by the provider.
      expect(before.find((s) => s.state === 'PROCESSING')).toBeDefined();

      svc = await ServiceProcess.onDatabase(database.url, env);
      await until(states, (s) => s.length === 1 && s[0]!.state === 'SUCCEEDED' && Number(s[0]!.n) === ids.length, 60_000);

      // Every refund's money moved exactly once: one key per refund, one payment per key, none lost.
      expect(fake.paidRefundIds()).toEqual(new Set(ids));
      expect(fake.paid.size).toBe(ids.length);
      for (const id of ids) expect(fake.keysOf.get(id)?.size).toBe(1);
      // The crash really interrupted payouts: some keys were asked again after the restart (and answered from the
      // provider's idempotency record, not paid again).
      expect(inFlightAtKill).toBeGreaterThan(0);
      expect([...fake.requests.values()].some((n) => n > 1)).toBe(true);
      const refs = await db.em().execute<{ refund_id: string; provider_ref: string }[]>('select refund_id, provider_ref from refunds where tenant = ?', [TENANT]);
      const paidRef = new Map([...fake.paid.values()].map((r) => [r.metadata.refundId, r.id]));
      for (const r of refs) expect(r.provider_ref).toBe(paidRef.get(r.refund_id));
    } finally {
      await db?.close();
      await svc?.stop();
      await database.drop();
      await fake.stop();
    }
  }, 120_000);
});

describe('manual retry: only a FAILED refund, and only while its order can still refund it', () => {
  let svc: TestService;
  let service: string;

  // The payout worker stays off (the harness default): states are set up by hand and nothing moves them.
  beforeAll(async () => {
    svc = await TestService.start('payouts_retry_guard');
    service = await svc.issueKey(TENANT, ['service']);
  });
  afterAll(() => svc?.stop());

  async function seed(refundId: string, orderId: string, state: 'APPROVED' | 'FAILED' | 'SUCCEEDED', amount: number, captured: number): Promise<void> {
    await svc.db.em().transactional((em) =>
      refunds.create(em, {
        tenant: TENANT, refundId, type: 'refund', orderId, customerId: 'cust-1', state, requestedAmount: amount, approvedAmount: amount,
        capturedAmount: captured, currency: 'EUR', reward: null, requestedBy: 'seed', decisionId: randomUUID(), createdAt: new Date(),
        reason: 'seeded', actor: SYSTEM,
      }),
    );
  }
  const retry = (refundId: string) => svc.request('POST', `/v1/refunds/${refundId}/retry`, { key: service, idempotencyKey: newKey('retry') });

  it('a FAILED refund whose amount the order has since refunded otherwise is not paid again: 422, it stays FAILED', async () => {
    // The first refund failed (its amount went back to the order), a second one of the whole order was approved and paid.
    await seed('guard-failed', 'guard-order', 'FAILED', 1000, 1000);
    await seed('guard-paid', 'guard-order', 'SUCCEEDED', 1000, 1000);
    const r = await retry('guard-failed');
    expect([r.status, r.body.code]).toEqual([422, 'AMOUNT_EXCEEDS_REFUNDABLE']);
    expect(await stateOf(svc, 'guard-failed')).toMatchObject({ state: 'FAILED' });
    // Within what is left it is retried as before.
    await seed('guard-failed-2', 'guard-order-2', 'FAILED', 600, 1000);
    await seed('guard-paid-2', 'guard-order-2', 'SUCCEEDED', 400, 1000);
    const ok = await retry('guard-failed-2');
    expect([ok.status, ok.body.state]).toEqual([200, 'PROCESSING']);
  });

  it('an APPROVED refund (not failed, its payout not even started) is 409 INVALID_TRANSITION, not moved by hand', async () => {
    await seed('guard-approved', 'guard-order-3', 'APPROVED', 500, 1000);
    const r = await retry('guard-approved');
    expect([r.status, r.body.code]).toEqual([409, 'INVALID_TRANSITION']);
    expect(await stateOf(svc, 'guard-approved')).toMatchObject({ state: 'APPROVED', attempts: 0 });
    expect((await historyOf(svc, 'guard-approved')).map((h) => h.to_state)).toEqual(['APPROVED']);
  });
});
