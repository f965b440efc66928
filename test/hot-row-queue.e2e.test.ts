/**
 * Requests waiting for one row keep the pool free (libs/persistence/keyed-queue.ts): writes to one ledger account, and
 * retries of one request under one Idempotency-Key, wait for their turn in the service, not each on a pooled
 * connection blocked on the row's lock. With a pool of 2 and the account's row locked by someone else, six writes to
 * it (or to its transactions, once the service has written them) hold one connection between them, and a write to
 * another account still gets the other.
 *
 * PostgreSQL only: PGlite has a single connection and no lock waits to speak of.
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newKey } from './support/harness.js';
import { ServiceProcess } from './support/service-process.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const suite = onPostgres ? describe : describe.skip;

suite('one row, one pooled connection', () => {
  let db: TestDatabase;
  let svc: ServiceProcess;
  let key: string;

  beforeAll(async () => {
    db = await createTestDatabase('hot_row_queue');
    // Acquire timeout 2 s: a request that finds no free connection for that long answers 503.
    svc = await ServiceProcess.onDatabase(db.url, { DB_POOL_SIZE: '2', DB_ACQUIRE_TIMEOUT_MS: '2000' });
    key = await svc.issueKey('acme', ['service']);
    for (const account of ['hot', 'cold']) {
      const r = await svc.request('PUT', `/v1/ledger/accounts/${account}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } });
      expect(r.status).toBe(201);
    }
  }, 90_000);
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const purchase = (account: string, transactionId: string, idempotencyKey = newKey()) =>
    svc.request('POST', `/v1/ledger/accounts/${account}/transactions`, {
      key,
      idempotencyKey,
      body: { transactionId, amount: 1000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' },
    });

  /** Runs `during` while this test holds the hot account's row lock, as a long transaction elsewhere would. */
  async function withHotRowLocked<T>(during: (waiting: () => Promise<number>) => Promise<T>): Promise<T> {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query("select 1 from ledger_accounts where tenant = 'acme' and account_id = 'hot' for update");
      // The service's connections blocked on a lock (this test's own is not waiting).
      const waiting = async () =>
        Number((await locker.query("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].n);
      return await during(waiting);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
  }

  async function untilSomeoneWaits(waiting: () => Promise<number>): Promise<void> {
    for (let i = 0; i < 200 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    // Long enough for the other writes to have taken connections too, had they been let through.
    await new Promise((r) => setTimeout(r, 500));
  }

  it('six writes to a locked account: one waits on the lock, the other account is written meanwhile, and all six land after', async () => {
    let hot: Promise<{ status: number }[]> | undefined;
    const seen = await withHotRowLocked(async (waiting) => {
      hot = Promise.all(Array.from({ length: 6 }, (_, i) => purchase('hot', `hot-${i}`)));
      await untilSomeoneWaits(waiting);
      const blocked = await waiting();
      const cold = await purchase('cold', 'cold-1');
      return { blocked, cold: cold.status };
    });
    expect(seen).toEqual({ blocked: 1, cold: 201 });
    expect((await hot!).map((r) => r.status)).toEqual(Array(6).fill(201));
  }, 60_000);

  it('writes naming six transactions of a locked account, once they are known: one waits on the lock, the other account is written meanwhile', async () => {
    // Purchases made through this instance: it now knows each transaction's account, and queues their writes on it.
    for (let i = 0; i < 6; i++) expect((await purchase('hot', `hot-tx-${i}`)).status).toBe(201);
    const write = (i: number) => svc.request('POST', `/v1/ledger/transactions/hot-tx-${i}/settle`, { key, idempotencyKey: newKey(), body: { settledAt: '2026-03-03T10:00:00Z' } });
    let hot: Promise<{ status: number }[]> | undefined;
    const seen = await withHotRowLocked(async (waiting) => {
      hot = Promise.all(Array.from({ length: 6 }, (_, i) => write(i)));
      await untilSomeoneWaits(waiting);
      const blocked = await waiting();
      const cold = await purchase('cold', 'cold-3');
      return { blocked, cold: cold.status };
    });
    expect(seen).toEqual({ blocked: 1, cold: 201 });
    expect((await hot!).map((r) => r.status)).toEqual(Array(6).fill(200));
  }, 60_000);

  it("six retries of one request under one key: one waits, the rest wait their turn without a connection, then replay the first answer", async () => {
    const k = newKey('retry');
    let retries: Promise<{ status: number; headers: Headers; text: string }[]> | undefined;
    const seen = await withHotRowLocked(async (waiting) => {
      retries = Promise.all(Array.from({ length: 6 }, () => purchase('hot', 'hot-retried', k)));
      await untilSomeoneWaits(waiting);
      const blocked = await waiting();
      const cold = await purchase('cold', 'cold-2');
      return { blocked, cold: cold.status };
    });
    expect(seen).toEqual({ blocked: 1, cold: 201 });
    const answers = await retries!;
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(5);
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
  }, 60_000);
});
