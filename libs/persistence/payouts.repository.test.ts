/**
 * A settlement's read of the paid refunds whose clawback waits for it (PayoutsRepository.deferredClawbacks): what it
 * finds, in which order, on both stores; on PostgreSQL, that it is planned once per connection and leaves the rest of
 * its transaction planned per execution.
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { OutboxRepository } from './outbox.repository.js';
import { DEFERRED_CLAWBACKS, PayoutsRepository } from './payouts.repository.js';
import { GENERIC_INDEX_PLAN } from './prepared-statements.js';
import { RefundsRepository } from './refunds.repository.js';
import { withParameters } from './statement-parameters.js';

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

describe.each(stores)('PayoutsRepository.deferredClawbacks (%s)', (store, open) => {
  let db: Database;
  let drop: (() => Promise<void>) | undefined;
  const repo = new PayoutsRepository(new RefundsRepository(), new OutboxRepository());

  beforeAll(async () => {
    const o = await open();
    drop = o.drop;
    db = await openDatabase(o.url, { poolSize: 1 }); // one connection: its prepared statements are all of them
    let decisions = 0;
    const paid = (tenant: string, refundId: string, state: string, status: string, transactionId: string, updatedAt: string, amount: number) =>
      db.em().execute(
        `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency,
                              reward, clawback, requested_by, decision_id, created_at, updated_at)
         values (?, ?, 'refund', 'o1', 'c1', ?, ?, ?, 10000, 'EUR', ?::jsonb, ?::jsonb, 'k1', ?::uuid, ?::timestamptz, ?::timestamptz)`,
        [tenant, refundId, state, amount, amount, JSON.stringify({ accountId: 'a1', transactionId }), JSON.stringify({ status }), `00000000-0000-7000-8000-${String(++decisions).padStart(12, '0')}`, updatedAt, updatedAt],
      );
    await paid('acme', 'rf-late', 'SUCCEEDED', 'deferred', 'tx-1', '2026-03-02T10:00:00Z', 300);
    await paid('acme', 'rf-early', 'SUCCEEDED', 'deferred', 'tx-1', '2026-03-01T10:00:00Z', 200);
    await paid('acme', 'rf-posted', 'SUCCEEDED', 'posted', 'tx-1', '2026-03-01T09:00:00Z', 100);
    await paid('acme', 'rf-other-tx', 'SUCCEEDED', 'deferred', 'tx-2', '2026-03-01T09:00:00Z', 100);
    await paid('other', 'rf-other-tenant', 'SUCCEEDED', 'deferred', 'tx-1', '2026-03-01T09:00:00Z', 100);
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
  let decisions = 0;
  const refund = (refundId: string, state: string, clawback: string | null, transactionId: string) =>
    db.em().execute(
      `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency,
                            reward, clawback, requested_by, decision_id, created_at, updated_at)
       values ('acme', ?, 'refund', 'o1', 'c1', ?, 100, 100, 10000, 'EUR', ?::jsonb, ?::jsonb, 'k1', ?::uuid, now(), now())`,
      [refundId, state, JSON.stringify({ accountId: 'a1', transactionId }), clawback === null ? null : JSON.stringify({ status: clawback }), `00000000-0000-7000-8000-${String(++decisions).padStart(12, '0')}`],
    );

  beforeAll(async () => {
    target = await createTestDatabase('payouts_deferred_plan');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('plans by the partial index even when the statistics have seen no paid refund (refunds_by_state is bounded by the tenant and state too)', async () => {
    for (let i = 0; i < 200; i++) await refund(`rf-approved-${i}`, 'APPROVED', null, `tx-${i}`);
    await db.em().execute('analyze refunds');
    // As the service plans it once a connection has named it: generic, index scans only.
    const plan = await db.em().transactional(async (em) => {
      for (const set of ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_bitmapscan = off']) await em.execute(`set local ${set}`);
      await em.execute(`prepare deferred_fresh (text, text) as ${withParameters(DEFERRED_CLAWBACKS, ['', '']).sql}`);
      const explained = await em.execute<Record<string, string>[]>("explain execute deferred_fresh('acme', 'tx-1')");
      await em.execute('deallocate deferred_fresh');
      return explained.map((r) => Object.values(r)[0]).join('\n');
    });
    expect(plan).toContain('Index Scan using refunds_deferred_clawbacks');
    expect(plan).not.toContain('refunds_by_state');
  });

  it('locks what it finds until the transaction ends', async () => {
    await refund('rf-waiting', 'SUCCEEDED', 'deferred', 'tx-locked');
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
