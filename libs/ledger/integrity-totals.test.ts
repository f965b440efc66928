/** IntegrityTotals: integrity()'s figures as running sums, kept only while every sum is exact, and read back only in their own shape. */
import { figuresOf, parseIntegrityTotals, totalsOf, withChanges, type Contribution, type IntegrityTotals } from './integrity.js';
import { program } from './ledger.test-support.js';

const P = 'cashback-default@1.0.0';
const MAR = '2026-03-01T00:00:00.000Z';
const APR = '2026-04-01T00:00:00.000Z';
const c = (net: number, share: number, period: string, tolerance = 0): Contribution => ({ net, share, period, tolerance });
const empty: IntegrityTotals = { program: P, netSpend: 0, roundingTolerance: 0, shares: {} };

describe('IntegrityTotals', () => {
  it('moves by each change, before out and after in, and leaves the given totals as they were', () => {
    const one = withChanges(empty, [[null, c(10_000, 500, MAR)], [null, c(4_000, 200, APR, 1)]])!;
    expect(one).toEqual({ program: P, netSpend: 14_000, roundingTolerance: 1, shares: { [MAR]: 500, [APR]: 200 } });
    const two = withChanges(one, [[c(10_000, 500, MAR), c(6_000, 300, MAR, 1)]])!;
    expect(two).toEqual({ program: P, netSpend: 10_000, roundingTolerance: 2, shares: { [MAR]: 300, [APR]: 200 } });
    expect(withChanges(two, [[c(4_000, 200, APR, 1), null]])).toEqual({ program: P, netSpend: 6_000, roundingTolerance: 1, shares: { [MAR]: 300 } });
    expect(one.shares).toEqual({ [MAR]: 500, [APR]: 200 });
  });

  it('gives up (null) when a sum would leave the exact range, or a total would go below zero', () => {
    const big = Number.MAX_SAFE_INTEGER - 10;
    expect(withChanges(empty, [[null, c(big, 1, MAR)]])).not.toBeNull();
    expect(withChanges(empty, [[null, c(big, 1, MAR)], [null, c(11, 0, APR)]])).toBeNull();
    expect(withChanges(empty, [[null, c(1, big, MAR)], [null, c(1, 5, APR, 6)]])).toBeNull();
    expect(withChanges(empty, [[c(1, 1, MAR), null]])).toBeNull();
    // totalsOf likewise: past the range the verdict comes from integrity() itself.
    const tx = (id: string, amount: number) => ({
      tenant: 't', transactionId: id, accountId: 'a', amount, category: 'GROCERY', occurredAt: MAR, settledAt: MAR, status: 'SETTLED' as const,
      refunded: 0, reward: 0, originalReward: 0, rewardedAt: null, rewardPeriod: MAR, partialRefunds: 0, rewardBase: null,
    });
    expect(totalsOf(P, [tx('x', 1_000)], 1, program('cashback-default'))).toMatchObject({ netSpend: 1_000 });
    expect(totalsOf(P, [tx('x', Number.MAX_SAFE_INTEGER), tx('y', 1)], 1, program('cashback-default'))).toBeNull();
  });

  it("figures cap each period's shares, then add the tolerance", () => {
    const totals = { program: P, netSpend: 1, roundingTolerance: 2, shares: { [MAR]: 10_000_000, [APR]: 300 } };
    const cap = program('cashback-default').monthlyCap;
    expect(figuresOf(totals, { balance: 100, redeemed: 50 }, { monthlyCap: cap })).toEqual({
      netSpend: 1,
      netReward: 150,
      rewardBound: cap + 300 + 2,
      roundingTolerance: 2,
      rewardIntegrity: 150 <= cap + 302,
    });
  });

  it('reads back only its own shape: anything else is no totals', () => {
    const good = { program: P, netSpend: 5, roundingTolerance: 0, shares: { [MAR]: 1 } };
    expect(parseIntegrityTotals(good)).toEqual(good);
    for (const bad of [
      null,
      [],
      'x',
      { ...good, program: 1 },
      { ...good, netSpend: -1 },
      { ...good, netSpend: 1.5 },
      { ...good, netSpend: Number.MAX_SAFE_INTEGER + 1 },
      { ...good, roundingTolerance: '0' },
      { ...good, shares: [] },
      { ...good, shares: null },
      { ...good, shares: { [MAR]: -1 } },
      { program: P, netSpend: 5, shares: {} },
    ]) {
      expect(parseIntegrityTotals(bad)).toBeNull();
    }
  });
});
