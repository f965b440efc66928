/** The ledger's algorithms one by one (paper section 6), its error codes, idempotency and entry bookkeeping. */
import { DomainError } from '../errors/index.js';
import { allEntries, harness, variant, type Harness } from './ledger.test-support.js';
import type { RewardProgram } from './program.js';

const T = 'acme';
const A = 'acc-1';

/** A ledger with account A open on `program`. */
async function open(program: string, extra: RewardProgram[] = [], anchor = 1): Promise<Harness> {
  const h = await harness(extra);
  await h.ledger.openAccount(T, A, { program, currency: 'USD', cycleAnchorDay: anchor });
  return h;
}

/** Records and settles a purchase. */
async function buy(h: Harness, id: string, amount: number, at: string, category = 'GROCERY', settledAt: string | null = at) {
  await h.ledger.recordPurchase(T, A, { transactionId: id, amount, category, occurredAt: at });
  return settledAt === null ? h.ledger.transaction(T, id) : h.ledger.settle(T, id, { settledAt });
}

async function expectError(p: Promise<unknown>, code: string, kind?: DomainError['kind']) {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect((e as DomainError).code).toBe(code);
  if (kind) expect((e as DomainError).kind).toBe(kind);
  return e as DomainError;
}

async function entriesSumToBalance(h: Harness) {
  const entries = await allEntries(h.store, T, A);
  const view = await h.ledger.view(T, A);
  expect(entries.reduce((s, e) => s + e.amount, 0)).toBe(view.balance);
  entries.forEach((e, i) => expect(e.seq).toBe(i + 1));
  return entries;
}

describe('accounts', () => {
  it('opens once; the same data again is a no-op; a bare name pins the newest version', async () => {
    const h = await harness();
    const first = await h.ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 15 });
    expect(first.created).toBe(true);
    expect(first.account).toMatchObject({ programRef: 'cashback-default@1.0.0', balance: 0, redeemed: 0, holdUntil: null, closedPeriods: [], capUsage: {}, version: 1 });
    const again = await h.ledger.openAccount(T, A, { program: 'cashback-default@1.0.0', currency: 'USD', cycleAnchorDay: 15 });
    expect(again).toEqual({ account: first.account, created: false });
  });

  it('may change anything before the first transaction', async () => {
    const h = await open('cashback-default');
    const { account } = await h.ledger.openAccount(T, A, { program: 'issuer-c', currency: 'EUR', cycleAnchorDay: 10 });
    expect(account).toMatchObject({ programRef: 'issuer-c@1.0.0', currency: 'EUR', cycleAnchorDay: 10, version: 2 });
  });

  it('locks currency (CURRENCY_MISMATCH), program and anchor day once transactions exist', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx1', 1000, '2024-05-02T10:00:00Z', 'GROCERY', null);
    await expectError(h.ledger.openAccount(T, A, { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 }), 'CURRENCY_MISMATCH', 'conflict');
    await expectError(h.ledger.openAccount(T, A, { program: 'issuer-c', currency: 'USD', cycleAnchorDay: 1 }), 'PROGRAM_LOCKED', 'conflict');
    await expectError(h.ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 2 }), 'CYCLE_ANCHOR_LOCKED', 'conflict');
    expect((await h.ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 })).created).toBe(false);
  });

  it('PROGRAM_NOT_FOUND for an unknown program; VALIDATION_FAILED naming each bad field', async () => {
    const h = await harness();
    await expectError(h.ledger.openAccount(T, A, { program: 'nope', currency: 'USD', cycleAnchorDay: 1 }), 'PROGRAM_NOT_FOUND', 'unprocessable');
    const e = await expectError(h.ledger.openAccount(T, A, { program: 'cashback-default', currency: 'usd', cycleAnchorDay: 29 }), 'VALIDATION_FAILED', 'invalid');
    expect(e.errors.map((d) => d.path)).toEqual(['/currency', '/cycleAnchorDay']);
  });

  it('pages entries, and refuses an unknown account', async () => {
    const h = await open('cashback-default');
    for (const id of ['a', 'b', 'c']) await buy(h, id, 1000, '2024-05-02T10:00:00Z');
    expect((await h.ledger.entries(T, A, { limit: 2 })).map((e) => e.seq)).toEqual([1, 2]);
    expect((await h.ledger.entries(T, A, { limit: 2, afterSeq: 2 })).map((e) => [e.seq, e.transactionId])).toEqual([[3, 'c']]);
    await expectError(h.ledger.entries(T, 'nope', { limit: 2 }), 'ACCOUNT_NOT_FOUND', 'not_found');
  });

  it('tenants are isolated', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx1', 1000, '2024-05-02T10:00:00Z');
    await expectError(h.ledger.view('other', A), 'ACCOUNT_NOT_FOUND', 'not_found');
    await expectError(h.ledger.transaction('other', 'tx1'), 'TRANSACTION_NOT_FOUND', 'not_found');
    await expectError(h.ledger.settle('other', 'tx1', { settledAt: '2024-05-03T00:00:00Z' }), 'TRANSACTION_NOT_FOUND');
  });
});

describe('purchases and settlement (Algorithm 1)', () => {
  it('records PENDING, then rewards at settlement: r0 = r = rhe(amount × bps), REWARD entry with cause and program', async () => {
    const h = await open('cashback-default');
    const pending = await h.ledger.recordPurchase(T, A, { transactionId: 'tx1', amount: 12345, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00+02:00' });
    expect(pending).toMatchObject({ status: 'PENDING', settledAt: null, reward: 0, originalReward: 0, occurredAt: '2024-05-02T08:00:00.000Z' });
    const settled = await h.ledger.settle(T, 'tx1', { settledAt: '2024-05-03T00:00:00Z' });
    // 12345 × 5% = 617.25 → 617
    expect(settled).toMatchObject({ status: 'SETTLED', reward: 617, originalReward: 617, rewardPeriod: '2024-05-01T00:00:00.000Z', rewardBase: 12345 });
    const [entry] = await entriesSumToBalance(h);
    expect(entry).toEqual({
      seq: 1,
      accountId: A,
      transactionId: 'tx1',
      type: 'REWARD',
      amount: 617,
      balanceAfter: 617,
      cause: { kind: 'settlement', id: 'tx1' },
      programRef: 'cashback-default@1.0.0',
      at: '2024-05-03T00:00:00.000Z',
    });
    expect(await h.ledger.transaction(T, 'tx1')).toEqual({
      transactionId: 'tx1',
      accountId: A,
      status: 'SETTLED',
      amount: 12345,
      refunded: 0,
      reward: 617,
      originalReward: 617,
      category: 'GROCERY',
      occurredAt: '2024-05-02T08:00:00.000Z',
      settledAt: '2024-05-03T00:00:00.000Z',
      rewardedAt: '2024-05-03T00:00:00.000Z',
      rewardPeriod: '2024-05-01T00:00:00.000Z',
    });
  });

  it('uses the default rate for other categories and rounds half-even', async () => {
    const h = await open('cashback-default');
    expect((await buy(h, 'a', 250, '2024-05-02T10:00:00Z', 'GAS')).reward).toBe(2); // 2.5 → 2
    expect((await buy(h, 'b', 350, '2024-05-02T10:00:00Z', 'GAS')).reward).toBe(4); // 3.5 → 4
    expect((await buy(h, 'c', 50, '2024-05-02T10:00:00Z', 'GROCERY')).reward).toBe(2); // 2.5 → 2
  });

  it('caps the reward at the headroom left in the period, then resets next period', async () => {
    const h = await open('cashback-default');
    expect((await buy(h, 'a', 80000, '2024-05-02T10:00:00Z')).reward).toBe(4000);
    const capped = await buy(h, 'b', 40000, '2024-05-03T10:00:00Z');
    expect(capped).toMatchObject({ reward: 1000, originalReward: 1000 });
    const none = await buy(h, 'c', 40000, '2024-05-04T10:00:00Z');
    expect(none).toMatchObject({ reward: 0, originalReward: 0, rewardedAt: '2024-05-04T10:00:00.000Z' });
    expect((await buy(h, 'd', 40000, '2024-06-01T00:00:00Z')).reward).toBe(2000);
    const view = await h.ledger.view(T, A);
    expect(view.capUsage).toEqual({ '2024-05-01T00:00:00.000Z': 5000, '2024-06-01T00:00:00.000Z': 2000 });
    expect((await entriesSumToBalance(h)).map((e) => e.amount)).toEqual([4000, 1000, 2000]); // no entry for a 0 reward
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('the period is that of settledAt (anchor day), not of the purchase', async () => {
    const h = await open('cashback-default', [], 15);
    const tx = await buy(h, 'a', 1000, '2024-05-14T23:00:00Z', 'GROCERY', '2024-05-15T01:00:00Z');
    expect(tx.rewardPeriod).toBe('2024-05-15T00:00:00.000Z');
  });

  it('statement programs settle without rewarding', async () => {
    const h = await open('issuer-d');
    expect(await buy(h, 'a', 10000, '2024-05-02T10:00:00Z')).toMatchObject({ status: 'SETTLED', reward: 0, rewardedAt: null });
    expect((await h.ledger.view(T, A)).balance).toBe(0);
  });

  it('is idempotent on the same data and refuses other data', async () => {
    const h = await open('cashback-default');
    const input = { transactionId: 'tx1', amount: 1000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' };
    const first = await h.ledger.recordPurchase(T, A, input);
    expect(await h.ledger.recordPurchase(T, A, { ...input, occurredAt: '2024-05-02T12:00:00+02:00' })).toEqual(first);
    await expectError(h.ledger.recordPurchase(T, A, { ...input, amount: 1001 }), 'TRANSACTION_EXISTS', 'conflict');
    await h.ledger.openAccount(T, 'acc-2', { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 });
    await expectError(h.ledger.recordPurchase(T, 'acc-2', input), 'TRANSACTION_EXISTS', 'conflict');

    const settled = await h.ledger.settle(T, 'tx1', { settledAt: '2024-05-03T00:00:00Z' });
    expect(await h.ledger.settle(T, 'tx1', { settledAt: '2024-05-03T00:00:00.000Z' })).toEqual(settled);
    await expectError(h.ledger.settle(T, 'tx1', { settledAt: '2024-05-04T00:00:00Z' }), 'TRANSACTION_ALREADY_SETTLED', 'conflict');
    expect((await entriesSumToBalance(h)).length).toBe(1);
  });

  it('refuses settling before the purchase, unknown transactions and accounts, and bad input', async () => {
    const h = await open('cashback-default');
    await h.ledger.recordPurchase(T, A, { transactionId: 'tx1', amount: 1000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' });
    await expectError(h.ledger.settle(T, 'tx1', { settledAt: '2024-05-01T00:00:00Z' }), 'SETTLEMENT_BEFORE_PURCHASE', 'unprocessable');
    await expectError(h.ledger.settle(T, 'nope', { settledAt: '2024-05-03T00:00:00Z' }), 'TRANSACTION_NOT_FOUND', 'not_found');
    await expectError(h.ledger.recordPurchase(T, 'nope', { transactionId: 'x', amount: 1, category: 'GAS', occurredAt: '2024-05-02T10:00:00Z' }), 'ACCOUNT_NOT_FOUND', 'not_found');
    for (const amount of [0, -5, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
      const e = await expectError(h.ledger.recordPurchase(T, A, { transactionId: 'x', amount, category: 'GAS', occurredAt: '2024-05-02T10:00:00Z' }), 'VALIDATION_FAILED', 'invalid');
      expect(e.errors).toEqual([{ path: '/amount', message: expect.any(String) }]);
    }
    const e = await expectError(h.ledger.recordPurchase(T, A, { transactionId: '', amount: 1, category: '', occurredAt: '2024-02-30T00:00:00Z' }), 'VALIDATION_FAILED');
    expect(e.errors.map((d) => d.path)).toEqual(['/transactionId', '/category', '/occurredAt']);
    await expectError(h.ledger.settle(T, 'tx1', { settledAt: 'tomorrow' }), 'VALIDATION_FAILED', 'invalid');
  });
});

describe('refunds and chargebacks (Algorithm 2)', () => {
  it('reproduces Table 4: settle $100 @5% → r0 500; refund $50 → 250, PART_REF; refund $50 → 250, REFUNDED', async () => {
    const h = await open('cashback-default');
    expect(await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z')).toMatchObject({ originalReward: 500, reward: 500, status: 'SETTLED' });
    const first = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 5000, at: '2024-05-05T10:00:00Z' });
    expect(first.transaction).toMatchObject({ originalReward: 500, reward: 250, status: 'PART_REF', refunded: 5000, partialRefunds: 1 });
    expect(first.adjustment).toMatchObject({ clawback: 250, processedAt: '2024-05-05T10:00:00.000Z', entrySeq: 2 });
    expect(first.entry).toMatchObject({ type: 'CLAWBACK', amount: -250, balanceAfter: 250, cause: { kind: 'refund', id: 'r1' }, transactionId: 'tx' });
    const second = await h.ledger.refund(T, 'tx', { refundId: 'r2', amount: 5000, at: '2024-05-06T10:00:00Z' });
    expect(second.transaction).toMatchObject({ originalReward: 500, reward: 0, status: 'REFUNDED', refunded: 10000 });
    expect(second.adjustment.clawback).toBe(250);
    await entriesSumToBalance(h);
    expect((await h.ledger.view(T, A)).balance).toBe(0);
  });

  it('claws back from the immutable r0, not the reduced r (the paper’s $40 + $40 example), and the rest on completion', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    expect((await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 4000, at: '2024-05-05T00:00:00Z' })).adjustment.clawback).toBe(200);
    expect((await h.ledger.refund(T, 'tx', { refundId: 'r2', amount: 4000, at: '2024-05-06T00:00:00Z' })).adjustment.clawback).toBe(200);
    const last = await h.ledger.refund(T, 'tx', { refundId: 'r3', amount: 2000, at: '2024-05-07T00:00:00Z' });
    expect(last.adjustment.clawback).toBe(100);
    expect(last.transaction).toMatchObject({ reward: 0, status: 'REFUNDED' });
  });

  it('rounds each proportional clawback half-even; the full refund takes exactly what is left', async () => {
    const h = await open('cashback-default');
    // 333 × 5% = 16.65 → 17
    expect((await buy(h, 'tx', 333, '2024-05-02T10:00:00Z')).originalReward).toBe(17);
    // 111 × 17 / 333 = 5.67 → 6 each time
    for (const id of ['r1', 'r2']) expect((await h.ledger.refund(T, 'tx', { refundId: id, amount: 111, at: '2024-05-05T00:00:00Z' })).adjustment.clawback).toBe(6);
    const view = await h.ledger.view(T, A);
    expect(view.integrity).toMatchObject({ rewardIntegrity: true, roundingTolerance: 2 });
    const last = await h.ledger.refund(T, 'tx', { refundId: 'r3', amount: 111, at: '2024-05-05T00:00:00Z' });
    expect(last.adjustment.clawback).toBe(5);
    expect(last.transaction.reward).toBe(0);
  });

  it('restores cap headroom only for refunds in the reward’s own period', async () => {
    const h = await open('cashback-default');
    expect((await buy(h, 'big', 100000, '2024-05-02T10:00:00Z')).reward).toBe(5000); // cap reached
    await h.ledger.refund(T, 'big', { refundId: 'r1', amount: 50000, at: '2024-05-10T00:00:00Z' }); // same period: −2500
    expect((await h.ledger.view(T, A)).capUsage['2024-05-01T00:00:00.000Z']).toBe(2500);
    expect((await buy(h, 'again', 50000, '2024-05-11T10:00:00Z')).reward).toBe(2500);

    await h.ledger.refund(T, 'again', { refundId: 'r2', amount: 50000, at: '2024-06-02T00:00:00Z' }); // later period
    const view = await h.ledger.view(T, A);
    expect(view.capUsage).toEqual({ '2024-05-01T00:00:00.000Z': 5000 }); // May stays consumed, June untouched
    expect((await h.ledger.transaction(T, 'again')).reward).toBe(0);
    expect(view.integrity.rewardIntegrity).toBe(true);
  });

  it('drives the balance negative after a redemption; the debt is repaid by later rewards', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    expect((await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 500, at: '2024-05-03T00:00:00Z' })).allowed).toBe(true);
    await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 10000, at: '2024-06-05T00:00:00Z' });
    let view = await h.ledger.view(T, A);
    expect(view).toMatchObject({ balance: -500, redeemed: 500, netReward: 0, netSpend: 0, rewardBound: 0 });
    expect(view.integrity.rewardIntegrity).toBe(true);
    await buy(h, 'tx2', 6000, '2024-06-06T10:00:00Z');
    view = await h.ledger.view(T, A);
    expect(view.balance).toBe(-200);
    await entriesSumToBalance(h);
  });

  it('with negativeBalances false the clawback floors at 0 and the debt is lost (V3(a))', async () => {
    const floored = variant('cashback-default', '9.0.0', { negativeBalances: false });
    const h = await open('cashback-default@9.0.0', [floored]);
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    await buy(h, 'tx2', 2000, '2024-05-02T11:00:00Z'); // +100
    await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 500, at: '2024-05-03T00:00:00Z' });
    const { adjustment, entry, transaction } = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 10000, at: '2024-05-04T00:00:00Z' });
    expect(transaction.reward).toBe(0);
    expect(adjustment.clawback).toBe(500); // r drops by the whole clawback…
    expect(entry).toMatchObject({ amount: -100, balanceAfter: 0 }); // …but only 100 could be debited
    const view = await h.ledger.view(T, A);
    expect(view).toMatchObject({ balance: 0, redeemed: 500, netReward: 500, rewardBound: 100 });
    expect(view.integrity.rewardIntegrity).toBe(false);
    expect(view.integrity.violations).toEqual([expect.objectContaining({ code: 'DEBT_DISCARDED', transactionId: null, excess: 400 })]);
    await entriesSumToBalance(h);
  });

  it('clawback none records the refund and never touches the reward (V1)', async () => {
    const h = await open('issuer-a');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const { adjustment, entry, transaction } = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 10000, at: '2024-05-04T00:00:00Z' });
    expect(adjustment).toMatchObject({ clawback: 0, processedAt: '2024-05-04T00:00:00.000Z', entrySeq: null });
    expect(entry).toBeNull();
    expect(transaction).toMatchObject({ status: 'REFUNDED', reward: 500 });
    const view = await h.ledger.view(T, A);
    expect(view.integrity.violations).toEqual([expect.objectContaining({ code: 'REWARD_EXCEEDS_SHARE', transactionId: 'tx', reward: 500, share: 0, excess: 500 })]);
  });

  it('crossPeriodClawback false: same-period refunds claw back, later-period ones do not (V2)', async () => {
    const scoped = variant('cashback-default', '9.0.0', { crossPeriodClawback: false });
    const h = await open('cashback-default@9.0.0', [scoped]);
    await buy(h, 'tx', 10000, '2024-05-30T10:00:00Z');
    expect((await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 5000, at: '2024-05-31T00:00:00Z' })).adjustment.clawback).toBe(250);
    const late = await h.ledger.refund(T, 'tx', { refundId: 'r2', amount: 5000, at: '2024-06-01T00:00:00Z' });
    expect(late.adjustment).toMatchObject({ clawback: 0, processedAt: '2024-06-01T00:00:00.000Z' });
    expect(late.transaction.reward).toBe(250);
    expect((await h.ledger.view(T, A)).integrity.rewardIntegrity).toBe(false);
  });

  it('a chargeback adjusts like a refund and leaves the transaction CHARGEBACK', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const cb = await h.ledger.chargeback(T, 'tx', { chargebackId: 'cb1', amount: 4000, at: '2024-05-20T00:00:00Z' });
    expect(cb.transaction).toMatchObject({ status: 'CHARGEBACK', refunded: 4000, reward: 300 });
    expect(cb.entry).toMatchObject({ amount: -200, cause: { kind: 'chargeback', id: 'cb1' } });
    const rest = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 6000, at: '2024-05-21T00:00:00Z' });
    expect(rest.transaction).toMatchObject({ status: 'CHARGEBACK', refunded: 10000, reward: 0 });
  });

  it('refuses refunds of pending transactions, beyond the open amount, and before the purchase', async () => {
    const h = await open('cashback-default');
    await h.ledger.recordPurchase(T, A, { transactionId: 'p', amount: 1000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' });
    await expectError(h.ledger.refund(T, 'p', { refundId: 'r0', amount: 100, at: '2024-05-03T00:00:00Z' }), 'TRANSACTION_NOT_SETTLED', 'unprocessable');
    await buy(h, 'tx', 1000, '2024-05-02T10:00:00Z');
    await expectError(h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 1001, at: '2024-05-03T00:00:00Z' }), 'REFUND_EXCEEDS_TRANSACTION', 'unprocessable');
    await h.ledger.refund(T, 'tx', { refundId: 'r2', amount: 600, at: '2024-05-03T00:00:00Z' });
    await expectError(h.ledger.refund(T, 'tx', { refundId: 'r3', amount: 401, at: '2024-05-03T00:00:00Z' }), 'REFUND_EXCEEDS_TRANSACTION');
    await expectError(h.ledger.chargeback(T, 'tx', { chargebackId: 'c1', amount: 401, at: '2024-05-03T00:00:00Z' }), 'REFUND_EXCEEDS_TRANSACTION');
    await expectError(h.ledger.refund(T, 'tx', { refundId: 'r4', amount: 1, at: '2024-05-01T00:00:00Z' }), 'ADJUSTMENT_BEFORE_PURCHASE', 'unprocessable');
    await expectError(h.ledger.refund(T, 'nope', { refundId: 'r5', amount: 1, at: '2024-05-03T00:00:00Z' }), 'TRANSACTION_NOT_FOUND', 'not_found');
    const e = await expectError(h.ledger.chargeback(T, 'tx', { chargebackId: '', amount: 0, at: 'x' }), 'VALIDATION_FAILED', 'invalid');
    expect(e.errors.map((d) => d.path)).toEqual(['/chargebackId', '/amount', '/at']);
  });

  it('returns the stored result for a repeated refundId with the same data; ADJUSTMENT_EXISTS otherwise', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    await buy(h, 'tx2', 10000, '2024-05-02T10:00:00Z');
    const first = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 5000, at: '2024-05-05T10:00:00Z' });
    const again = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 5000, at: '2024-05-05T12:00:00+02:00' });
    expect(again).toEqual(first);
    await expectError(h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 4000, at: '2024-05-05T10:00:00Z' }), 'ADJUSTMENT_EXISTS', 'conflict');
    await expectError(h.ledger.chargeback(T, 'tx', { chargebackId: 'r1', amount: 5000, at: '2024-05-05T10:00:00Z' }), 'ADJUSTMENT_EXISTS');
    await expectError(h.ledger.refund(T, 'tx2', { refundId: 'r1', amount: 5000, at: '2024-05-05T10:00:00Z' }), 'ADJUSTMENT_EXISTS');
    expect((await h.ledger.transaction(T, 'tx')).refunded).toBe(5000);
    expect((await entriesSumToBalance(h)).length).toBe(3);
  });

  it('clawback statement: the refund waits for the next close, which claws it back (issuer-f)', async () => {
    const h = await open('issuer-f');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z'); // 3% → 300, instant
    const r = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 4000, at: '2024-05-10T00:00:00Z' });
    expect(r.entry).toBeNull();
    expect(r.adjustment).toMatchObject({ clawback: null, processedAt: null });
    expect(r.transaction).toMatchObject({ reward: 300, refunded: 4000, status: 'PART_REF' });
    expect((await h.ledger.view(T, A)).unprocessedAdjustments).toBe(1);

    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(close.clawbacks).toEqual([
      expect.objectContaining({ adjustmentId: 'r1', clawback: 120, debited: 120, scope: 'same-period', entry: expect.objectContaining({ amount: -120, at: '2024-06-01T00:00:00.000Z', cause: { kind: 'refund', id: 'r1' } }) }),
    ]);
    expect((await h.ledger.transaction(T, 'tx')).reward).toBe(180);
    const view = await h.ledger.view(T, A);
    expect(view.unprocessedAdjustments).toBe(0);
    expect(view.capUsage['2024-05-01T00:00:00.000Z']).toBe(180); // same-period: headroom restored
    const replay = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 4000, at: '2024-05-10T00:00:00Z' });
    expect(replay.adjustment.clawback).toBe(120);
    expect(replay.entry).toEqual(close.clawbacks[0]!.entry);
  });
});

describe('redemptions (Algorithm 3)', () => {
  it('debits the balance when the gate allows, and records the gate decision', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const out = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 300, at: '2024-05-03T00:00:00Z' });
    expect(out).toMatchObject({ allowed: true, reasons: [], replayed: false, account: { balance: 200, redeemed: 300 } });
    expect(out.gate).toEqual({
      ref: 'redemption-gate@1.0.0',
      input: { balance: 500, amount: 300, minBalanceAfterRedemption: 0, atMs: Date.parse('2024-05-03T00:00:00Z'), holdUntilMs: null },
      output: { allow: true, reasons: [] },
    });
    expect(out.entry).toMatchObject({ type: 'REDEMPTION', amount: -300, balanceAfter: 200, cause: { kind: 'redemption', id: 'red1' }, transactionId: null });
    const replay = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 300, at: '2024-05-03T00:00:00Z' });
    expect(replay).toMatchObject({ allowed: true, replayed: true, entry: out.entry, account: { balance: 200 } });
    await expectError(h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 200, at: '2024-05-03T00:00:00Z' }), 'REDEMPTION_EXISTS', 'conflict');
    await entriesSumToBalance(h);
  });

  it('keeps the decision id its caller gives with an allowed redemption and names it on a replay; a refusal keeps nothing', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const refused = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 501, at: '2024-05-03T00:00:00Z' }, { decisionId: () => 'd-refused' });
    expect(refused.allowed).toBe(false);
    const out = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 300, at: '2024-05-03T00:00:00Z' }, { decisionId: () => 'd-first' });
    expect(out.decisionId).toBeUndefined();
    const replay = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 300, at: '2024-05-03T00:00:00Z' }, { decisionId: () => 'd-second' });
    expect(replay).toMatchObject({ replayed: true, decisionId: 'd-first' });
    // Without one (a simulation), a replay names none.
    await h.ledger.redeem(T, A, { redemptionId: 'red2', amount: 100, at: '2024-05-03T00:00:00Z' });
    expect((await h.ledger.redeem(T, A, { redemptionId: 'red2', amount: 100, at: '2024-05-03T00:00:00Z' })).decisionId).toBeUndefined();
  });

  it('refuses below the minimum balance without changing anything', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const before = await h.ledger.view(T, A);
    const out = await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 501, at: '2024-05-03T00:00:00Z' });
    expect(out).toMatchObject({ allowed: false, entry: null, account: { balance: 500, redeemed: 0 } });
    expect(await h.ledger.view(T, A)).toEqual(before);
    expect(out.reasons.map((r) => r.code)).toEqual(['INSUFFICIENT_REWARD_BALANCE']);
    expect((await h.ledger.redeem(T, A, { redemptionId: 'red1', amount: 500, at: '2024-05-03T00:00:00Z' })).allowed).toBe(true); // a refusal does not burn the id
  });

  it('refuses during the grace hold after a close, and lists both reasons when both guards fail', async () => {
    const h = await open('issuer-d'); // graceDays 7
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(close.holdUntil).toBe('2024-06-08T00:00:00.000Z');
    const held = await h.ledger.redeem(T, A, { redemptionId: 'a', amount: 400, at: '2024-06-07T23:59:59.999Z' });
    expect(held.reasons.map((r) => r.code)).toEqual(['REDEMPTION_HOLD_ACTIVE']);
    const both = await h.ledger.redeem(T, A, { redemptionId: 'b', amount: 401, at: '2024-06-02T00:00:00Z' });
    expect(both.reasons.map((r) => r.code)).toEqual(['REDEMPTION_HOLD_ACTIVE', 'INSUFFICIENT_REWARD_BALANCE']);
    expect((await h.ledger.redeem(T, A, { redemptionId: 'c', amount: 400, at: '2024-06-08T00:00:00Z' })).allowed).toBe(true);
  });

  it('ACCOUNT_NOT_FOUND and VALIDATION_FAILED', async () => {
    const h = await open('cashback-default');
    await expectError(h.ledger.redeem(T, 'nope', { redemptionId: 'r', amount: 1, at: '2024-05-03T00:00:00Z' }), 'ACCOUNT_NOT_FOUND', 'not_found');
    const e = await expectError(h.ledger.redeem(T, A, { redemptionId: 'r', amount: -1, at: '2024-05-03' }), 'VALIDATION_FAILED', 'invalid');
    expect(e.errors.map((d) => d.path)).toEqual(['/amount', '/at']);
  });
});

describe('statement close (Algorithm 4)', () => {
  it('phase 1 folds same-period refunds into the eligible amount; later refunds claw back proportionally to it', async () => {
    const h = await open('issuer-d'); // GROCERY 4%
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    const early = await h.ledger.refund(T, 'tx', { refundId: 'r1', amount: 3000, at: '2024-05-20T00:00:00Z' });
    expect(early).toMatchObject({ entry: null, adjustment: { clawback: null }, transaction: { status: 'PART_REF', reward: 0 } });

    const may = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(may.period).toEqual({ start: '2024-05-01T00:00:00.000Z', end: '2024-06-01T00:00:00.000Z' });
    expect(may.refundsFolded).toEqual([{ adjustmentId: 'r1', kind: 'refund', transactionId: 'tx', amount: 3000 }]);
    expect(may.clawbacks).toEqual([]);
    expect(may.rewards).toEqual([
      expect.objectContaining({ transactionId: 'tx', eligibleAmount: 7000, uncapped: 280, reward: 280, period: '2024-05-01T00:00:00.000Z', entry: expect.objectContaining({ type: 'REWARD', amount: 280, cause: { kind: 'statement', id: '2024-06-01T00:00:00.000Z' } }) }),
    ]);
    expect(await h.ledger.transaction(T, 'tx')).toMatchObject({ originalReward: 280, reward: 280, status: 'PART_REF' });

    await h.ledger.refund(T, 'tx', { refundId: 'r2', amount: 3500, at: '2024-06-10T00:00:00Z' });
    expect((await h.ledger.view(T, A)).integrity.rewardIntegrity).toBe(false); // until the close reconciles it
    const june = await h.ledger.closeStatement(T, A, { periodEnd: '2024-07-01T00:00:00Z' });
    expect(june.clawbacks).toEqual([expect.objectContaining({ adjustmentId: 'r2', clawback: 140, scope: 'later-period' })]); // 3500 × 280 / 7000
    const tx = await h.ledger.transaction(T, 'tx');
    expect(tx).toMatchObject({ reward: 140, refunded: 6500 });
    const view = await h.ledger.view(T, A);
    expect(view.integrity.rewardIntegrity).toBe(true);
    expect(view.capUsage['2024-05-01T00:00:00.000Z']).toBe(280); // cross-period: no restoration
    await entriesSumToBalance(h);
  });

  it('phase 3 rewards pending purchases of the period (settled at the period end), not later ones', async () => {
    const h = await open('issuer-e'); // DINING 5%, default 1.5%
    await h.ledger.recordPurchase(T, A, { transactionId: 'pending', amount: 10000, category: 'DINING', occurredAt: '2024-05-20T10:00:00Z' });
    await buy(h, 'settled', 10000, '2024-05-21T10:00:00Z', 'GAS');
    await buy(h, 'refunded', 10000, '2024-05-21T10:00:00Z', 'DINING');
    await h.ledger.refund(T, 'refunded', { refundId: 'r', amount: 10000, at: '2024-05-25T00:00:00Z' });
    await buy(h, 'june', 10000, '2024-06-01T00:00:00Z', 'DINING');
    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(close.rewards.map((r) => [r.transactionId, r.eligibleAmount, r.reward])).toEqual([
      ['pending', 10000, 500],
      ['refunded', 0, 0], // same time as 'settled': ties go by id
      ['settled', 10000, 150],
    ]);
    expect(close.holdUntil).toBe('2024-06-15T00:00:00.000Z'); // 14 grace days
    expect(await h.ledger.transaction(T, 'pending')).toMatchObject({ status: 'SETTLED', settledAt: '2024-06-01T00:00:00.000Z', rewardPeriod: '2024-05-01T00:00:00.000Z' });
    expect(await h.ledger.transaction(T, 'refunded')).toMatchObject({ status: 'REFUNDED', reward: 0, rewardedAt: '2024-06-01T00:00:00.000Z' });
    expect(await h.ledger.transaction(T, 'june')).toMatchObject({ reward: 0, rewardedAt: null });
    expect(await h.ledger.view(T, A)).toMatchObject({ balance: 650, closedPeriods: ['2024-05-01T00:00:00.000Z'] });
  });

  it('a skipped close is caught up: earlier periods are rewarded against their own cap', async () => {
    const h = await open('issuer-d'); // cap 8000
    await buy(h, 'may', 300000, '2024-05-02T10:00:00Z'); // 12000 uncapped
    await buy(h, 'june', 100000, '2024-06-02T10:00:00Z'); // 4000
    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-07-01T00:00:00Z' });
    expect(close.rewards.map((r) => [r.transactionId, r.period, r.uncapped, r.reward])).toEqual([
      ['may', '2024-05-01T00:00:00.000Z', 12000, 8000],
      ['june', '2024-06-01T00:00:00.000Z', 4000, 4000],
    ]);
    expect((await h.ledger.view(T, A)).integrity.rewardIntegrity).toBe(true);
  });

  it('auto-redeems a positive balance at close (issuer-b) and counts it as redeemed', async () => {
    const h = await open('issuer-b');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z'); // 3%
    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(close.autoRedemption).toMatchObject({ type: 'AUTO_REDEMPTION', amount: -300, balanceAfter: 0, cause: { kind: 'statement', id: '2024-06-01T00:00:00.000Z' } });
    expect(close.entries.map((e) => e.type)).toEqual(['REWARD', 'AUTO_REDEMPTION']);
    expect(await h.ledger.view(T, A)).toMatchObject({ balance: 0, redeemed: 300, netReward: 300 });
  });

  it('for instant programs with immediate clawback a close only sets the hold', async () => {
    const h = await open('cashback-default');
    await buy(h, 'tx', 10000, '2024-05-02T10:00:00Z');
    await h.ledger.recordPurchase(T, A, { transactionId: 'p', amount: 1000, category: 'GAS', occurredAt: '2024-05-30T10:00:00Z' });
    const close = await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' });
    expect(close).toMatchObject({ refundsFolded: [], clawbacks: [], rewards: [], entries: [], autoRedemption: null, holdUntil: '2024-06-01T00:00:00.000Z' });
    expect((await h.ledger.transaction(T, 'p')).status).toBe('PENDING');
  });

  it('refuses closing twice (409), out of order (409), or off a boundary (422)', async () => {
    const h = await open('issuer-d', [], 15);
    await expectError(h.ledger.closeStatement(T, A, { periodEnd: '2024-06-01T00:00:00Z' }), 'PERIOD_END_NOT_A_BOUNDARY', 'unprocessable');
    await expectError(h.ledger.closeStatement(T, A, { periodEnd: '2024-06-15T00:00:01Z' }), 'PERIOD_END_NOT_A_BOUNDARY');
    await h.ledger.closeStatement(T, A, { periodEnd: '2024-06-15T00:00:00Z' });
    await expectError(h.ledger.closeStatement(T, A, { periodEnd: '2024-06-15T00:00:00Z' }), 'STATEMENT_ALREADY_CLOSED', 'conflict');
    await expectError(h.ledger.closeStatement(T, A, { periodEnd: '2024-05-15T00:00:00Z' }), 'STATEMENT_OUT_OF_ORDER', 'conflict');
    await expectError(h.ledger.closeStatement(T, 'nope', { periodEnd: '2024-06-15T00:00:00Z' }), 'ACCOUNT_NOT_FOUND', 'not_found');
    await expectError(h.ledger.closeStatement(T, A, { periodEnd: 'June' }), 'VALIDATION_FAILED', 'invalid');
    expect((await h.ledger.view(T, A)).closedPeriods).toEqual(['2024-05-15T00:00:00.000Z']);
  });

  it('refuses a close whose grace hold would end after year 9999 (422 naming periodEnd), and closes nothing', async () => {
    const h = await open('issuer-d', [], 28); // grace 7 days
    const e = await expectError(h.ledger.closeStatement(T, A, { periodEnd: '9999-12-28T00:00:00Z' }), 'HOLD_OUT_OF_RANGE', 'unprocessable');
    expect(e.errors[0]?.path).toBe('/periodEnd');
    expect((await h.ledger.view(T, A)).closedPeriods).toEqual([]);
    // The period before it: its hold ends 9999-12-05.
    expect((await h.ledger.closeStatement(T, A, { periodEnd: '9999-11-28T00:00:00Z' })).holdUntil).toBe('9999-12-05T00:00:00.000Z');
  });
});
