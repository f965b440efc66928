/**
 * A settlement's read of the paid refunds whose clawback waits for it (PayoutsRepository.deferredClawbacks): what it
 * finds, in which order, on both stores; on PostgreSQL, that it is planned once per connection and leaves the rest of
 * its transaction planned per execution.
 */
import pg from 'pg';
import { createTestDatabase, genericIndexPlan, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { OutboxRepository } from './outbox.repository.js';
import { DEFERRED_CLAWBACKS, PayoutsRepository } from './payouts.repository.js';
import { GENERIC_INDEX_PLAN } from './prepared-statements.js';
import { RefundsRepository } from './refunds.repository.js';

const stores: [string, () => Promise<{ url: string; drop?: () => Promise<void> }>][] = [['PGlite', () => Promise.resolve({ url: 'pglite://memory' })]];
if (process.env.TEST_DATABASE_URL) {
  stores.push([
    'PostgreSQL',
    async () => {
      const t: TestDatabase = await createTestDatabase('payouts_deferred');
      return { url: t.url, drop: () => t.drop() };
    },
  ]);
}

let decisions = 0;

/** A refund row as a payout leaves it (SUCCEEDED, its clawback deferred to `transactionId`) unless told otherwise. */
function paid(
  db: Database,
  r: { tenant?: string; refundId: string; state?: string; clawback?: string | null; transactionId: string; updatedAt?: string; amount?: number },
) {
  const at = r.updatedAt ?? '2026-03-01T09:00:00Z';
  const clawback = r.clawback === undefined ? 'deferred' : r.clawback;
  return db.em().execute(
    `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency,
                          reward, clawback, requested_by, decision_id, created_at, updated_at)
     values (?, ?, 'refund', 'o1', 'c1', ?, ?, ?, 10000, 'EUR', ?::jsonb, ?::jsonb, 'k1', ?::uuid, ?::timestamptz, ?::timestamptz)`,
    [
      r.tenant ?? 'acme',
      r.refundId,
      r.state ?? 'SUCCEEDED',
      r.amount ?? 100,
      r.amount ?? 100,
      JSON.stringify({ accountId: 'a1', transactionId: r.transactionId }),
      clawback === null ? null : JSON.stringify({ status: clawback }),
      `00000000-0000-7000-8000-${String(++decisions).padStart(12, '0')}`,
      at,
      at,
    ],
  );
}

describe.each(stores)('PayoutsRepository.deferredClawbacks (%s)', (store, open) => {
  let db: Database;
  let drop: (() => Promise<void>) | undefined;
  const repo = new PayoutsRepository(new RefundsRepository(), new OutboxRepository());

  beforeAll(async () => {
    const o = await open();
    drop = o.drop;
    db = await openDatabase(o.url, { poolSize: 1 }); // one connection: its prepared statements are all of them
    await paid(db, { refundId: 'rf-late', transactionId: 'tx-1', updatedAt: '2026-03-02T10:00:00Z', amount: 300 });
    await paid(db, { refundId: 'rf-early', transactionId: 'tx-1', updatedAt: '2026-03-01T10:00:00Z', amount: 200 });
    await paid(db, { refundId: 'rf-posted', clawback: 'posted', transactionId: 'tx-1' });
    await paid(db, { refundId: 'rf-other-tx', transactionId: 'tx-2' });
    await paid(db, { tenant: 'other', refundId: 'rf-other-tenant', transactionId: 'tx-1' });
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('finds the paid refunds deferred to this transaction of this tenant, oldest first, and none elsewhere; what follows plans per execution', async () => {
    for (let i = 0; i < 4; i++) {
      const [found, none, after] = await db.em().transactional(async (em) => [
        await repo.deferredClawbacks(em, 'acme', 'tx-1'),
        await repo.deferredClawbacks(em, 'acme', 'tx-none'),
        (await em.execute<{ mode: string; seq: string; bitmap: string }[]>(
          "select current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seq, current_setting('enable_bitmapscan') as bitmap",
        ))[0],
      ]);
      expect(found).toEqual([
        { refundId: 'rf-early', reward: { accountId: 'a1', transactionId: 'tx-1' }, amount: 200, currency: 'EUR' },
        { refundId: 'rf-late', reward: { accountId: 'a1', transactionId: 'tx-1' }, amount: 300, currency: 'EUR' },
      ]);
      expect(none).toEqual([]);
      // Read with nothing found too: its last columns ran (one row whatever it finds).
      expect(after).toMatchObject({ seq: 'on', bitmap: 'on', ...(store === 'PostgreSQL' ? { mode: 'force_custom_plan' } : {}) });
    }
    if (store !== 'PostgreSQL') return;
    const plans = await db.em().execute<{ statement: string; generic: number; custom: number }[]>(
      'select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where from_sql = false',
    );
    // Named from its second execution: the six after it ran on the generic plan.
    expect(plans.find((p) => p.statement.startsWith(GENERIC_INDEX_PLAN) && p.statement.includes("clawback->>'status' = 'deferred'"))).toMatchObject({
      generic: 7,
      custom: 0,
    });
  });
});

const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

describeOnPostgres('PayoutsRepository.deferredClawbacks on PostgreSQL: its plan and its locks', () => {
  let target: TestDatabase;
  let db: Database;
  const repo = new PayoutsRepository(new RefundsRepository(), new OutboxRepository());
  beforeAll(async () => {
    target = await createTestDatabase('payouts_deferred_plan');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('plans by the partial index even when the statistics have seen no paid refund (refunds_by_state is bounded by the tenant and state too)', async () => {
    for (let i = 0; i < 200; i++) await paid(db, { refundId: `rf-approved-${i}`, state: 'APPROVED', clawback: null, transactionId: `tx-${i}` });
    await db.em().execute('analyze refunds');
    // As the service plans it once a connection has named it: generic, index scans only.
    const plan = await genericIndexPlan(db, DEFERRED_CLAWBACKS, ['acme', 'tx-1']);
    expect(plan).toContain('Index Scan using refunds_deferred_clawbacks');
    expect(plan).not.toContain('refunds_by_state');
  });

  it('locks what it finds until the transaction ends', async () => {
    await paid(db, { refundId: 'rf-waiting', transactionId: 'tx-locked' });
    const other = new pg.Client({ connectionString: target.url });
    await other.connect();
    try {
      await db.em().transactional(async (em) => {
        expect((await repo.deferredClawbacks(em, 'acme', 'tx-locked')).map((r) => r.refundId)).toEqual(['rf-waiting']);
        await expect(other.query("select 1 from refunds where refund_id = 'rf-waiting' for update nowait")).rejects.toMatchObject({ code: '55P03' });
      });
      expect((await other.query("select 1 from refunds where refund_id = 'rf-waiting' for update nowait")).rowCount).toBe(1);
    } finally {
      await other.end();
    }
  });
});
