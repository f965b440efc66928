/**
 * The Reward Integrity totals the PostgreSQL ledger store keeps with each account (Migration20261207000000): written with
 * every verdict, read back with the account by the next write, rebuilt from every transaction where an account has none.
 * On PostgreSQL when TEST_DATABASE_URL is set, otherwise on PGlite.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { Ledger, StaticProgramResolver, totalsOf, type IntegrityTotals } from '../ledger/index.js';
import { allPrograms, gate, program } from '../ledger/ledger.test-support.js';
import { openDatabase, type Database } from './database.js';
import { PgLedgerStore } from './ledger.store.js';
import { OutboxRepository } from './outbox.repository.js';

const T = 'acme';

describe('PgLedgerStore: Reward Integrity totals kept with the account', () => {
  let target: TestDatabase;
  let db: Database;
  let ledger: Ledger;
  let store: PgLedgerStore;

  beforeAll(async () => {
    target = await createTestDatabase('ledger_totals');
    db = await openDatabase(target.url);
    store = new PgLedgerStore(db.em(), new OutboxRepository());
    ledger = new Ledger(store, new StaticProgramResolver(allPrograms()), await gate());
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  const stored = async (accountId: string) => {
    const rows = await db.em().execute<{ integrity_totals: IntegrityTotals | null; integrity_violated_at: Date | null; integrity_violations: unknown }[]>(
      'select integrity_totals, integrity_violated_at, integrity_violations from ledger_accounts where tenant = ? and account_id = ?',
      [T, accountId],
    );
    return rows[0]!;
  };
  /** The totals of every transaction the account has now, as integrity() would sum them. */
  const expected = async (accountId: string, name: 'cashback-default' | 'issuer-a') => {
    const transactions = await store.withAccount(T, accountId, (uow) => uow.transactionsOfAccount(accountId));
    return totalsOf(`${name}@1.0.0`, transactions, 1, program(name));
  };
  const forget = (accountId: string) => db.em().execute('update ledger_accounts set integrity_totals = null where tenant = ? and account_id = ?', [T, accountId]);

  it("keeps with every write the totals of all the account's transactions, and carries them from write to write", async () => {
    await ledger.openAccount(T, 'a1', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    expect((await stored('a1')).integrity_totals).toBeNull(); // opening moves no verdict
    for (const [i, amount] of [10_000, 25_000, 7_333].entries()) {
      await ledger.recordPurchase(T, 'a1', { transactionId: `a1-t${i}`, amount, category: i === 1 ? 'DINING' : 'GROCERY', occurredAt: `2026-03-0${i + 2}T10:00:00Z` });
      await ledger.settle(T, `a1-t${i}`, { settledAt: `2026-03-0${i + 2}T10:00:00Z` });
      expect((await stored('a1')).integrity_totals).toEqual(await expected('a1', 'cashback-default'));
    }
    await ledger.refund(T, 'a1-t1', { refundId: 'a1-r1', amount: 5_001, at: '2026-03-10T10:00:00Z' });
    await ledger.redeem(T, 'a1', { redemptionId: 'a1-d1', amount: 100, at: '2026-03-11T10:00:00Z' });
    await ledger.chargeback(T, 'a1-t0', { chargebackId: 'a1-c1', amount: 10_000, at: '2026-04-02T10:00:00Z' });
    const after = await stored('a1');
    expect(after.integrity_totals).toEqual(await expected('a1', 'cashback-default'));
    expect(after.integrity_totals).toMatchObject({ program: 'cashback-default@1.0.0', roundingTolerance: 1 }); // one partial refund
    expect(after.integrity_violated_at).toBeNull();
    const view = await ledger.view(T, 'a1');
    expect(view.integrity.rewardIntegrity).toBe(true);
    expect(after.integrity_totals!.netSpend).toBe(view.netSpend);
  });

  it('rebuilds the totals of an account that has none (written before they were kept) at its next write', async () => {
    await ledger.openAccount(T, 'a2', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    for (let i = 0; i < 3; i++) {
      await ledger.recordPurchase(T, 'a2', { transactionId: `a2-t${i}`, amount: 4_000 + i, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
      await ledger.settle(T, `a2-t${i}`, { settledAt: '2026-03-02T10:00:00Z' });
    }
    const before = (await stored('a2')).integrity_totals;
    // The write's one read (ledger_lock_and_read) brings every transaction only for an account without totals.
    const read = async () =>
      db.em().transactional(async (em) => {
        const rows = await em.execute<{ r: Record<string, unknown> }[]>(`select ledger_lock_and_read('${T}', 'a2', null, '{"integrity": true}'::jsonb) as r`);
        return rows[0]!.r;
      });
    expect(await read()).not.toHaveProperty('all_tx');
    await forget('a2');
    expect(((await read()).all_tx as unknown[]).length).toBe(3);
    await ledger.refund(T, 'a2-t2', { refundId: 'a2-r1', amount: 1_000, at: '2026-03-03T10:00:00Z' });
    const rebuilt = (await stored('a2')).integrity_totals;
    expect(rebuilt).toEqual(await expected('a2', 'cashback-default'));
    expect(rebuilt).not.toEqual(before); // the refund's change is in them too
    // Totals of another program (or any shape but the kept one) are not trusted either.
    await db.em().execute(`update ledger_accounts set integrity_totals = '{"program":"issuer-b@1.0.0","netSpend":1,"roundingTolerance":0,"shares":{}}' where account_id = 'a2'`);
    await ledger.redeem(T, 'a2', { redemptionId: 'a2-d1', amount: 50, at: '2026-03-04T10:00:00Z' });
    expect((await stored('a2')).integrity_totals).toEqual(await expected('a2', 'cashback-default'));
  });

  it("builds on the kept totals without reading the account's history: a difference only the totals show carries through", async () => {
    await ledger.openAccount(T, 'a4', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, 'a4', { transactionId: 'a4-t0', amount: 8_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    await ledger.settle(T, 'a4-t0', { settledAt: '2026-03-02T10:00:00Z' });
    const kept = (await stored('a4')).integrity_totals!;
    await db.em().execute('update ledger_accounts set integrity_totals = ?::jsonb where tenant = ? and account_id = ?', [JSON.stringify({ ...kept, netSpend: kept.netSpend + 7 }), T, 'a4']);
    await ledger.recordPurchase(T, 'a4', { transactionId: 'a4-t1', amount: 2_000, category: 'GROCERY', occurredAt: '2026-03-03T10:00:00Z' });
    await ledger.settle(T, 'a4-t1', { settledAt: '2026-03-03T10:00:00Z' });
    expect((await stored('a4')).integrity_totals).toEqual({ ...(await expected('a4', 'cashback-default'))!, netSpend: 8_000 + 2_000 + 7 });
  });

  it('forgets the totals when a writer that does not keep them (the release before, during a rolling deploy) changes a transaction', async () => {
    await ledger.openAccount(T, 'a5', { program: 'issuer-a', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, 'a5', { transactionId: 'a5-t', amount: 100_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    await ledger.settle(T, 'a5-t', { settledAt: '2026-03-02T10:00:00Z' });
    await ledger.redeem(T, 'a5', { redemptionId: 'a5-d', amount: 3_000, at: '2026-03-03T00:00:00Z' });
    expect((await stored('a5')).integrity_totals).not.toBeNull();
    // The previous release's full refund, as its one write statement leaves the rows (it knows nothing of the totals).
    await db.em().execute(`update ledger_transactions set refunded = amount, reward = 0, status = 'REFUNDED' where tenant = ? and transaction_id = 'a5-t'`, [T]);
    expect((await stored('a5')).integrity_totals).toBeNull();
    // This release's next write (a replayed settlement) starts again from every transaction: the double dip shows.
    await ledger.settle(T, 'a5-t', { settledAt: '2026-03-02T10:00:00Z' });
    const after = await stored('a5');
    expect(after.integrity_totals).toEqual(await expected('a5', 'issuer-a'));
    expect(after.integrity_totals).toMatchObject({ netSpend: 0 });
    expect(after.integrity_violated_at).not.toBeNull();
    expect((await ledger.view(T, 'a5')).integrity.rewardIntegrity).toBe(false);
    // Its inserts and deletes too.
    const copy = `insert into ledger_transactions (tenant, transaction_id, account_id, amount, category, occurred_at, settled_at, status, refunded, reward,
        original_reward, rewarded_at, reward_period, partial_refunds, reward_base)
      select tenant, 'a5-t2', account_id, amount, category, occurred_at, settled_at, 'SETTLED', 0, 0, 0, null, null, 0, null
        from ledger_transactions where tenant = ? and transaction_id = 'a5-t'`;
    for (const statement of [copy, `delete from ledger_transactions where tenant = ? and transaction_id = 'a5-t2'`]) {
      await ledger.settle(T, 'a5-t', { settledAt: '2026-03-02T10:00:00Z' });
      expect((await stored('a5')).integrity_totals).not.toBeNull();
      await db.em().execute(statement, [T]);
      expect((await stored('a5')).integrity_totals).toBeNull();
    }
  });

  it("a false verdict is still integrity() over every transaction: issuer-a's double dip names its transaction, with or without kept totals", async () => {
    await ledger.openAccount(T, 'a3', { program: 'issuer-a', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase(T, 'a3', { transactionId: 'a3-t', amount: 100_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    await ledger.settle(T, 'a3-t', { settledAt: '2026-03-02T10:00:00Z' });
    await ledger.redeem(T, 'a3', { redemptionId: 'a3-d', amount: 3_000, at: '2026-03-03T00:00:00Z' });
    expect((await stored('a3')).integrity_violated_at).toBeNull();
    await ledger.refund(T, 'a3-t', { refundId: 'a3-r', amount: 100_000, at: '2026-04-02T10:00:00Z' });
    const violated = await stored('a3');
    expect(violated.integrity_violated_at).not.toBeNull();
    // A violated account's next verdict will name transactions: its one read brings them all, totals or not.
    const read = await db.em().transactional(async (em) => (await em.execute<{ r: Record<string, unknown> }[]>(`select ledger_lock_and_read('${T}', 'a3', null, '{"integrity": true}'::jsonb) as r`))[0]!.r);
    expect((read.all_tx as unknown[]).length).toBe(1);
    expect(violated.integrity_totals).not.toBeNull();
    expect(violated.integrity_totals).toEqual(await expected('a3', 'issuer-a'));
    const view = await ledger.view(T, 'a3');
    expect(violated.integrity_violations).toMatchObject({
      verdict: { rewardIntegrity: false, netSpend: view.netSpend, rewardBound: view.rewardBound, violations: view.integrity.violations },
    });
    expect(view.integrity.violations.map((v) => v.transactionId)).toContain('a3-t');
    // The same verdict again from every transaction, when the totals are gone.
    await forget('a3');
    await ledger.settle(T, 'a3-t', { settledAt: '2026-03-02T10:00:00Z' }); // same settlement again: a write that changes nothing
    const again = await stored('a3');
    expect(again.integrity_totals).toEqual(await expected('a3', 'issuer-a'));
    // The same verdict, figures, violations and transactions, recorded at this write's business time.
    expect(again.integrity_violations).toEqual({ ...(violated.integrity_violations as object), at: '2026-03-02T10:00:00.000Z' });
  });
});
