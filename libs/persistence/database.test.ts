/**
 * The pool survives connections that die inside a transaction (found by test/chaos.e2e.test.ts: after a few outages
 * every pooled connection was a dead one still checked out, and the service answered 503 with the database back).
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';

const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

describeOnPostgres('a pooled connection that dies inside a transaction (PostgreSQL)', () => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await createTestDatabase('pool_dead_clients');
    db = await openDatabase(target.url, { poolSize: 2, timeouts: { acquireMs: 2_000, statementMs: 5_000, idleInTransactionMs: 5_000 } });
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  /** Another session ends the transaction's own backend, as a server restart or an idle-in-transaction timeout does. */
  async function transactionWhoseConnectionDies(): Promise<unknown> {
    return db
      .em()
      .transactional(async (em) => {
        const [row] = await em.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
        const admin = new pg.Client({ connectionString: target.url });
        await admin.connect();
        try {
          await admin.query('select pg_terminate_backend($1)', [row!.pid]);
        } finally {
          await admin.end();
        }
        await em.execute('select 1');
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
  }

  it('is given back to the pool: more such transactions than the pool has connections, then a query still runs', async () => {
    for (let i = 0; i < 4; i++) expect(await transactionWhoseConnectionDies()).toBeInstanceOf(Error);
    // Before the fix each dead connection stayed checked out: with both slots gone this waited out the acquire
    // timeout ("timeout exceeded when trying to connect").
    expect(await db.em().execute('select 1 as one')).toEqual([{ one: 1 }]);
    expect(await db.em().transactional((em) => em.execute('select 2 as two'))).toEqual([{ two: 2 }]);
  });
});
