import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import type { LedgerAccount, LedgerTransaction } from '../ledger/index.js';
import { openDatabase, type Database } from './database.js';
import { PgLedgerStore } from './ledger.store.js';
import { OutboxRepository } from './outbox.repository.js';

const T = 'acme';
const account = (accountId: string): LedgerAccount => ({ tenant: T, accountId, programRef: 'cashback-default@1.0.0', currency: 'EUR', cycleAnchorDay: 1, balance: 0, redeemed: 0, holdUntil: null, closedPeriods: [], capUsage: {}, version: 1 });
const purchase = (transactionId: string, accountId: string): LedgerTransaction => ({ tenant: T, transactionId, accountId, amount: 10_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00.000Z', settledAt: null, status: 'PENDING', refunded: 0, reward: 0, originalReward: 0, rewardedAt: null, rewardPeriod: null, partialRefunds: 0, rewardBase: null });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The PostgreSQL ledger store serialises every unit of work of one account, whether it finds the account by id or
 * through one of its transactions, and reads after it holds the lock (ledger_lock_and_read is a function: a plain
 * statement would read the snapshot it took before waiting). Written by an independent reviewer of issue 11.
 */
const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

describeOnPostgres('PgLedgerStore: concurrent units of work of one account (PostgreSQL)', () => {
  let target: TestDatabase;
  let db: Database;
  beforeAll(async () => { target = await createTestDatabase('ledger_serialised'); db = await openDatabase(target.url); });
  afterAll(async () => { await db?.close(); await target?.drop(); });
  const store = () => new PgLedgerStore(db.em(), new OutboxRepository());

  it('serialises by account and by transaction, reads after the lock', async () => {
    const a = 'A1'; const t = purchase('T1', a);
    await store().withAccount(T, a, async (uow) => { await uow.saveAccount(account(a)); await uow.saveTransaction(t); });
    const N = 12;
    const jobs = Array.from({ length: N }, (_, i) => i % 2 === 0
      ? store().withAccount(T, a, async (uow) => {
          const acc = (await uow.getAccount(a))!; const tx = (await uow.getTransaction('T1'))!; await sleep(5);
          await uow.saveAccount({ ...acc, balance: acc.balance + 1 }); await uow.saveTransaction({ ...tx, refunded: tx.refunded + 1 });
          await uow.appendEntry({ accountId: a, transactionId: null, type: 'REDEMPTION', amount: -1, balanceAfter: 0, cause: { kind: 'redemption', id: `d${i}` }, programRef: 'p', at: '2026-03-06T10:00:00Z' });
        }, { transactionIds: ['T1'], allTransactions: true })
      : store().withAccountOfTransaction(T, 'T1', async (uow, acc0) => {
          const acc = (await uow.getAccount(acc0!))!; const tx = (await uow.getTransaction('T1'))!; await sleep(5);
          await uow.saveAccount({ ...acc, balance: acc.balance + 1 }); await uow.saveTransaction({ ...tx, refunded: tx.refunded + 1 });
          await uow.appendEntry({ accountId: a, transactionId: null, type: 'REDEMPTION', amount: -1, balanceAfter: 0, cause: { kind: 'redemption', id: `d${i}` }, programRef: 'p', at: '2026-03-06T10:00:00Z' });
        }, { transactionIds: ['T1'], allTransactions: true }));
    await Promise.all(jobs);
    const r = await store().withAccount(T, a, async (uow) => ({ acc: await uow.getAccount(a), tx: await uow.getTransaction('T1') }));
    expect(r.acc!.balance).toBe(N);
    expect(r.tx!.refunded).toBe(N);
    expect((await store().entries(T, a, { limit: 100 })).map((e) => e.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });

  it('nested in a caller transaction that already ran a statement (the claim): still reads after the lock', async () => {
    const a = 'A2';
    await store().withAccount(T, a, async (uow) => { await uow.saveAccount(account(a)); });
    const N = 10;
    await Promise.all(Array.from({ length: N }, () => db.em().transactional(async (em) => {
      await em.execute('select 1');
      await new PgLedgerStore(em, new OutboxRepository()).withAccount(T, a, async (uow) => {
        const acc = (await uow.getAccount(a))!; await sleep(5); await uow.saveAccount({ ...acc, balance: acc.balance + 1 });
      });
      await sleep(5);
    })));
    const acc = await store().withAccount(T, a, (uow) => uow.getAccount(a));
    expect(acc!.balance).toBe(N);
  });
});
