/**
 * The pool survives connections that die inside a transaction (found by test/chaos.e2e.test.ts: after a few outages
 * every pooled connection was a dead one still checked out, and the service answered 503 with the database back).
 */
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { databaseFault } from './database-faults.js';
import { markBusyPool, migrationConnectionOptions, openDatabase, urlConnectionOptions, type Database } from './database.js';

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

describeOnPostgres('a wait for a connection that runs out (PostgreSQL)', () => {
  it('is a busy pool while every connection is checked out to work', async () => {
    const target = await createTestDatabase('pool_busy');
    const db = await openDatabase(target.url, { poolSize: 2, timeouts: { acquireMs: 300, statementMs: 5_000, idleInTransactionMs: 5_000 } });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let started = 0;
      const holders = [0, 1].map(() =>
        db.em().transactional(async (em) => {
          await em.execute('select 1');
          started++;
          await held;
        }),
      );
      while (started < 2) await new Promise((r) => setTimeout(r, 10));
      const waited = await db.em().execute('select 1').then(() => undefined, (e: unknown) => e);
      expect(databaseFault(waited)).toEqual({ kind: 'busy', reason: 'no pooled connection came free within the acquire timeout: all 2 busy' });
      release();
      await Promise.all(holders);
    } finally {
      await db.close();
      await target.drop();
    }
  });

  it('is an outage while the pool\'s connections are still trying to connect', async () => {
    // A server that accepts TCP and never answers: the pool's one connection hangs connecting, the second caller waits
    // in the pool's queue, and its wait runs out with no connection checked out.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    // A bare pool as openDatabase makes one (which would refuse to start on such a server).
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'x', database: 'x', max: 1, connectionTimeoutMillis: 300 });
    markBusyPool(pool);
    try {
      const [connecting, queued] = await Promise.all([0, 1].map(() => pool.connect().then(() => undefined, (e: unknown) => e)));
      expect((connecting as Error).message).toBe('Connection terminated due to connection timeout');
      expect((queued as Error).message).toBe('timeout exceeded when trying to connect');
      expect(databaseFault(queued)?.kind).toBe('outage');
    } finally {
      await pool.end().catch(() => undefined);
      silent.close();
    }
  });
});

describeOnPostgres("the pool connects as the URL says, not only to its host, port, user and database (PostgreSQL)", () => {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await createTestDatabase('pool_url');
  });
  afterAll(async () => {
    await target?.drop();
  });

  /** The URL with these query parameters added. */
  const withParams = (params: Record<string, string>): string => {
    const u = new URL(target.url);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  };

  it("keeps the URL's application_name and server options, with the plan mode named statements need", async () => {
    const db = await openDatabase(withParams({ application_name: 'pool-url-test', options: '-c lock_timeout=4321' }));
    try {
      const [row] = await db.em().execute<{ app: string; lock: string; plans: string }[]>(
        "select current_setting('application_name') as app, current_setting('lock_timeout') as lock, current_setting('plan_cache_mode') as plans",
      );
      expect(row).toEqual({ app: 'pool-url-test', lock: '4321ms', plans: 'force_custom_plan' });
    } finally {
      await db.close();
    }
  });

  it('runs the migrations with no statement timeout, even where the URL sets one too short for them', async () => {
    const fresh = await createTestDatabase('pool_url_migrations');
    try {
      const u = new URL(fresh.url);
      u.searchParams.set('options', '-c statement_timeout=1');
      // The pool's own timeout (a startup parameter) wins over the URL's -c for requests.
      const db = await openDatabase(u.toString(), { timeouts: { acquireMs: 5_000, statementMs: 5_000, idleInTransactionMs: 5_000 } });
      try {
        const [row] = await db.em().execute<{ n: string | number }[]>('select count(*) as n from schema_migrations');
        expect(Number(row!.n)).toBeGreaterThan(20);
      } finally {
        await db.close();
      }
    } finally {
      await fresh.drop();
    }
  });

  it('reaches the server through the socket directory the URL names (`?host=`), where this server has one here', async () => {
    const admin = new pg.Client({ connectionString: target.url });
    await admin.connect();
    const { rows } = await admin.query<{ dirs: string; port: string }>("select current_setting('unix_socket_directories') as dirs, current_setting('port') as port");
    await admin.end();
    const port = rows[0]!.port;
    const dir = rows[0]!.dirs.split(',').map((d) => d.trim()).find((d) => d !== '' && existsSync(`${d}/.s.PGSQL.${port}`));
    // A server in a container (Testcontainers) or on another host has no socket on this machine, and a socket may ask
    // for another authentication (Debian's `peer`): nothing to compare with.
    if (!dir) return;
    const direct = new pg.Client({ connectionString: target.url, host: dir, port: Number(port) });
    const reachable = await direct.connect().then(() => true, () => false);
    await direct.end().catch(() => undefined);
    if (!reachable) return;
    const db = await openDatabase(withParams({ host: dir, port }));
    try {
      const [row] = await db.em().execute<{ addr: string | null }[]>('select inet_client_addr() as addr');
      expect(row).toEqual({ addr: null }); // null: not over TCP
    } finally {
      await db.close();
    }
  });
});

describe('what a postgres:// URL says of its connections', () => {
  it('keeps what MikroORM alone would drop: a socket directory, TLS, the application name, server options', () => {
    expect(urlConnectionOptions('postgres://app:s%40cret@localhost:6432/ledger?host=/var/run/postgresql&sslmode=verify-full&application_name=api&options=-c%20lock_timeout%3D5s')).toEqual({
      user: 'app',
      password: 's@cret',
      host: '/var/run/postgresql',
      port: 6432,
      database: 'ledger',
      sslmode: 'verify-full',
      ssl: {},
      application_name: 'api',
      options: '-c lock_timeout=5s',
    });
  });

  it("gives the migrations no statement timeout, whatever the URL sets, and keeps the URL's other server options", () => {
    const m = migrationConnectionOptions('postgres://app@db.internal/ledger?statement_timeout=5000&options=-c%20statement_timeout%3D7000%20-c%20lock_timeout%3D5s');
    expect(m).not.toHaveProperty('statement_timeout');
    // The last -c of a setting is the one PostgreSQL applies.
    expect(m.options).toBe('-c statement_timeout=7000 -c lock_timeout=5s -c statement_timeout=0');
    expect(migrationConnectionOptions('postgres://app@db.internal/ledger').options).toBe('-c statement_timeout=0');
  });
});
