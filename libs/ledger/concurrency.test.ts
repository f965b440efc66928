/** InMemoryLedgerStore under concurrency: per-account serialisation, all-or-nothing units of work, tenant-wide unique ids. */
import { DomainError } from '../errors/index.js';
import { allEntries, harness } from './ledger.test-support.js';
import { InMemoryLedgerStore } from './memory-store.js';
import type { LedgerAccount, LedgerTransaction } from './types.js';

const T = 'acme';
const A = 'acc-1';

function account(accountId = A): LedgerAccount {
  return {
    tenant: T,
    accountId,
    programRef: 'cashback-default@1.0.0',
    currency: 'USD',
    cycleAnchorDay: 1,
    balance: 0,
    redeemed: 0,
    holdUntil: null,
    closedPeriods: [],
    capUsage: {},
    version: 1,
  };
}

function transaction(transactionId: string, accountId = A): LedgerTransaction {
  return {
    tenant: T,
    transactionId,
    accountId,
    amount: 100,
    category: 'GAS',
    occurredAt: '2024-05-01T00:00:00.000Z',
    settledAt: null,
    status: 'PENDING',
    refunded: 0,
    reward: 0,
    originalReward: 0,
    rewardedAt: null,
    rewardPeriod: null,
    partialRefunds: 0,
    rewardBase: null,
  };
}

describe('Ledger on InMemoryLedgerStore under concurrency', () => {
  it('50 parallel redemptions against a balance covering exactly 10: exactly 10 are allowed', async () => {
    const { ledger, store } = await harness();
    await ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, A, { transactionId: 'tx', amount: 20000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' });
    await ledger.settle(T, 'tx', { settledAt: '2024-05-02T10:00:00Z' }); // 1000
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.redeem(T, A, { redemptionId: `red-${i}`, amount: 100, at: '2024-05-03T00:00:00Z' })),
    );
    expect(outcomes.filter((o) => o.allowed)).toHaveLength(10);
    expect(outcomes.filter((o) => !o.allowed).every((o) => o.reasons[0]!.code === 'INSUFFICIENT_REWARD_BALANCE')).toBe(true);
    const view = await ledger.view(T, A);
    expect(view).toMatchObject({ balance: 0, redeemed: 1000 });
    const entries = await allEntries(store, T, A);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(entries.reduce((s, e) => s + e.amount, 0)).toBe(0);
  });

  it('parallel refunds on one transaction are serialised: never refunded beyond the amount', async () => {
    const { ledger } = await harness();
    await ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, A, { transactionId: 'tx', amount: 10000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' });
    await ledger.settle(T, 'tx', { settledAt: '2024-05-02T10:00:00Z' });
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => ledger.refund(T, 'tx', { refundId: `r-${i}`, amount: 1000, at: '2024-05-05T00:00:00Z' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => (r.reason as DomainError).code)).toEqual(Array(15).fill('REFUND_EXCEEDS_TRANSACTION'));
    expect(await ledger.transaction(T, 'tx')).toMatchObject({ refunded: 10000, reward: 0, originalReward: 500, status: 'REFUNDED' });
    expect((await ledger.view(T, A)).balance).toBe(0);
  });

  it('the same refund sent concurrently takes effect once', async () => {
    const { ledger } = await harness();
    await ledger.openAccount(T, A, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, A, { transactionId: 'tx', amount: 10000, category: 'GROCERY', occurredAt: '2024-05-02T10:00:00Z' });
    await ledger.settle(T, 'tx', { settledAt: '2024-05-02T10:00:00Z' });
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.refund(T, 'tx', { refundId: 'r', amount: 3000, at: '2024-05-05T00:00:00Z' })));
    expect(new Set(results.map((r) => JSON.stringify(r.adjustment))).size).toBe(1);
    expect(await ledger.transaction(T, 'tx')).toMatchObject({ refunded: 3000, reward: 350 });
  });

  it('one transaction id on two accounts at once: one wins, the other gets TRANSACTION_EXISTS', async () => {
    const { ledger } = await harness();
    for (const id of ['a', 'b']) await ledger.openAccount(T, id, { program: 'cashback-default', currency: 'USD', cycleAnchorDay: 1 });
    const results = await Promise.allSettled(
      ['a', 'b'].map((acc) => ledger.recordPurchase(T, acc, { transactionId: 'same', amount: 100, category: 'GAS', occurredAt: '2024-05-02T10:00:00Z' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as DomainError).code).toBe('TRANSACTION_EXISTS');
  });
});

describe('InMemoryLedgerStore', () => {
  it('a unit of work that throws leaves no partial writes', async () => {
    const store = new InMemoryLedgerStore();
    await store.withAccount(T, A, async (uow) => uow.saveAccount(account()));
    await expect(
      store.withAccount(T, A, async (uow) => {
        const a = (await uow.getAccount(A))!;
        await uow.saveAccount({ ...a, balance: 99, version: 2 });
        await uow.saveTransaction(transaction('tx'));
        await uow.appendEntry({ accountId: A, transactionId: 'tx', type: 'REWARD', amount: 99, balanceAfter: 99, cause: { kind: 'settlement', id: 'tx' }, programRef: 'p@1', at: '2024-05-01T00:00:00.000Z' });
        // Staged writes are visible inside the unit of work…
        expect((await uow.getAccount(A))!.balance).toBe(99);
        expect(await uow.transactionsOfAccount(A)).toHaveLength(1);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // …and gone after it failed.
    await store.withAccount(T, A, async (uow) => {
      expect((await uow.getAccount(A))!.balance).toBe(0);
      expect(await uow.getTransaction('tx')).toBeNull();
    });
    expect(await store.entries(T, A, { limit: 10 })).toEqual([]);
    expect(await store.accountOfTransaction(T, 'tx')).toBeNull();
  });

  it('serialises units of work on one account, in arrival order, and lets other accounts run meanwhile', async () => {
    const store = new InMemoryLedgerStore();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((r) => (releaseFirst = r));
    const first = store.withAccount(T, A, async () => {
      order.push('A1 start');
      await gate;
      order.push('A1 end');
    });
    const second = store.withAccount(T, A, () => {
      order.push('A2');
      return Promise.resolve();
    });
    const other = store.withAccount(T, 'other', () => {
      order.push('B');
      return Promise.resolve();
    });
    await other;
    expect(order).toEqual(['A1 start', 'B']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['A1 start', 'B', 'A1 end', 'A2']);
  });

  it('a failed unit of work does not block the next one', async () => {
    const store = new InMemoryLedgerStore();
    await expect(store.withAccount(T, A, () => Promise.reject(new Error('first fails')))).rejects.toThrow('first fails');
    await expect(store.withAccount(T, A, () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('returns copies: mutating what was read changes nothing stored', async () => {
    const store = new InMemoryLedgerStore();
    await store.withAccount(T, A, async (uow) => {
      await uow.saveAccount(account());
      await uow.saveTransaction(transaction('tx'));
    });
    await store.withAccount(T, A, async (uow) => {
      const a = (await uow.getAccount(A))!;
      a.balance = 1_000_000;
      a.capUsage['x'] = 1;
      (await uow.getTransaction('tx'))!.amount = 5;
    });
    await store.withAccount(T, A, async (uow) => {
      expect(await uow.getAccount(A)).toEqual(account());
      expect((await uow.getTransaction('tx'))!.amount).toBe(100);
    });
  });

  it('refuses writes to another account and account saves that skip a version', async () => {
    const store = new InMemoryLedgerStore();
    await expect(store.withAccount(T, A, (uow) => uow.saveTransaction(transaction('tx', 'other')))).rejects.toThrow(/cannot write/);
    await expect(store.withAccount(T, A, (uow) => uow.saveAccount({ ...account(), version: 3 }))).rejects.toThrow(/version/);
  });

  it('pages entries by seq', async () => {
    const store = new InMemoryLedgerStore();
    await store.withAccount(T, A, async (uow) => {
      for (let i = 1; i <= 5; i++) {
        await uow.appendEntry({ accountId: A, transactionId: null, type: 'REWARD', amount: i, balanceAfter: 0, cause: { kind: 'settlement', id: `${i}` }, programRef: 'p@1', at: '2024-05-01T00:00:00.000Z' });
      }
    });
    expect((await store.entries(T, A, { limit: 2 })).map((e) => e.seq)).toEqual([1, 2]);
    expect((await store.entries(T, A, { limit: 2, afterSeq: 2 })).map((e) => e.seq)).toEqual([3, 4]);
    expect((await store.entries(T, A, { limit: 10, afterSeq: 4 })).map((e) => e.seq)).toEqual([5]);
    expect(await store.entries(T, 'nobody', { limit: 10 })).toEqual([]);
    expect(await store.entries('nobody', A, { limit: 10 })).toEqual([]);
  });
});
