/** The reward ledger over HTTP against the real store: Algorithms 1–4, the paper's cases, concurrency, tenancy. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newKey, TestService } from './support/harness.js';

let svc: TestService;
let key: string;
let auditor: string;
let otherTenant: string;
let seq = 0;

beforeAll(async () => {
  svc = await TestService.start('ledger');
  key = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  otherTenant = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

const uid = (p: string) => `${p}-${++seq}-${Date.now().toString(36)}`;
const post = (path: string, body: unknown, k = key) => svc.request('POST', path, { key: k, idempotencyKey: newKey(), body });

class Account {
  readonly id = uid('acct');
  constructor(readonly program: string) {}
  async open(anchor = 1) {
    const r = await svc.request('PUT', `/v1/ledger/accounts/${this.id}`, { key, body: { program: this.program, currency: 'EUR', cycleAnchorDay: anchor } });
    expect([200, 201]).toContain(r.status);
    return r;
  }
  async purchase(amount: number, category: string, occurredAt: string) {
    const transactionId = uid('tx');
    const r = await post(`/v1/ledger/accounts/${this.id}/transactions`, { transactionId, amount, category, occurredAt });
    expect(r.status).toBe(201);
    return transactionId;
  }
  async buy(amount: number, category: string, at: string) {
    const tx = await this.purchase(amount, category, at);
    const s = await post(`/v1/ledger/transactions/${tx}/settle`, { settledAt: at });
    expect(s.status).toBe(200);
    return tx;
  }
  refund(tx: string, amount: number, at: string) {
    return post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: uid('rf'), amount, at });
  }
  redeem(amount: number, at: string) {
    return post(`/v1/ledger/accounts/${this.id}/redemptions`, { redemptionId: uid('rd'), amount, at });
  }
  close(periodEnd: string) {
    return post(`/v1/ledger/accounts/${this.id}/statements`, { periodEnd });
  }
  async view() {
    const r = await svc.request('GET', `/v1/ledger/accounts/${this.id}`, { key: auditor });
    expect(r.status).toBe(200);
    return r.body;
  }
  async tx(id: string) {
    const r = await svc.request('GET', `/v1/ledger/transactions/${id}`, { key: auditor });
    expect(r.status).toBe(200);
    return r.body;
  }
  async entries() {
    const r = await svc.request('GET', `/v1/ledger/accounts/${this.id}/entries?limit=500`, { key: auditor });
    expect(r.status).toBe(200);
    return r.body.items as { amount: number; type: string; cause: { kind: string; id: string }; programRef: string; balanceAfter: number }[];
  }
}

async function expectEntriesMatchBalance(a: Account) {
  const view = await a.view();
  const entries = await a.entries();
  expect(entries.reduce((s, e) => s + e.amount, 0)).toBe(view.balance);
  return view;
}

describe('Algorithm 1: reward at settlement, capped per period', () => {
  it('rewards by category rate, rounds half-even, and caps across categories', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const g = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect(await a.tx(g)).toMatchObject({ status: 'SETTLED', reward: 500, originalReward: 500 });
    const other = await a.buy(250, 'BOOKS', '2026-03-03T10:00:00Z'); // 100 bps of 250 = 2.5 → 2 (half-even)
    expect((await a.tx(other)).reward).toBe(2);
    const big = await a.buy(100000, 'DINING', '2026-03-04T10:00:00Z'); // 5000 earned, but only 5000-502 left
    expect((await a.tx(big)).reward).toBe(4498);
    const capped = await a.buy(10000, 'GROCERY', '2026-03-05T10:00:00Z');
    expect((await a.tx(capped)).reward).toBe(0);
    const nextPeriod = await a.buy(10000, 'GROCERY', '2026-04-01T00:00:00Z');
    expect((await a.tx(nextPeriod)).reward).toBe(500);
    const view = await expectEntriesMatchBalance(a);
    expect(view.balance).toBe(5500);
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('a PENDING purchase earns nothing until settled', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.purchase(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect(await a.tx(tx)).toMatchObject({ status: 'PENDING', reward: 0 });
    expect((await a.view()).balance).toBe(0);
    const r = await a.refund(tx, 100, '2026-03-03T00:00:00Z');
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('TRANSACTION_NOT_SETTLED');
  });
});

describe('Algorithm 2: proportional clawback from the original reward', () => {
  it("reproduces the paper's Table 4", async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    const first = await a.refund(tx, 5000, '2026-03-05T10:00:00Z');
    expect(first.status).toBe(201);
    expect(first.body.entry).toMatchObject({ type: 'CLAWBACK', amount: -250 });
    expect(await a.tx(tx)).toMatchObject({ status: 'PART_REF', reward: 250, originalReward: 500, refunded: 5000 });
    const second = await a.refund(tx, 5000, '2026-03-06T10:00:00Z');
    expect(second.status).toBe(201);
    expect(await a.tx(tx)).toMatchObject({ status: 'REFUNDED', reward: 0, originalReward: 500, refunded: 10000 });
    const over = await a.refund(tx, 1, '2026-03-07T10:00:00Z');
    expect(over.status).toBe(422);
    expect(over.body.code).toBe('REFUND_EXCEEDS_TRANSACTION');
    expect((await expectEntriesMatchBalance(a)).balance).toBe(0);
  });

  it('restores cap headroom only for a refund in the settlement period', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const big = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z'); // uses the whole 5000 cap
    await a.refund(big, 50000, '2026-03-10T10:00:00Z'); // same period: 2500 back, headroom restored
    const again = await a.buy(10000, 'GROCERY', '2026-03-11T10:00:00Z');
    expect((await a.tx(again)).reward).toBe(500);

    const b = new Account('cashback-default');
    await b.open();
    const bigB = await b.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
    await b.refund(bigB, 50000, '2026-04-10T10:00:00Z'); // later period: clawback, but March's cap stands
    const late = await b.buy(10000, 'GROCERY', '2026-03-20T10:00:00Z');
    expect((await b.tx(late)).reward).toBe(0);
  });

  it('a chargeback claws back like a refund and marks the transaction', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(4000, 'DINING', '2026-03-02T10:00:00Z');
    const r = await post(`/v1/ledger/transactions/${tx}/chargebacks`, { chargebackId: uid('cb'), amount: 4000, at: '2026-03-09T00:00:00Z' });
    expect(r.status).toBe(201);
    expect(await a.tx(tx)).toMatchObject({ status: 'CHARGEBACK', reward: 0, refunded: 4000 });
  });
});

describe('Algorithm 3: the redemption gate (OPA) and its persisted decisions', () => {
  it('refuses below the minimum balance with 422 code and reasons, and stores both outcomes as decisions', async () => {
    const a = new Account('cashback-default');
    await a.open();
    await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    const refused = await a.redeem(501, '2026-03-03T00:00:00Z');
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    expect(refused.body.code).toBe('INSUFFICIENT_REWARD_BALANCE');
    expect(refused.body.reasons[0].code).toBe('INSUFFICIENT_REWARD_BALANCE');
    const ok = await a.redeem(500, '2026-03-03T00:00:00Z');
    expect(ok.status).toBe(201);
    expect(ok.body.balance).toBe(0);

    const refusedDecision = await svc.request('GET', `/v1/decisions/${refused.body.decisionId}`, { key: auditor });
    expect(refusedDecision.body).toMatchObject({ domain: 'redemption', outcome: 'DENY', release: { components: { 'redemption-gate': '1.0.0' } } });
    expect(refusedDecision.body.trace[0]).toMatchObject({ source: 'redemption-gate@1.0.0', input: { balance: 500, amount: 501 } });
    const allowed = await svc.request('GET', `/v1/decisions/${ok.body.decisionId}`, { key: auditor });
    expect(allowed.body.outcome).toBe('APPROVE');
    const replay = await svc.request('POST', `/v1/decisions/${refused.body.decisionId}/replay`, { key: auditor });
    expect(replay.body.identical).toBe(true);
    const view = await a.view();
    expect(view).toMatchObject({ balance: 0, redeemed: 500 });
  });

  it('a redemption sent again under another key is not evaluated again and names the decision that allowed it', async () => {
    const a = new Account('cashback-default');
    await a.open();
    await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z'); // 500
    const body = { redemptionId: uid('rd'), amount: 200, at: '2026-03-03T00:00:00Z' };
    const first = await post(`/v1/ledger/accounts/${a.id}/redemptions`, body);
    const again = await post(`/v1/ledger/accounts/${a.id}/redemptions`, body); // a new Idempotency-Key
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(typeof first.body.decisionId).toBe('string');
    expect(again.body).toEqual(first.body);
    // One decision, one debit.
    const listed = await svc.request('GET', `/v1/decisions?domain=redemption&limit=500`, { key: auditor });
    expect(listed.body.items.filter((d: { redemptionId?: string }) => d.redemptionId === body.redemptionId).map((d: { id: string }) => d.id)).toEqual([first.body.decisionId]);
    expect(await a.view()).toMatchObject({ balance: 300, redeemed: 200 });
  });

  it('the same redemption under eight keys at once: one debit, one decision, every answer naming it', async () => {
    const a = new Account('cashback-default');
    await a.open();
    await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z'); // 500
    const body = { redemptionId: uid('rd'), amount: 120, at: '2026-03-03T00:00:00Z' };
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(`/v1/ledger/accounts/${a.id}/redemptions`, body)));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(201));
    const ids = new Set(answers.map((r) => r.body.decisionId));
    expect(ids.size).toBe(1);
    const [decisionId] = [...ids];
    expect((await svc.request('GET', `/v1/decisions/${decisionId}`, { key: auditor })).body).toMatchObject({ domain: 'redemption', outcome: 'APPROVE', redemptionId: body.redemptionId });
    const listed = await svc.request('GET', `/v1/decisions?domain=redemption&limit=500`, { key: auditor });
    expect(listed.body.items.filter((d: { redemptionId?: string }) => d.redemptionId === body.redemptionId)).toHaveLength(1);
    expect(await a.view()).toMatchObject({ balance: 380, redeemed: 120 });
  });

  it('replays a refusal with its key byte for byte (the refusal is the recorded outcome)', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const k = newKey();
    const body = { redemptionId: uid('rd'), amount: 10, at: '2026-03-03T00:00:00Z' };
    const first = await svc.request('POST', `/v1/ledger/accounts/${a.id}/redemptions`, { key, idempotencyKey: k, body });
    const again = await svc.request('POST', `/v1/ledger/accounts/${a.id}/redemptions`, { key, idempotencyKey: k, body });
    expect(first.status).toBe(422);
    expect(again.status).toBe(422);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('a thrown refusal is stored and replayed with its key, and changes nothing in the ledger', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z'); // 500
    const before = { tx: await a.tx(tx), entries: await a.entries() };
    const k = newKey();
    const body = { refundId: uid('rf'), amount: 10001, at: '2026-03-05T10:00:00Z' };
    const first = await svc.request('POST', `/v1/ledger/transactions/${tx}/refunds`, { key, idempotencyKey: k, body });
    const again = await svc.request('POST', `/v1/ledger/transactions/${tx}/refunds`, { key, idempotencyKey: k, body });
    expect(first.status).toBe(422);
    expect(first.body.code).toBe('REFUND_EXCEEDS_TRANSACTION');
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await a.tx(tx)).toEqual(before.tx);
    expect(await a.entries()).toEqual(before.entries);
    // The refund id was never recorded: the same id with an amount that fits is a new refund.
    const fits = await post(`/v1/ledger/transactions/${tx}/refunds`, { ...body, amount: 10000 });
    expect(fits.status).toBe(201);
    expect(fits.body.transaction).toMatchObject({ refunded: 10000, reward: 0, status: 'REFUNDED' });
  });
});

describe('Algorithm 4: statement close', () => {
  it('refuses a close whose grace hold would end after year 9999: 422 naming periodEnd, never a 500', async () => {
    const a = new Account('issuer-d'); // grace 7 days
    await a.open(28);
    const r = await a.close('9999-12-28T00:00:00Z');
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'HOLD_OUT_OF_RANGE', errors: [{ path: '/periodEnd' }] });
    expect((await a.view()).holdUntil).toBeNull();
  });

  it('same-period refunds reduce the eligible amount, the hold is set, later refunds are clawed back at the next close', async () => {
    const a = new Account('issuer-d'); // statement timing, 400 bps GROCERY, grace 7 days
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect((await a.tx(tx)).reward).toBe(0); // statement program: nothing until close
    await a.refund(tx, 2500, '2026-03-20T10:00:00Z');
    const close = await a.close('2026-04-01T00:00:00Z');
    expect(close.status).toBe(201);
    expect(await a.tx(tx)).toMatchObject({ originalReward: 300, reward: 300 }); // 4% of 7500
    const view = await a.view();
    expect(view.holdUntil).toBe('2026-04-08T00:00:00.000Z');

    const held = await a.redeem(100, '2026-04-05T00:00:00Z');
    expect(held.status).toBe(422);
    expect(held.body.code).toBe('REDEMPTION_HOLD_ACTIVE');
    expect((await a.redeem(100, '2026-04-08T00:00:00Z')).status).toBe(201);

    await a.refund(tx, 7500, '2026-04-10T00:00:00Z'); // rest refunded in the next period: deferred to close
    expect((await a.tx(tx)).reward).toBe(300);
    await a.close('2026-05-01T00:00:00Z');
    expect(await a.tx(tx)).toMatchObject({ reward: 0, status: 'REFUNDED' });
    const after = await expectEntriesMatchBalance(a);
    expect(after.balance).toBe(-100);
    expect(after.integrity.rewardIntegrity).toBe(true);

    const twice = await a.close('2026-05-01T00:00:00Z');
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('STATEMENT_ALREADY_CLOSED');
    const notBoundary = await a.close('2026-05-15T00:00:00Z');
    expect(notBoundary.status).toBe(422);
    expect(notBoundary.body.code).toBe('PERIOD_END_NOT_A_BOUNDARY');
  });
});

describe("the paper's cases", () => {
  /** Case I: buy, get the reward, redeem it, return the goods in the next period. */
  async function caseOne(program: string) {
    const a = new Account(program);
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect((await a.redeem(5000, '2026-03-03T00:00:00Z')).status).toBe(201);
    expect((await a.refund(tx, 100000, '2026-04-02T10:00:00Z')).status).toBe(201);
    return { a, tx, view: await expectEntriesMatchBalance(a) };
  }

  it('Case I: cashback-default keeps Reward Integrity (the debt stays on the balance)', async () => {
    const { view } = await caseOne('cashback-default');
    expect(view).toMatchObject({ balance: -5000, redeemed: 5000, netSpend: 0, netReward: 0, rewardBound: 0 });
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('Case I: issuer-a violates it and names the transaction', async () => {
    const { view, tx } = await caseOne('issuer-a');
    expect(view).toMatchObject({ balance: 0, redeemed: 5000, netSpend: 0, netReward: 5000 });
    expect(view.integrity.rewardIntegrity).toBe(false);
    expect(JSON.stringify(view.integrity.violations)).toContain(tx);
  });

  /** Case II: statement program with auto-redeem at close; the return lands in the next cycle. */
  async function caseTwo(program: string) {
    const a = new Account(program);
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-10T10:00:00Z');
    expect((await a.close('2026-04-01T00:00:00Z')).status).toBe(201);
    if (program === 'issuer-b') expect((await a.view()).redeemed).toBeGreaterThan(0); // auto-redeemed at close
    expect((await a.refund(tx, 100000, '2026-04-05T10:00:00Z')).status).toBe(201);
    expect((await a.close('2026-05-01T00:00:00Z')).status).toBe(201);
    return expectEntriesMatchBalance(a);
  }

  it('Case II: issuer-b violates Reward Integrity', async () => {
    const view = await caseTwo('issuer-b');
    expect(view.netSpend).toBe(0);
    expect(view.integrity.rewardIntegrity).toBe(false);
  });

  it.each(['issuer-d', 'issuer-e', 'cashback-default'])('Case II: %s keeps it', async (program) => {
    const view = await caseTwo(program);
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('Case III-A: issuer-c nets the debt against later rewards and refuses redemption until repaid', async () => {
    const c = new Account('issuer-c');
    await c.open();
    const tx = await c.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z'); // 3000
    expect((await c.redeem(3000, '2026-03-03T00:00:00Z')).status).toBe(201);
    await c.refund(tx, 100000, '2026-04-02T10:00:00Z');
    expect((await c.view()).balance).toBe(-3000);
    await c.buy(50000, 'GROCERY', '2026-04-03T10:00:00Z'); // +1500, still -1500
    const refused = await c.redeem(1, '2026-04-04T00:00:00Z');
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('INSUFFICIENT_REWARD_BALANCE');
    const view = await expectEntriesMatchBalance(c);
    expect(view.balance).toBe(-1500);
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('Case III-B: issuer-f lets the reward out before the close; the close restores integrity with a debt', async () => {
    const a = new Account('issuer-f'); // instant 300 bps, clawback at close
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect((await a.redeem(3000, '2026-03-03T00:00:00Z')).status).toBe(201);
    await a.refund(tx, 100000, '2026-03-05T10:00:00Z');
    const before = await a.view();
    expect(before.integrity.rewardIntegrity).toBe(false); // the window the paper describes
    await a.close('2026-04-01T00:00:00Z');
    const after = await expectEntriesMatchBalance(a);
    expect(after.balance).toBe(-3000);
    expect(after.integrity.rewardIntegrity).toBe(true);
  });
});

describe('concurrency', () => {
  it('50 parallel redemptions against a balance covering 10 grant exactly 10', async () => {
    const a = new Account('cashback-default');
    await a.open();
    await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z'); // 500
    const results = await Promise.all(Array.from({ length: 50 }, () => a.redeem(50, '2026-03-03T00:00:00Z')));
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    expect(results.filter((r) => r.status === 422 && r.body.code === 'INSUFFICIENT_REWARD_BALANCE')).toHaveLength(40);
    const view = await expectEntriesMatchBalance(a);
    expect(view).toMatchObject({ balance: 0, redeemed: 500 });
    const decisions = await svc.request('GET', '/v1/decisions?domain=redemption&limit=500', { key: auditor });
    const mine = decisions.body.items.filter((d: any) => d.accountId === a.id);
    expect(mine.filter((d: any) => d.outcome === 'APPROVE')).toHaveLength(10);
    expect(mine.filter((d: any) => d.outcome === 'DENY')).toHaveLength(40);
  });

  it('parallel refunds on one transaction are serialised: never more than the amount', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    const results = await Promise.all(Array.from({ length: 20 }, () => a.refund(tx, 1500, '2026-03-05T10:00:00Z')));
    expect(results.filter((r) => r.status === 201)).toHaveLength(6);
    expect(results.filter((r) => r.status === 422 && r.body.code === 'REFUND_EXCEEDS_TRANSACTION')).toHaveLength(14);
    expect(await a.tx(tx)).toMatchObject({ refunded: 9000, status: 'PART_REF' });
    const view = await expectEntriesMatchBalance(a);
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('two accounts racing for one transactionId: one purchase is recorded, the other is a 409, nothing is overwritten', async () => {
    const a = new Account('cashback-default');
    const b = new Account('cashback-default');
    await a.open();
    await b.open();
    const id = uid('tx');
    const buy = (acct: Account, amount: number) =>
      post(`/v1/ledger/accounts/${acct.id}/transactions`, { transactionId: id, amount, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    const [ra, rb] = await Promise.all([buy(a, 1000), buy(b, 2000)]);
    expect([ra.status, rb.status].sort()).toEqual([201, 409]);
    const winner = ra.status === 201 ? { acct: a, amount: 1000 } : { acct: b, amount: 2000 };
    expect(await winner.acct.tx(id)).toMatchObject({ accountId: winner.acct.id, amount: winner.amount });
  });

  it('one Idempotency-Key sent 20 times at once refunds once', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    const k = newKey();
    const body = { refundId: uid('rf'), amount: 1000, at: '2026-03-05T10:00:00Z' };
    const results = await Promise.all(Array.from({ length: 20 }, () => svc.request('POST', `/v1/ledger/transactions/${tx}/refunds`, { key, idempotencyKey: k, body })));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect((await a.tx(tx)).refunded).toBe(1000);
  });
});

describe('tenant-uploaded programs', () => {
  it('one Idempotency-Key sent 10 times at once on a command whose effect runs in a savepoint (a pack upload): one upload, one answer', async () => {
    const pack = JSON.parse(await readFile(join(import.meta.dirname, '../rule-packs/cashback-default/1.0.0.json'), 'utf8'));
    pack.name = `burst-cashback-${Date.now().toString(36)}`;
    const author = await svc.issueKey('acme', ['author']);
    const k = newKey();
    const results = await Promise.all(Array.from({ length: 10 }, () => svc.request('POST', '/v1/rule-packs', { key: author, idempotencyKey: k, body: pack })));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 201));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
  });

  it("an author's reward-program pack is usable by that tenant's accounts, and by no other tenant", async () => {
    const pack = JSON.parse(await readFile(join(import.meta.dirname, '../rule-packs/cashback-default/1.0.0.json'), 'utf8'));
    pack.name = `acme-cashback-${Date.now().toString(36)}`;
    pack.parameters.ratesBps = { GROCERY: 800, DINING: 500 };
    const author = await svc.issueKey('acme', ['author']);
    const up = await svc.request('POST', '/v1/rule-packs', { key: author, idempotencyKey: newKey(), body: pack });
    expect([200, 201]).toContain(up.status);

    const a = new Account(pack.name);
    await a.open();
    expect((await a.view()).program).toBe(`${pack.name}@1.0.0`);
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect((await a.tx(tx)).reward).toBe(800);

    const other = await svc.request('PUT', `/v1/ledger/accounts/${uid('acct')}`, { key: otherTenant, body: { program: pack.name, currency: 'EUR', cycleAnchorDay: 1 } });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('PROGRAM_NOT_FOUND');
  });
});

describe('tenant-uploaded programs, refused', () => {
  it("a reward-program pack whose parameters the ledger cannot use is refused at upload with their paths, and nothing is stored", async () => {
    const pack = JSON.parse(await readFile(join(import.meta.dirname, '../rule-packs/cashback-default/1.0.0.json'), 'utf8'));
    pack.name = `bad-cashback-${Date.now().toString(36)}`;
    pack.parameters.graceDays = 1.5;
    pack.parameters.monthlyCap = -1;
    pack.parameters.ratesBps = { ...pack.parameters.ratesBps, GROCERY: 2.5 };
    const author = await svc.issueKey('acme', ['author']);
    const up = await svc.request('POST', '/v1/rule-packs', { key: author, idempotencyKey: newKey(), body: pack });
    expect(up.status).toBe(422);
    expect(up.body.code).toBe('REWARD_PROGRAM_INVALID');
    expect((up.body.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['/parameters/graceDays', '/parameters/monthlyCap', '/parameters/ratesBps/GROCERY']);
    expect((await svc.request('GET', `/v1/rule-packs/${pack.name}/1.0.0`, { key: author })).status).toBe(404);
    // The tenant's accounts open as before: no stored pack stands in the way of the program's name.
    const opened = await svc.request('PUT', `/v1/ledger/accounts/${uid('acct')}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(opened.status).toBe(201);
  });
});

describe('entries, tenancy and input', () => {
  it('entries are append-only, carry their cause and program version, and sum to the balance', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    await a.refund(tx, 2000, '2026-03-05T10:00:00Z');
    await a.redeem(100, '2026-03-06T00:00:00Z');
    const entries = await a.entries();
    expect(entries.map((e) => [e.type, e.amount, e.cause.kind])).toEqual([
      ['REWARD', 500, 'settlement'],
      ['CLAWBACK', -100, 'refund'],
      ['REDEMPTION', -100, 'redemption'],
    ]);
    expect(entries.every((e) => e.programRef === 'cashback-default@1.0.0')).toBe(true);
    expect(entries[entries.length - 1]!.balanceAfter).toBe(300);
  });

  it("another tenant's account and transactions are answered as missing", async () => {
    const a = new Account('cashback-default');
    await a.open();
    const tx = await a.buy(1000, 'GROCERY', '2026-03-02T10:00:00Z');
    expect((await svc.request('GET', `/v1/ledger/accounts/${a.id}`, { key: otherTenant })).status).toBe(404);
    expect((await svc.request('GET', `/v1/ledger/accounts/${a.id}/entries`, { key: otherTenant })).status).toBe(404);
    expect((await svc.request('GET', `/v1/ledger/transactions/${tx}`, { key: otherTenant })).status).toBe(404);
    expect((await post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: uid('rf'), amount: 1, at: '2026-03-03T00:00:00Z' }, otherTenant)).status).toBe(404);
  });

  it('bad bodies are 400 naming the field; unknown program is 422; auditors cannot write', async () => {
    const a = new Account('cashback-default');
    await a.open();
    const bad = await post(`/v1/ledger/accounts/${a.id}/transactions`, { transactionId: '', amount: 10.5, category: 'X', occurredAt: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(['/transactionId', '/amount', '/occurredAt']));
    const currency = await svc.request('PUT', `/v1/ledger/accounts/${uid('acct')}`, { key, body: { program: 'cashback-default', currency: 'ZZZ', cycleAnchorDay: 1 } });
    expect(currency.status).toBe(400);
    expect(currency.body.errors).toEqual([{ path: '/currency', message: 'must be an ISO 4217 currency code (list one, e.g. EUR, USD)' }]);
    const unknown = await svc.request('PUT', `/v1/ledger/accounts/${uid('acct')}`, { key, body: { program: 'no-such-program', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('PROGRAM_NOT_FOUND');
    const asAuditor = await post(`/v1/ledger/accounts/${a.id}/redemptions`, { redemptionId: uid('rd'), amount: 1, at: '2026-03-03T00:00:00Z' }, auditor);
    expect(asAuditor.status).toBe(403);
    const noKey = await svc.request('POST', `/v1/ledger/accounts/${a.id}/redemptions`, { key, body: { redemptionId: uid('rd'), amount: 1, at: '2026-03-03T00:00:00Z' } });
    expect(noKey.status).toBe(400);
    expect(noKey.body.code).toBe('IDEMPOTENCY_KEY_MISSING');
  });
});
