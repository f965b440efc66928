/** SimulationLedgerStore answers the store contract as InMemoryLedgerStore does, from its indexes, and rolls back whole. */
import fc from 'fast-check';
import { InMemoryLedgerStore } from './memory-store.js';
import { SimulationLedgerStore } from './simulation-store.js';
import type { AdjustmentFilter, LedgerAccount, LedgerAdjustment, LedgerStore, LedgerTransaction, TransactionFilter } from './types.js';

const T = 'tenant';
const A = 'account';
const DAY = 86_400_000;
const iso = (day: number) => new Date(Date.UTC(2024, 0, 1) + day * DAY).toISOString();

const account: LedgerAccount = {
  tenant: T,
  accountId: A,
  programRef: 'p@1.0.0',
  currency: 'EUR',
  cycleAnchorDay: 1,
  balance: 0,
  redeemed: 0,
  holdUntil: null,
  closedPeriods: [],
  capUsage: {},
  version: 1,
};

/**
 * Saves of transactions and adjustments, as the ledger makes them: each id keeps its dates and its transaction, and
 * only moves forward (pending → settled → rewarded; unprocessed → processed).
 */
const units = fc.array(
  fc.record({
    transactions: fc.array(fc.record({ id: fc.integer({ min: 0, max: 7 }), stage: fc.integer({ min: 0, max: 2 }) }), { maxLength: 4 }),
    adjustments: fc.array(fc.record({ id: fc.integer({ min: 0, max: 11 }), processed: fc.boolean() }), { maxLength: 4 }),
  }),
  { minLength: 1, maxLength: 8 },
);
type Plan = { transactions: { id: number; stage: number }[]; adjustments: { id: number; processed: boolean }[] }[];

/** The records a plan saves, unit by unit, each id moving forward only. */
function records(plan: Plan): { transactions: LedgerTransaction[]; adjustments: LedgerAdjustment[] }[] {
  const stage = new Map<number, number>();
  const processed = new Set<number>();
  return plan.map((unit) => ({
    transactions: unit.transactions.map(({ id, stage: s }) => {
      stage.set(id, Math.max(stage.get(id) ?? 0, s));
      const occurred = (id * 13) % 90;
      const now = stage.get(id)!;
      return {
        tenant: T,
        transactionId: `t${id}`,
        accountId: A,
        amount: 1000,
        category: 'X',
        occurredAt: iso(occurred),
        settledAt: now >= 1 ? iso(occurred + ((id * 7) % 30)) : null,
        status: now >= 1 ? 'SETTLED' : 'PENDING',
        refunded: 0,
        reward: 0,
        originalReward: 0,
        rewardedAt: now >= 2 ? iso(occurred + 31) : null,
        rewardPeriod: null,
        partialRefunds: 0,
        rewardBase: null,
      };
    }),
    adjustments: unit.adjustments.map(({ id, processed: p }) => {
      if (p) processed.add(id);
      const done = processed.has(id);
      const at = (id * 17) % 120;
      return {
        tenant: T,
        adjustmentId: `a${id}`,
        kind: 'refund',
        transactionId: `t${id % 8}`,
        accountId: A,
        amount: 1,
        at: iso(at),
        clawback: done ? 0 : null,
        processedAt: done ? iso(at) : null,
        entrySeq: null,
      };
    }),
  }));
}

const transactionFilters: TransactionFilter[] = [{}, { unrewardedBefore: iso(30) }, { unrewardedBefore: iso(75) }, { transactionIds: ['t1', 't3', 't9'] }];
const adjustmentFilters: AdjustmentFilter[] = [
  {},
  { unprocessedOnly: true },
  { unprocessedOnly: true, transactionIds: ['t0', 't2', 't5'] },
  { unprocessedOnly: true, ofRewardedTransactions: true, before: iso(40) },
  { unprocessedOnly: true, ofRewardedTransactions: true, before: iso(100) },
  { ofRewardedTransactions: true },
];

/** Every read of the contract, in the last unit of work after its writes. */
async function reads(store: LedgerStore, plan: Plan) {
  const saves = records(plan);
  await store.withAccount(T, A, (uow) => uow.saveAccount(account));
  for (const unit of saves.slice(0, -1)) {
    await store.withAccount(T, A, async (uow) => {
      for (const t of unit.transactions) await uow.saveTransaction(t);
      for (const a of unit.adjustments) await uow.saveAdjustment(a);
    });
  }
  const last = saves[saves.length - 1]!;
  return store.withAccount(T, A, async (uow) => {
    const before = await Promise.all(transactionFilters.map((f) => uow.transactionsOfAccount(A, f)));
    for (const t of last.transactions) await uow.saveTransaction(t);
    for (const a of last.adjustments) await uow.saveAdjustment(a);
    return {
      before,
      transactions: await Promise.all(transactionFilters.map((f) => uow.transactionsOfAccount(A, f))),
      adjustments: await Promise.all(adjustmentFilters.map((f) => uow.adjustmentsOfAccount(A, f))),
      counts: [...(await uow.unprocessedCounts(A, ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']))].sort(),
    };
  });
}

describe('SimulationLedgerStore', () => {
  it('answers every filter, and the counts, as InMemoryLedgerStore does, staged writes included', async () => {
    await fc.assert(
      fc.asyncProperty(units, async (plan) => {
        expect(await reads(new SimulationLedgerStore(T, A), plan)).toEqual(await reads(new InMemoryLedgerStore(), plan));
      }),
      { numRuns: 500 },
    );
  });

  it('undoes the in-place changes to the account’s collections of a unit of work that fails', async () => {
    const store = new SimulationLedgerStore(T, A);
    await store.withAccount(T, A, (uow) => uow.saveAccount({ ...account, closedPeriods: ['2024-01-01T00:00:00.000Z'], capUsage: { '2024-01-01T00:00:00.000Z': 5 } }));
    await expect(
      store.withAccount(T, A, async (uow) => {
        const a = (await uow.getAccount(A))!;
        a.closedPeriods.push('2024-02-01T00:00:00.000Z');
        a.capUsage['2024-01-01T00:00:00.000Z'] = 9;
        a.capUsage['2024-02-01T00:00:00.000Z'] = 1;
        a.balance = 100;
        await uow.saveAccount(a);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    const after = await store.withAccount(T, A, async (uow) => uow.getAccount(A));
    expect({ ...after, capUsage: { ...after!.capUsage }, closedPeriods: [...after!.closedPeriods] }).toEqual({
      ...account,
      closedPeriods: ['2024-01-01T00:00:00.000Z'],
      capUsage: { '2024-01-01T00:00:00.000Z': 5 },
    });
  });

  it('holds one account and runs one unit of work at a time', async () => {
    const store = new SimulationLedgerStore(T, A);
    await expect(store.withAccount(T, 'other', () => Promise.resolve(1))).rejects.toThrow(/holds account account/);
    const first = store.withAccount(T, A, () => new Promise((resolve) => setTimeout(resolve, 10)));
    await expect(store.withAccount(T, A, () => Promise.resolve(1))).rejects.toThrow(/one unit of work at a time/);
    await first;
  });
});
