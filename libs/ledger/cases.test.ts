/** The seed paper's case studies (section 5) as event scripts through simulateLedger, per issuer program and the default one. */
import { DomainError } from '../errors/index.js';
import { gate, program, type ProgramName } from './ledger.test-support.js';
import { simulateLedger, validateLedgerEvents, type LedgerEvent, type SimulationResult } from './simulate.js';

const run = async (name: ProgramName, events: LedgerEvent[], options = {}) => simulateLedger(program(name), events, await gate(), options);
const integrityTrail = (r: SimulationResult) => r.steps.map((s) => s.after.rewardIntegrity);
const failures = (r: SimulationResult) => r.steps.filter((s) => !s.ok).map((s) => [s.index, s.error?.code]);

/** Case I: earn, redeem, then return the goods in the next period. */
const caseI: LedgerEvent[] = [
  { op: 'purchase', transactionId: 'tx1', amount: 10000, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' },
  { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-11T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red1', amount: 500, at: '2024-05-12T10:00:00Z' },
  { op: 'refund', transactionId: 'tx1', refundId: 'ref1', amount: 10000, at: '2024-06-05T10:00:00Z' },
];

/** Case II: rewards computed (and auto-redeemed) at close; the return lands in the next period. */
const caseII: LedgerEvent[] = [
  { op: 'purchase', transactionId: 'tx1', amount: 10000, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' },
  { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-11T10:00:00Z' },
  { op: 'close', periodEnd: '2024-06-01T00:00:00Z' },
  { op: 'refund', transactionId: 'tx1', refundId: 'ref1', amount: 10000, at: '2024-06-10T10:00:00Z' },
  { op: 'close', periodEnd: '2024-07-01T00:00:00Z' },
];

/** Case II with a manual redemption once the grace hold is over, before the return. */
const caseIIRedeem = (amount: number): LedgerEvent[] => [
  ...caseII.slice(0, 3),
  { op: 'redeem', redemptionId: 'red1', amount, at: '2024-06-16T00:00:00Z' },
  { op: 'refund', transactionId: 'tx1', refundId: 'ref1', amount: 10000, at: '2024-06-20T10:00:00Z' },
  caseII[4]!,
];

/** Case III-A: refund after redemption → debt, repaid by later purchases before anything is redeemable. */
const caseIIIA: LedgerEvent[] = [
  { op: 'purchase', transactionId: 'tx1', amount: 10000, category: 'DINING', occurredAt: '2024-05-10T10:00:00Z' },
  { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-11T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red1', amount: 300, at: '2024-05-12T10:00:00Z' },
  { op: 'refund', transactionId: 'tx1', refundId: 'ref1', amount: 10000, at: '2024-06-05T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red2', amount: 1, at: '2024-06-06T10:00:00Z' },
  { op: 'purchase', transactionId: 'tx2', amount: 10000, category: 'DINING', occurredAt: '2024-06-10T10:00:00Z' },
  { op: 'settle', transactionId: 'tx2', settledAt: '2024-06-11T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red3', amount: 1, at: '2024-06-12T10:00:00Z' },
  { op: 'purchase', transactionId: 'tx3', amount: 5000, category: 'GROCERY', occurredAt: '2024-06-15T10:00:00Z' },
  { op: 'settle', transactionId: 'tx3', settledAt: '2024-06-16T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red4', amount: 150, at: '2024-06-17T10:00:00Z' },
];

/** Case III-B: instant reward, redeem, refund within the cycle; the clawback waits for the close. */
const caseIIIB: LedgerEvent[] = [
  { op: 'purchase', transactionId: 'tx1', amount: 10000, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' },
  { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-11T10:00:00Z' },
  { op: 'redeem', redemptionId: 'red1', amount: 300, at: '2024-05-12T10:00:00Z' },
  { op: 'refund', transactionId: 'tx1', refundId: 'ref1', amount: 10000, at: '2024-05-20T10:00:00Z' },
  { op: 'close', periodEnd: '2024-06-01T00:00:00Z' },
  { op: 'redeem', redemptionId: 'red2', amount: 100, at: '2024-06-02T10:00:00Z' },
];

describe('Case I: refund-insensitive rewards (V1)', () => {
  it('issuer-a keeps the redeemed reward after a full refund: Reward Integrity violated', async () => {
    const r = await run('issuer-a', caseI);
    expect(failures(r)).toEqual([]);
    expect(r.final).toMatchObject({ balance: 0, redeemed: 500, netSpend: 0, netReward: 500, rewardBound: 0 });
    expect(r.final.integrity.rewardIntegrity).toBe(false);
    expect(r.final.integrity.violations).toEqual([expect.objectContaining({ code: 'REWARD_EXCEEDS_SHARE', transactionId: 'tx1', reward: 500, share: 0, excess: 500 })]);
    expect(integrityTrail(r)).toEqual([true, true, true, false]);
  });

  it('cashback-default claws back across periods: negative balance, no gain, integrity at every step', async () => {
    const r = await run('cashback-default', caseI);
    expect(failures(r)).toEqual([]);
    expect(r.final).toMatchObject({ balance: -500, redeemed: 500, netSpend: 0, netReward: 0, rewardBound: 0 });
    expect(integrityTrail(r)).toEqual([true, true, true, true]);
    expect(r.entries.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['REWARD', 500, 500],
      ['REDEMPTION', -500, 0],
      ['CLAWBACK', -500, -500],
    ]);
  });
});

describe('Case II: statement-cycle timing gap (V2)', () => {
  it('issuer-b auto-redeems at close and never claws back the next period’s refund: violated', async () => {
    const r = await run('issuer-b', caseII);
    expect(failures(r)).toEqual([]);
    const [firstClose, secondClose] = [r.steps[2]!, r.steps[4]!];
    expect(firstClose.after).toMatchObject({ balance: 0, redeemed: 300 });
    expect(secondClose.result).toMatchObject({ clawbacks: [expect.objectContaining({ adjustmentId: 'ref1', clawback: 0, scope: 'later-period' })] });
    expect(r.final).toMatchObject({ balance: 0, redeemed: 300, netSpend: 0, netReward: 300 });
    expect(r.final.integrity.rewardIntegrity).toBe(false);
  });

  it.each(['issuer-d', 'issuer-e', 'cashback-default'] as const)('%s claws the refund back at the next close: integrity kept', async (name) => {
    const r = await run(name, caseII);
    expect(failures(r)).toEqual([]);
    expect(r.final).toMatchObject({ balance: 0, netSpend: 0, netReward: 0 });
    expect(r.final.integrity.rewardIntegrity).toBe(true);
    expect(r.final.unprocessedAdjustments).toBe(0);
  });

  it.each([
    ['issuer-d', 400],
    ['issuer-e', 150],
  ] as const)('%s: redeeming after the grace hold, then refunding, leaves a debt and keeps integrity', async (name, reward) => {
    const r = await run(name, caseIIRedeem(reward));
    expect(failures(r)).toEqual([]);
    expect(r.final).toMatchObject({ balance: -reward, redeemed: reward, netReward: 0 });
    expect(r.final.integrity.rewardIntegrity).toBe(true);
    // Between the refund and the next close the statement programs lag (the paper's bounded window).
    expect(integrityTrail(r)).toEqual([true, true, true, true, false, true]);
  });

  it('issuer-b: the same script finds nothing left to redeem (auto-redeemed) and still ends violated', async () => {
    const r = await run('issuer-b', caseIIRedeem(300));
    expect(failures(r)).toEqual([[3, 'INSUFFICIENT_REWARD_BALANCE']]);
    expect(r.final.integrity.rewardIntegrity).toBe(false);
  });

  it('the grace hold refuses a redemption right after close (issuer-d, 7 days)', async () => {
    const r = await run('issuer-d', [...caseII.slice(0, 3), { op: 'redeem', redemptionId: 'early', amount: 400, at: '2024-06-07T00:00:00Z' }]);
    expect(failures(r)).toEqual([[3, 'REDEMPTION_HOLD_ACTIVE']]);
  });
});

describe('Case III-A: indefinite negative balance (issuer-c)', () => {
  it('a refund after redemption leaves a debt that later rewards repay before anything is redeemable', async () => {
    const r = await run('issuer-c', caseIIIA);
    expect(failures(r)).toEqual([
      [4, 'INSUFFICIENT_REWARD_BALANCE'],
      [7, 'INSUFFICIENT_REWARD_BALANCE'],
    ]);
    expect(r.steps.map((s) => s.after.balance)).toEqual([0, 300, 0, -300, -300, -300, 0, 0, 0, 150, 0]);
    expect(r.steps[4]!.error!.reasons).toEqual([{ code: 'INSUFFICIENT_REWARD_BALANCE', message: expect.stringContaining('-300') }]);
    expect(integrityTrail(r).every(Boolean)).toBe(true);
    expect(r.final).toMatchObject({ balance: 0, redeemed: 450, netReward: 450, netSpend: 15000 });
  });

  it('cashback-default behaves the same way', async () => {
    const r = await run('cashback-default', caseIIIA);
    expect(integrityTrail(r).every(Boolean)).toBe(true);
    expect(r.steps[3]!.after.balance).toBe(-300); // 500 earned, 300 redeemed, 500 clawed back
  });
});

describe('Case III-B: instant rewards, clawback batched to statement close (issuer-f, V3(b))', () => {
  it('integrity is violated between the refund and the close, restored after it with a negative balance', async () => {
    const r = await run('issuer-f', caseIIIB);
    expect(failures(r)).toEqual([[5, 'INSUFFICIENT_REWARD_BALANCE']]);
    const refund = r.steps[3]!;
    expect(refund.result).toMatchObject({ entry: null, adjustment: { clawback: null } });
    expect(refund.after).toMatchObject({ balance: 0, redeemed: 300, netReward: 300, rewardBound: 0, rewardIntegrity: false, unprocessedAdjustments: 1 });
    const close = r.steps[4]!;
    expect(close.after).toMatchObject({ balance: -300, netReward: 0, rewardIntegrity: true, unprocessedAdjustments: 0 });
    expect(integrityTrail(r)).toEqual([true, true, true, false, true, true]);
    expect(r.final.balance).toBe(-300);
  });

  it('cashback-default keeps integrity at every step of the same script', async () => {
    const r = await run('cashback-default', caseIIIB);
    expect(integrityTrail(r).every(Boolean)).toBe(true);
    expect(r.final.balance).toBe(-300); // 500 earned, 300 redeemed, 500 clawed back at once
  });
});

describe('cashback-default keeps Reward Integrity in every case script', () => {
  it.each([
    ['I', caseI],
    ['II', caseII],
    ['II + redeem', caseIIRedeem(500)],
    ['III-A', caseIIIA],
    ['III-B', caseIIIB],
  ] as const)('case %s', async (_name, events) => {
    const r = await run('cashback-default', [...events]);
    expect(integrityTrail(r).every(Boolean)).toBe(true);
    expect(r.final.integrity.violations).toEqual([]);
  });
});

describe('simulateLedger', () => {
  it('records refusals on their step with code and event-relative paths, and keeps going', async () => {
    const r = await run('cashback-default', [
      { op: 'purchase', transactionId: 'tx1', amount: 1000, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' },
      { op: 'refund', transactionId: 'tx1', refundId: 'r1', amount: 100, at: '2024-05-11T10:00:00Z' },
      { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-31T25:00:00Z' },
      { op: 'close', periodEnd: '2024-06-02T00:00:00Z' },
      { op: 'settle', transactionId: 'tx1', settledAt: '2024-05-11T10:00:00Z' },
    ]);
    expect(failures(r)).toEqual([
      [1, 'TRANSACTION_NOT_SETTLED'],
      [2, 'VALIDATION_FAILED'],
      [3, 'PERIOD_END_NOT_A_BOUNDARY'],
    ]);
    expect(r.steps[2]!.error).toMatchObject({ kind: 'invalid', errors: [{ path: '/events/2/settledAt' }] });
    expect(r.steps[4]).toMatchObject({ ok: true, result: { status: 'SETTLED', reward: 50 } });
    expect(r.transactions).toEqual([expect.objectContaining({ transactionId: 'tx1', reward: 50 })]);
    expect(r.program).toBe('cashback-default@1.0.0');
  });

  it('takes the account’s anchor day and currency from options', async () => {
    const r = await run('cashback-default', [{ op: 'close', periodEnd: '2024-06-15T00:00:00Z' }], { account: { cycleAnchorDay: 15, currency: 'EUR' } });
    expect(r.account).toEqual({ accountId: 'simulated-account', currency: 'EUR', cycleAnchorDay: 15 });
    expect(r.final.closedPeriods).toEqual(['2024-05-15T00:00:00.000Z']);
    await expect(run('cashback-default', [], { account: { cycleAnchorDay: 31 } })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ path: '/account/cycleAnchorDay' }],
    });
  });

  it('validates the event list up front, naming each bad event', () => {
    const bad = [
      { op: 'purchase', transactionId: 'tx1', amount: 0, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' },
      { op: 'teleport' },
      { op: 'refund', transactionId: 'tx1', amount: 5, at: 'x' },
      { op: 'close', periodEnd: '2024-06-01T00:00:00Z', extra: true },
      'nope',
    ];
    let error: unknown;
    try {
      validateLedgerEvents(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).errors.map((d) => d.path)).toEqual(['/events/0/amount', '/events/1/op', '/events/2/refundId', '/events/3/extra', '/events/4']);
    expect(() => validateLedgerEvents({})).toThrow(DomainError);
    expect(validateLedgerEvents([])).toEqual([]);
  });
});

describe('a statement close run late decides like one run on time', () => {
  // A March purchase refunded on 5 April. On time, the March close runs before the refund arrives; late, after it.
  const purchase: LedgerEvent[] = [
    { op: 'purchase', transactionId: 'tv', amount: 100_000, category: 'GROCERY', occurredAt: '2026-03-10T10:00:00Z' },
    { op: 'settle', transactionId: 'tv', settledAt: '2026-03-11T10:00:00Z' },
  ];
  const refund: LedgerEvent = { op: 'refund', transactionId: 'tv', refundId: 'rf', amount: 100_000, at: '2026-04-05T10:00:00Z' };
  const closeMarch: LedgerEvent = { op: 'close', periodEnd: '2026-04-01T00:00:00Z' };
  const closeApril: LedgerEvent = { op: 'close', periodEnd: '2026-05-01T00:00:00Z' };

  it.each(['issuer-b', 'issuer-d', 'issuer-e'] as const)('%s', async (name) => {
    const onTime = await run(name, [...purchase, closeMarch, refund, closeApril]);
    const late = await run(name, [...purchase, refund, closeMarch, closeApril]);
    expect(failures(onTime)).toEqual([]);
    expect(failures(late)).toEqual([]);
    const view = (r: SimulationResult) => ({ balance: r.final.balance, redeemed: r.final.redeemed, rewardIntegrity: r.final.integrity.rewardIntegrity });
    expect(view(late)).toEqual(view(onTime));
    expect(late.transactions.map((t) => [t.originalReward, t.reward])).toEqual(onTime.transactions.map((t) => [t.originalReward, t.reward]));
  });
});
