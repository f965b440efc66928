/** Opens the store named by a DATABASE_URL (PostgreSQL server or embedded PGlite) and applies migrations. */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM as PgliteMikroORM } from '@mikro-orm/pglite';
import { MikroORM as PostgresMikroORM } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { DomainError } from '../errors/index.js';
import { POOL_BUSY } from './database-faults.js';
import { dropConnection, PostgresProbe, withTimeout } from './database-probe.js';
import { entities } from './entities.js';
import { migrationsList } from './migrations/index.js';
import { forgetPendingBegin } from './pipelined-begin.js';
import { nameRepeatedStatements, StatementNamer } from './prepared-statements.js';

export type StoreKind = 'postgresql' | 'pglite';

export interface DatabaseOptions {
  /** Apply pending migrations on open (the service does; tools that only read may not). */
  migrate?: boolean;
  /** Connection pool size for PostgreSQL (PGlite is a single connection). */
  poolSize?: number;
  /** PostgreSQL only; without them a frozen server holds every request forever. */
  timeouts?: DatabaseTimeouts;
  debug?: boolean;
  /** PostgreSQL only: run repeated statements as named prepared statements (default true; see prepared-statements.ts). */
  preparedStatements?: boolean;
  /** PostgreSQL with named statements only: send a transaction's BEGIN with its first statement (default true; see pipelined-begin.ts). */
  pipelineBegin?: boolean;
}

/** Bounds on every pooled PostgreSQL connection (milliseconds). */
export interface DatabaseTimeouts {
  /** Waiting for a pooled connection, opening one included (pg-pool's connectionTimeoutMillis). */
  acquireMs: number;
  /** The server cancels a statement running longer (statement_timeout, SQLSTATE 57014). */
  statementMs: number;
  /** The server ends a session left idle inside a transaction longer (idle_in_transaction_session_timeout). */
  idleInTransactionMs: number;
}

/**
 * A server that answers nothing cannot enforce statement_timeout: the client gives up this long after it, and drops
 * the connection (its transaction dies with it; reusing it would queue the next request behind the lost answer).
 */
export const READ_TIMEOUT_MARGIN_MS = 2_000;

/** The advisory lock key that serialises migrations across instances (any constant unique to this service). */
const MIGRATION_LOCK = 0x64656369; // 'deci'

export interface Database {
  readonly kind: StoreKind;
  readonly orm: MikroORM;
  /** A fresh EntityManager; callers fork per unit of work so identity maps never leak across requests. */
  em(): SqlEntityManager;
  /**
   * Resolves when the database answers `select 1` within `timeoutMs`, on a connection of its own (PostgreSQL): it never
   * waits for the pool, so readiness answers in time whatever the pool or the server is doing.
   */
  check(timeoutMs: number): Promise<void>;
  /** The PostgreSQL pool's connections now (metrics); undefined on PGlite (one connection) or before the pool opens. */
  poolUsage(): PoolUsage | undefined;
  close(): Promise<void>;
}

export interface PoolUsage {
  /** Open connections, idle ones included. */
  total: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
  /** The pool's size (DB_POOL_SIZE). */
  max: number;
}

/** Parses `postgres://…`, `postgresql://…`, `pglite://memory` or `pglite://<dir>`. */
export function parseDatabaseUrl(url: string): { kind: StoreKind; target: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgresql', target: url };
  if (url.startsWith('pglite://')) {
    const rest = url.slice('pglite://'.length);
    if (rest === '') throw new DomainError('CONFIG_INVALID', 'DATABASE_URL pglite:// needs a folder or "memory"', 'invalid');
    return { kind: 'pglite', target: rest === 'memory' ? 'memory://' : rest };
  }
  throw new DomainError(
    'CONFIG_INVALID',
    `DATABASE_URL must start with postgres://, postgresql:// or pglite:// (got "${url.split(':')[0]}:…")`,
    'invalid',
  );
}

/**
 * What the URL says of the connection, as pg reads it. MikroORM takes only host, port, user, password and database
 * from its clientUrl; the rest of a libpq-style URL would be dropped without a word: a socket directory (`?host=`, so
 * the pool went over TCP to localhost), TLS (`sslmode`, `sslrootcert`, …), `application_name`, server `options`.
 */
export function urlConnectionOptions(url: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(parseIntoClientConfig(url)).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * The migrations' connection: as the URL says, but with no statement timeout, whatever the URL (`?statement_timeout=`,
 * `options=-c statement_timeout=…`) or the role sets: a long index build must not fail the start.
 */
export function migrationConnectionOptions(url: string): Record<string, unknown> {
  const { statement_timeout: _requestsOnly, ...fromUrl } = urlConnectionOptions(url);
  return { ...fromUrl, options: serverOptions(fromUrl, '-c statement_timeout=0') };
}

/** The URL's server options (`options=-c …`), then `ours`: the last -c of a setting is the one PostgreSQL applies. */
function serverOptions(fromUrl: Record<string, unknown>, ours: string): string {
  return [typeof fromUrl.options === 'string' ? fromUrl.options : '', ours].filter(Boolean).join(' ');
}

/** Options for every pooled connection: the URL's, the timeouts (and a client dropped when a read times out), statement names. */
function poolOptions(url: string, t: DatabaseTimeouts | undefined, namer: StatementNamer | undefined, pipelineBegin: boolean, created: (pool: pg.Pool) => void): Record<string, unknown> {
  const fromUrl = urlConnectionOptions(url);
  // Server options the URL sets are kept, ahead of the plan mode named statements need. (No TimeZone of ours: a
  // pooler before PgBouncer 1.20 refuses the options parameter, and pgTimestamp reads any offset a zone prints.)
  const options = serverOptions(fromUrl, namer ? '-c plan_cache_mode=force_custom_plan' : '');
  return {
    ...fromUrl,
    onPoolCreated: (pool: pg.Pool) => {
      created(pool);
      if (t) {
        pool.on('connect', dropOnReadTimeout);
        releaseDeadClients(pool);
        markBusyPool(pool);
      }
      // After dropOnReadTimeout: the named form still goes through its read-timeout guard.
      if (namer) nameStatements(pool, namer, pipelineBegin);
    },
    ...(t ? timeoutOptions(t) : {}),
    // Named statements save the parse and analysis; their plans stay custom (made for each execution's values, as for
    // an unnamed statement). A generic plan, which PostgreSQL may switch to after five executions, cost the features
    // read dearly: same-run, 1,000,000 prior events, refund decisions with features ran at 258/s instead of 469/s.
    // Forcing generic plans for the decision's transaction only (tried 2026-12-03) saved 0.6 ms of planning per decision
    // on an analyzed million-event history, and was a disaster on a young one: a plan made while the tables were
    // nearly empty stays cached per connection as they grow (900 ms per features read, 20 decisions/s instead of 250).
    // Only a statement that reads no table by a chosen scan may plan generically: the refund decision's write
    // (refund-decisions.repository.ts) and the ledger's (GENERIC_PLAN in prepared-statements.ts) do; and the features
    // read, which the history's lookup index alone can serve and which plans with sequential and bitmap scans off
    // (GENERIC_INDEX_PLAN: a plan made on a 30-row history was a sequential scan, kept as it grew).
    ...(options ? { options } : {}),
  };
}

/** Named statements (and pipelined BEGINs) on every connection the pool opens. */
export function nameStatements(pool: pg.Pool, namer: StatementNamer, pipelineBegin: boolean): void {
  pool.on('connect', (client) => nameRepeatedStatements(client, namer, { pipelineBegin }));
  // A BEGIN the client never sent opened nothing on the server: it must not start the next holder's transaction; nor
  // may a commit sent ahead (THEN_COMMIT) answer the next holder's COMMIT.
  pool.on('release', (_err, client) => forgetPendingBegin(client));
}

function timeoutOptions(t: DatabaseTimeouts): Record<string, unknown> {
  return {
    connectionTimeoutMillis: t.acquireMs,
    statement_timeout: t.statementMs,
    idle_in_transaction_session_timeout: t.idleInTransactionMs,
    query_timeout: t.statementMs + READ_TIMEOUT_MARGIN_MS,
    // Notices a peer that vanished (host down, network cut) on idle connections; a frozen server still acks these.
    keepAlive: true,
  };
}

/**
 * Gives the pool back a checked-out client whose connection ended (server killed, stopped or restarted, session
 * ended by idle_in_transaction_session_timeout, a read timeout's drop). Kysely's controlled transactions, which
 * MikroORM's transactional() runs on, release their connection only after a BEGIN, COMMIT or ROLLBACK that succeeds
 * (kysely-org/kysely#1990): on a dead connection none does, and each outage kept a few of the pool's slots for good
 * until every request waited for a connection (503 without end after the database was back). Released with an error,
 * pg-pool discards the client and opens a new one for the next waiter; the holder's own release, if it ever comes, is
 * then a no-op instead of pg-pool's "released twice" error.
 */
export function releaseDeadClients(pool: pg.Pool): void {
  const checkedOut = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_err, client) => checkedOut.delete(client));
  pool.on('connect', (client) => {
    client.once('end', () => {
      if (!checkedOut.has(client)) return;
      const release = client.release.bind(client);
      client.release = () => undefined;
      release(new Error('connection ended while checked out'));
    });
  });
}

/**
 * Tells a busy pool from an absent database. pg-pool says "timeout exceeded when trying to connect" when a wait for a
 * connection runs out, whether its connections are all checked out to work (the database answers; there is more work
 * in flight than connections) or still trying to connect (the database is away). Only the first is retagged
 * (POOL_BUSY), so that a saturated pool is not logged as an outage. Counted by checkout, not by connection: a
 * connection pg-pool is closing stays "connected" until its socket closes, which a network cut can make last minutes.
 * A frozen server with every connection checked out also looks busy here; the statements those connections wait on
 * then time out, and report the outage.
 */
export function markBusyPool(pool: pg.Pool): void {
  const checkedOut = new Set<pg.PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_err, client) => checkedOut.delete(client));
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) => {
    const result = connect(...args);
    // The callback form (unused here) is left as it is.
    if (!(result instanceof Promise)) return result;
    return result.catch((e: unknown) => {
      const max = pool.options.max ?? 10;
      if ((e as Error | undefined)?.message === 'timeout exceeded when trying to connect' && checkedOut.size >= max) {
        throw Object.assign(new Error(`no pooled connection came free within the acquire timeout: all ${max} busy`, { cause: e }), { code: POOL_BUSY });
      }
      throw e;
    });
  };
}

/**
 * pg rejects a query whose read timeout fires but keeps the connection, busy with the lost query: the next user would
 * queue behind it and, after the server wakes, could even run inside the lost query's transaction. Drop it instead.
 */
function dropOnReadTimeout(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return result.catch((e: unknown) => {
      if ((e as Error | undefined)?.message === 'Query read timeout') dropConnection(client);
      throw e;
    });
  };
}

/** Where a postgres:// URL points, for messages: database name, host:port, user (no password). */
export function describePostgresUrl(url: string): { database: string; host: string; port: string; user: string | undefined } {
  const u = new URL(url);
  return {
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
    host: u.hostname || 'localhost',
    port: u.port || '5432',
    user: u.username ? decodeURIComponent(u.username) : undefined,
  };
}

/**
 * Connects once to the database `url` names: a database that does not exist (SQLSTATE 3D000) is a DATABASE_MISSING
 * error saying how to create it; any other failure is thrown as it is (startup-errors.ts words it).
 */
async function requireDatabase(url: string, connectTimeoutMs: number | undefined): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'decision-api start', ...(connectTimeoutMs ? { connectionTimeoutMillis: connectTimeoutMs } : {}) });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    dropConnection(client);
    if ((e as { code?: string }).code !== '3D000') throw e;
    const d = describePostgresUrl(url);
    const createdb = ['createdb', '-h', d.host, '-p', d.port, ...(d.user ? ['-U', d.user] : []), d.database].map(shellWord).join(' ');
    throw new DomainError('DATABASE_MISSING', `database "${d.database}" does not exist on ${d.host}:${d.port}; create it with: ${createdb}`, 'unavailable');
  }
  await client.end().catch(() => undefined);
}

/** A word as a POSIX shell reads it back (quoted only when it needs to be). */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const { kind, target } = parseDatabaseUrl(url);
  const common = {
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, snapshot: false, snapshotOnMigrate: false, silent: true, tableName: 'schema_migrations' },
    debug: options.debug ?? false,
    // Never create the database DATABASE_URL names (MikroORM would, on connect): a typo would start a new, empty one.
    ensureDatabase: false,
    // Entities are defined with defineEntity; no reflection or discovery of files.
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
  };
  let orm: MikroORM;
  let check: (timeoutMs: number) => Promise<void>;
  let closeProbe = () => {};
  let pool: pg.Pool | undefined;
  if (kind === 'postgresql') {
    const t = options.timeouts;
    // The migrator creates a missing database whatever ensureDatabase says (Migrator.init): find out first.
    await requireDatabase(target, t?.acquireMs);
    if (options.migrate ?? true) {
      // Migrations are not requests: a long index build must not hit the statement timeout. Their own short-lived
      // connection, bounded only in how long it may take to open.
      const migrator = await PostgresMikroORM.init({
        ...common,
        clientUrl: target,
        pool: { min: 0, max: 1 },
        driverOptions: { ...migrationConnectionOptions(target), ...(t ? { connectionTimeoutMillis: t.acquireMs } : {}) },
      });
      // Replicas starting together would each create schema_migrations and apply the same migration (all but one
      // then fail to start): one at a time, under a lock held by a session of its own (released if this process dies).
      // Its lock waits as long as another replica migrates: no statement timeout either.
      const lock = new pg.Client({ ...migrationConnectionOptions(target), application_name: 'decision-api migrations', ...(t ? { connectionTimeoutMillis: t.acquireMs } : {}) });
      lock.on('error', () => undefined); // a lost lock session surfaces as the migration's own error
      try {
        await lock.connect();
        await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
        await migrator.migrator.up();
      } finally {
        await migrator.close(true);
        dropConnection(lock);
      }
    }
    orm = await PostgresMikroORM.init({
      ...common,
      clientUrl: target,
      pool: { min: 0, max: options.poolSize ?? 8 },
      driverOptions: poolOptions(target, t, (options.preparedStatements ?? true) ? new StatementNamer() : undefined, options.pipelineBegin ?? true, (p) => (pool = p)),
    });
    const probe = new PostgresProbe(target);
    check = (timeoutMs) => probe.check(timeoutMs);
    closeProbe = () => probe.close();
  } else {
    if (target !== 'memory://') mkdirSync(resolve(target), { recursive: true });
    orm = await PgliteMikroORM.init({ ...common, dbName: target === 'memory://' ? 'memory://' : resolve(target) });
    if (options.migrate ?? true) await orm.migrator.up();
    // In process: it cannot be away, but its one connection can be busy with a long transaction.
    check = (timeoutMs) => withTimeout((orm.em.fork() as unknown as SqlEntityManager).execute('select 1').then(() => undefined), timeoutMs, 'the database');
  }
  const db: Database = {
    kind,
    orm,
    em: () => orm.em.fork() as unknown as SqlEntityManager,
    check,
    poolUsage: () => (pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max } : undefined),
    close: async () => {
      closeProbe();
      await orm.close(true);
    },
  };
  return db;
}
