/**
 * The PostgreSQL ledger store's unit of work: one read of what was declared, writes staged and flushed in one
 * statement. The races need a second connection, so they run on PostgreSQL only (PGlite has one connection).
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import type { LedgerAccount, LedgerAdjustment, LedgerTransaction } from '../ledger/index.js';
import { openDatabase, type Database } from './database.js';
import { PgLedgerStore } from './ledger.store.js';
import { OutboxRepository } from './outbox.repository.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { GENERIC_PLAN, LAST_STATEMENT } from './prepared-statements.js';

const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
const T = 'acme';

const account = (accountId: string): LedgerAccount => ({
  tenant: T,
  accountId,
  programRef: 'cashback-default@1.0.0',
  currency: 'EUR',
  cycleAnchorDay: 1,
  balance: 0,
  redeemed: 0,
  holdUntil: null,
  closedPeriods: [],
  capUsage: {},
  version: 1,
});

const purchase = (transactionId: string, accountId: string): LedgerTransaction => ({
  tenant: T,
  transactionId,
  accountId,
  amount: 10_000,
  category: 'GROCERY',
  occurredAt: '2026-03-02T10:00:00.000Z',
  settledAt: '2026-03-02T10:00:00.000Z',
  status: 'SETTLED',
  refunded: 0,
  reward: 500,
  originalReward: 500,
  rewardedAt: '2026-03-02T10:00:00.000Z',
  rewardPeriod: '2026-03-01T00:00:00.000Z',
  partialRefunds: 0,
  rewardBase: 10_000,
});

const refund = (adjustmentId: string, t: LedgerTransaction): LedgerAdjustment => ({
  tenant: T,
  adjustmentId,
  kind: 'refund',
  transactionId: t.transactionId,
  accountId: t.accountId,
  amount: 2_000,
  at: '2026-03-05T10:00:00.000Z',
  clawback: 100,
  processedAt: '2026-03-05T10:00:00.000Z',
  entrySeq: 1,
});

describeOnPostgres('PgLedgerStore (PostgreSQL)', () => {
  let target: TestDatabase;
  let db: Database;
  let seq = 0;
  const id = (p: string) => `${p}-${++seq}`;

  beforeAll(async () => {
    target = await createTestDatabase('ledger_store');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  const store = () => new PgLedgerStore(db.em(), new OutboxRepository());

  /** An account with one rewarded purchase, committed. */
  async function seeded(): Promise<{ a: string; t: LedgerTransaction }> {
    const a = id('acct');
    const t = purchase(id('tx'), a);
    await store().withAccount(T, a, async (uow) => {
      await uow.saveAccount({ ...account(a), balance: 500, capUsage: { '2026-03-01T00:00:00.000Z': 500 } });
      await uow.saveTransaction(t);
    });
    return { a, t };
  }

  it('refuses a new id another account committed after the read, and writes nothing else of the unit of work', async () => {
    const mine = await seeded();
    const theirs = await seeded();
    const adjustmentId = id('rf');
    // Inside a caller's transaction that goes on and commits (as a paid refund's clawback does): no savepoint covers
    // the unit of work, so its one write must be all or nothing by itself.
    const attempt = db.em().transactional((em) =>
      new PgLedgerStore(em, new OutboxRepository())
        .withAccount(
      T,
      mine.a,
      async (uow) => {
        expect(await uow.getAdjustment(adjustmentId)).toBeNull(); // declared: answered by the one read
        // Another account's unit of work takes the id and commits in the meantime (its own connection).
        await store().withAccount(T, theirs.a, (other) => other.saveAdjustment({ ...refund(adjustmentId, theirs.t), entrySeq: null }));
        const acc = (await uow.getAccount(mine.a))!;
        await uow.saveTransaction({ ...mine.t, refunded: 2_000, reward: 400, status: 'PART_REF', partialRefunds: 1 });
        const entry = await uow.appendEntry({
          accountId: mine.a,
          transactionId: mine.t.transactionId,
          type: 'CLAWBACK',
          amount: -100,
          balanceAfter: 400,
          cause: { kind: 'refund', id: adjustmentId },
          programRef: acc.programRef,
          at: '2026-03-05T10:00:00Z',
        });
        await uow.saveAdjustment({ ...refund(adjustmentId, mine.t), entrySeq: entry.seq });
        await uow.saveAccount({ ...acc, balance: 400, version: acc.version + 1 });
      },
      { adjustmentIds: [adjustmentId], transactionIds: [mine.t.transactionId] }, // the transaction read: only the refund is new
        )
        .catch((e: unknown) => e),
    );
    expect(await attempt).toMatchObject({ code: 'ADJUSTMENT_EXISTS', kind: 'conflict' });

    const after = await store().withAccount(T, mine.a, async (uow) => ({
      account: await uow.getAccount(mine.a),
      transaction: await uow.getTransaction(mine.t.transactionId),
      adjustment: await uow.getAdjustment(adjustmentId),
    }));
    expect(after.account).toMatchObject({ balance: 500, version: 1 });
    // Unchanged, as its own unit of work (the store's default actor, `system`) wrote it.
    expect(after.transaction).toEqual({ ...mine.t, actor: { id: 'system', role: 'system' } });
    expect(after.adjustment).toMatchObject({ accountId: theirs.a });
    expect(await store().entries(T, mine.a, { limit: 10 })).toEqual([]);
  });

  it('finds a transaction by its id alone on plans made before the table had rows or statistics, not by reading the tenant\'s transactions', async () => {
    // A database of its own: its ledger tables have never been analyzed, as a young database's (or any with autovacuum off).
    const fresh = await createTestDatabase('ledger_store_plans');
    const one = await openDatabase(fresh.url, { poolSize: 1 }); // one connection: the plans it makes are the ones measured
    try {
      const s = (em = one.em()) => new PgLedgerStore(em, new OutboxRepository());
      const first = purchase('plans-tx-0', 'plans-acct-0');
      await s().withAccount(T, first.accountId, async (uow) => {
        await uow.saveAccount(account(first.accountId));
        await uow.saveTransaction(first);
      });
      // ledger_lock_and_read plans its lookups on first use, once per connection: here, on tables of one row each.
      await s().withAccountOfTransaction(T, first.transactionId, (uow) => uow.getTransaction(first.transactionId), { transactionIds: [first.transactionId] });
      // The tenant grows: 400 transactions over 20 other accounts (statistics are still unknown: never analyzed).
      await one.em().execute(`insert into ledger_accounts (tenant, account_id, program_ref, currency, cycle_anchor_day, balance, redeemed, closed_periods, cap_usage, version)
        select '${T}', 'plans-acct-' || i, 'cashback-default@1.0.0', 'EUR', 1, 0, 0, '[]', '{}', 1 from generate_series(1, 20) i`);
      await one.em().execute(`insert into ledger_transactions (tenant, transaction_id, account_id, amount, category, occurred_at, status, refunded, reward, original_reward, partial_refunds)
        select '${T}', 'plans-tx-' || i, 'plans-acct-' || (i % 20 + 1), 1000, 'GROCERY', '2026-03-02T10:00:00Z', 'PENDING', 0, 0, 0, 0 from generate_series(1, 400) i`);
      expect(await one.em().execute(`select 1 from pg_stat_user_tables where relname = 'ledger_transactions' and coalesce(last_analyze, last_autoanalyze) is null`)).toHaveLength(1);

      const target = 'plans-tx-7';
      const read = await one.em().transactional(async (em) => {
        const found = await s(em).withAccountOfTransaction(T, target, (uow) => uow.getTransaction(target), { transactionIds: [target] });
        // The index entries this connection read and has not reported yet: this transaction's (the function's lookups
        // included), and possibly the warm-up's, a moment before.
        const rows = await em.execute<{ index: string; read: string | number }[]>(
          `select c.relname as index, pg_stat_get_xact_tuples_returned(c.oid) as read from pg_index i join pg_class c on c.oid = i.indexrelid
           where i.indrelid = 'ledger_transactions'::regclass`,
        );
        return { found, tuples: Object.fromEntries(rows.map((r) => [r.index, Number(r.read)])) };
      });
      expect(read.found).toMatchObject({ transactionId: target, accountId: 'plans-acct-8' });
      // By its primary key (the account's lookup and the transaction's read: a few entries), none of the tenant's others.
      expect(read.tuples.ledger_transactions_account_idx).toBe(0);
      expect(read.tuples.ledger_transactions_pkey).toBeGreaterThanOrEqual(1);
      expect(read.tuples.ledger_transactions_pkey).toBeLessThanOrEqual(4);
    } finally {
      await one.close();
      await fresh.drop();
    }
  });

  it('runs its one write on a plan made once per connection, and its lock and read on plans made for each call', async () => {
    const one = await openDatabase(target.url, { poolSize: 1 }); // one connection: its prepared statements are all of them
    try {
      const s = () => new PgLedgerStore(one.em(), new OutboxRepository());
      for (let i = 0; i < 4; i++) {
        const a = id('generic');
        await s().withAccount(T, a, async (uow) => {
          await uow.saveAccount(account(a));
          await uow.saveTransaction(purchase(id('gtx'), a));
        });
        expect(await s().withAccount(T, a, (uow) => uow.getAccount(a))).toMatchObject({ accountId: a, balance: 0 });
      }
      // Inside a caller's transaction, what comes after the write plans per execution again (its last column).
      const a = id('generic');
      const modeAfter = await one.em().transactional(async (em) => {
        await new PgLedgerStore(em, new OutboxRepository()).withAccount(T, a, async (uow) => {
          await uow.saveAccount(account(a));
          await uow.saveTransaction(purchase(id('gtx'), a));
        });
        return (await em.execute<{ mode: string }[]>(`select current_setting('plan_cache_mode') as mode`))[0]!.mode;
      });
      expect(modeAfter).toBe('force_custom_plan');
      // A write that changes an account's totals (kept for the next verdict) but not its balance saves the account as it
      // read it, through the same upsert: planned once per connection too, never an update the planner must plan again.
      for (let i = 0; i < 4; i++) {
        await s().withAccount(T, a, async (uow) => {
          const acc = (await uow.getAccount(a))!;
          await uow.saveTransaction(purchase(id('mtx'), a));
          await uow.recordIntegrity!({
            account: acc,
            report: { netSpend: 0, netReward: 0, rewardBound: 0, roundingTolerance: 0, rewardIntegrity: true, violations: [] },
            violating: [],
            at: '2026-03-05T10:00:00Z',
            totals: { program: acc.programRef, netSpend: 1_000 * (i + 1), roundingTolerance: 0, shares: {} },
          });
        });
      }
      const plans = await one.em().execute<{ statement: string; generic: number; custom: number }[]>(
        'select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where from_sql = false',
      );
      const writes = plans.filter((p) => p.statement.startsWith(GENERIC_PLAN));
      // Each named from its second execution: the other three (and the caller's, for the first) ran on the generic plan.
      const totalsWrite = (w: { statement: string }) => w.statement.includes('integrity_totals = excluded.integrity_totals');
      expect(writes.map((w) => [totalsWrite(w), w.generic, w.custom]).sort()).toEqual([[false, 4, 0], [true, 3, 0]]);
      expect(plans.filter((p) => p.statement.includes('update ledger_accounts'))).toEqual([]);
      // The last totals are the account's; its balance and version are as it read them.
      const [row] = await one.em().execute<{ totals: unknown; balance: string | number; version: number }[]>(
        'select integrity_totals as totals, balance, version from ledger_accounts where tenant = ? and account_id = ?',
        [T, a],
      );
      expect(row!.totals).toMatchObject({ netSpend: 4_000 });
      expect({ balance: Number(row!.balance), version: row!.version }).toEqual({ balance: 0, version: account(a).version });
      const reads = plans.filter((p) => p.statement.includes('ledger_lock_and_read'));
      expect(reads.length).toBeGreaterThan(0);
      for (const r of reads) expect(r).toMatchObject({ generic: 0 });
    } finally {
      await one.close();
    }
  });

  it('writes a mark or totals with the account as this unit of work read it: what an earlier write saved stays, and so do totals when only the mark changes', async () => {
    const a = id('kept');
    const totals = { program: 'cashback-default@1.0.0', netSpend: 1_000, roundingTolerance: 0, shares: { '2026-03-01': 50 } };
    const verdict = (acc: LedgerAccount, holds: boolean, t: typeof totals) => ({
      account: acc,
      report: { netSpend: 1_000, netReward: holds ? 50 : 5_000, rewardBound: 50, roundingTolerance: 0, rewardIntegrity: holds, violations: [] },
      violating: [],
      at: '2026-03-05T10:00:00Z',
      totals: t,
    });
    const row = async () =>
      (await db.em().fork().execute<{ balance: string | number; version: number; totals: unknown; violated: unknown }[]>(
        'select balance, version, integrity_totals as totals, integrity_violated_at as violated from ledger_accounts where tenant = ? and account_id = ?',
        [T, a],
      ))[0]!;
    // One transaction, as a settlement and its deferred clawbacks: a unit of work changes the balance, the next one only
    // the totals; the second writes the account back as it read it, after the first.
    await db.em().transactional(async (em) => {
      const s = new PgLedgerStore(em, new OutboxRepository());
      await s.withAccount(T, a, (uow) => uow.saveAccount(account(a)));
      await s.withAccount(T, a, async (uow) => {
        const acc = (await uow.getAccount(a))!;
        await uow.saveAccount({ ...acc, balance: 700, version: acc.version + 1 });
      });
      await s.withAccount(T, a, async (uow) => uow.recordIntegrity!(verdict((await uow.getAccount(a))!, true, totals)));
    });
    expect(await row()).toMatchObject({ version: 2, totals, violated: null });
    expect(Number((await row()).balance)).toBe(700);
    // The mark alone (same totals): turned false, then cleared; the totals stay as they were.
    await store().withAccount(T, a, async (uow) => uow.recordIntegrity!(verdict((await uow.getAccount(a))!, false, totals)));
    expect(await row()).toMatchObject({ version: 2, totals });
    expect((await row()).violated).not.toBeNull();
    await store().withAccount(T, a, async (uow) => uow.recordIntegrity!(verdict((await uow.getAccount(a))!, true, totals)));
    expect(await row()).toMatchObject({ version: 2, totals, violated: null });
    expect(Number((await row()).balance)).toBe(700);
    // An account the unit of work did not read has no row to write back: refused, nothing written.
    const other = id('unread');
    await expect(store().withAccount(T, a, (uow) => uow.recordIntegrity!(verdict(account(other), true, totals)))).rejects.toThrow('was not read');
  });

  it('inside the caller transaction, a refused unit of work leaves the caller free to go on and commit', async () => {
    const mine = await seeded();
    const theirs = await seeded();
    const taken = id('tx');
    await store().withAccount(T, theirs.a, (uow) => uow.saveTransaction(purchase(taken, theirs.a)));
    const outcome = await db.em().transactional(async (em) => {
      const nested = new PgLedgerStore(em, new OutboxRepository());
      // Not declared, so read on demand: the store sees the id in the other account and refuses at once.
      const refused = await nested
        .withAccount(T, mine.a, async (uow) => {
          await uow.saveAccount({ ...(await uow.getAccount(mine.a))!, balance: 1, version: 2 });
          await uow.getTransaction(taken);
          await uow.saveTransaction(purchase(taken, mine.a));
        })
        .catch((e: unknown) => e);
      await nested.withAccount(T, mine.a, async (uow) => uow.saveAccount({ ...(await uow.getAccount(mine.a))!, holdUntil: '2026-04-01T00:00:00.000Z', version: 2 }));
      return refused;
    });
    expect(outcome).toMatchObject({ code: 'TRANSACTION_EXISTS' });
    const now = await store().withAccount(T, mine.a, (uow) => uow.getAccount(mine.a));
    // The refused unit of work's early flush (before the undeclared read) was rolled back; the next one committed.
    expect(now).toMatchObject({ balance: 500, holdUntil: '2026-04-01T00:00:00.000Z', version: 2 });
  });

  it('answers declared reads with its own staged writes applied, and undeclared ones from the database after a flush', async () => {
    const { a, t } = await seeded();
    await store().withAccount(
      T,
      a,
      async (uow) => {
        await uow.saveTransaction({ ...t, refunded: 1_000, status: 'PART_REF' });
        expect((await uow.transactionsOfAccount(a)).map((x) => [x.transactionId, x.refunded])).toEqual([[t.transactionId, 1_000]]);
        expect(await uow.getTransaction(t.transactionId)).toMatchObject({ refunded: 1_000 });
        // Undeclared: adjustments are read from the database, which must already hold the staged transaction.
        expect(await uow.adjustmentsOfAccount(a, { ofRewardedTransactions: true })).toEqual([]);
        const [e1, e2] = [
          await uow.appendEntry({ accountId: a, transactionId: null, type: 'REDEMPTION', amount: -1, balanceAfter: 499, cause: { kind: 'redemption', id: 'd1' }, programRef: 'p', at: '2026-03-06T10:00:00Z' }),
          await uow.appendEntry({ accountId: a, transactionId: null, type: 'REDEMPTION', amount: -1, balanceAfter: 498, cause: { kind: 'redemption', id: 'd2' }, programRef: 'p', at: '2026-03-06T10:00:00Z' }),
        ];
        expect([e1.seq, e2.seq]).toEqual([1, 2]);
      },
      { allTransactions: true },
    );
    expect((await store().entries(T, a, { limit: 10 })).map((e) => [e.seq, e.balanceAfter])).toEqual([
      [1, 499],
      [2, 498],
    ]);
    expect(await store().withAccount(T, a, (uow) => uow.getTransaction(t.transactionId))).toMatchObject({ refunded: 1_000, status: 'PART_REF' });
  });

  it("checks the ledger's references at COMMIT, and still refuses one that points nowhere", async () => {
    const refs = await db.em().execute<{ name: string; deferrable: boolean; deferred: boolean }[]>(
      `select conname as name, condeferrable as deferrable, condeferred as deferred from pg_constraint
        where contype = 'f' and conrelid in ('ledger_transactions'::regclass, 'ledger_adjustments'::regclass, 'ledger_entries'::regclass) order by conname`,
    );
    expect(refs).toEqual([
      { name: 'ledger_adjustments_tenant_transaction_id_fkey', deferrable: true, deferred: true },
      { name: 'ledger_entries_tenant_account_id_fkey', deferrable: true, deferred: true },
      { name: 'ledger_transactions_tenant_account_id_fkey', deferrable: true, deferred: true },
    ]);
    const nowhere = id('nowhere');
    let written = false;
    const attempt = db.em().transactional(async (em) => {
      await em.execute(
        `insert into ledger_entries (tenant, account_id, seq, type, amount, balance_after, cause_kind, cause_id, program_ref, at)
         values (?, ?, 1, 'REWARD', 1, 1, 'purchase', 'x', 'cashback-default@1.0.0', now())`,
        [T, nowhere],
      );
      written = true; // the statement itself passes; its check waits for the COMMIT
    });
    await expect(attempt).rejects.toMatchObject({ code: '23503' });
    expect(written).toBe(true);
    expect(await db.em().execute('select 1 from ledger_entries where tenant = ? and account_id = ?', [T, nowhere])).toEqual([]);
  });

  it("plans the references' checks once per connection, at the COMMIT that goes out with the key's answer", async () => {
    const one = await openDatabase(target.url, { poolSize: 1 }); // one connection: its cached plans are all of them
    const keys = new IdempotencyRepository();
    try {
      // As a ledger operation under an Idempotency-Key runs: the claim, the unit of work, the answer with the COMMIT.
      const answered: string[] = [];
      for (let i = 0; i < 4; i++) {
        const a = id('checked');
        const key = id('key');
        answered.push(key);
        await one.em().transactional(async (em) => {
          await keys.claim(em, { tenant: T, key, requestHash: 'h', method: 'POST', path: '/v1/ledger', now: new Date('2026-03-02T10:00:00Z') });
          await new PgLedgerStore(em, new OutboxRepository()).withAccount(T, a, async (uow) => {
            await uow.saveAccount(account(a));
            await uow.saveTransaction(purchase(id('ctx'), a));
          });
          await keys.complete(em, { tenant: T, key, status: 201, contentType: 'application/json', body: '{}' }, LAST_STATEMENT);
        });
      }
      for (const key of answered) expect(await keys.find(one.em(), T, key)).toMatchObject({ answer: { status: 201 } });
      // A plan PostgreSQL keeps for a statement is a generic one (a custom plan is dropped once run): the check's is,
      // so it was planned once, not for each transaction.
      const kept = await one.em().execute<{ ident: string }[]>("select ident from pg_backend_memory_contexts where name = 'CachedPlan'");
      expect(kept.some((p) => p.ident.startsWith('SELECT 1 FROM ONLY "public"."ledger_accounts"'))).toBe(true);
    } finally {
      await one.close();
    }
  });
});
