/**
 * A transaction's BEGIN sent with its first statement, in one write and one round trip, instead of on its own.
 *
 * Every transaction here starts with a BEGIN that has nothing to wait for: Kysely (under MikroORM) sends it, waits for
 * its answer, then sends the first real statement. On this kind of host a round trip to PostgreSQL is mostly the two
 * processes' socket work (a CPU profile of the refund decision's HTTP row put ~30% of the service's busy time in
 * `writev` to the database), so a round trip saved per transaction is CPU saved on both sides.
 *
 * How: `client.query('begin', [])` (Kysely's exact call) is answered at once and remembered; the client's next
 * statement with parameters (every repository's) goes out as ONE extended-protocol batch, `BEGIN` then the statement,
 * under one Sync. PostgreSQL runs a BEGIN inside such a batch's implicit transaction as a regular transaction block
 * (PostgreSQL's protocol docs, "Pipelining"), so the statement runs inside the transaction and the block stays open
 * after the batch, exactly as after a separate BEGIN. Anything else that comes first (a statement without parameters,
 * which may hold several; a savepoint; another call form) gets the BEGIN sent ahead of it, as before. A COMMIT or
 * ROLLBACK with nothing sent ends nothing on the server and is answered at once. A BEGIN that never went out cannot
 * outlive its checkout: the pool's release forgets it.
 *
 * The same batches carry a transaction's last statement with its COMMIT, when the statement is marked THEN_COMMIT
 * (prepared-statements.ts): the transaction's own COMMIT after it is then answered here (committedAhead). And a
 * transaction's first statement marked HELD waits, with the BEGIN, for the statement after it (holdFirst): BEGIN, it
 * and that statement are one batch.
 *
 * Applied with the named statements (prepared-statements.ts), so DB_PREPARED_STATEMENTS=false turns it off too.
 */
import pg from 'pg';

const PENDING = Symbol('pendingBegin');
const COMMITTED_AHEAD = Symbol('committedAhead');
const HELD_FIRST = Symbol('heldFirst');

/** A statement with parameters as it goes out in a batch: named only once this connection has parsed it. */
export interface StatementConfig {
  name?: string;
  text: string;
  /** A held statement's are text or null (holdFirst), sent as they are: a batch cannot fail on a value once its BEGIN is out. */
  values: unknown[];
}

export interface Tracked {
  [PENDING]?: boolean;
  /** A transaction's first statement, held with its unsent BEGIN for the next statement's batch (HELD). */
  [HELD_FIRST]?: HeldStatement;
  /** The transaction's last statement went out with its COMMIT (THEN_COMMIT): the caller's own COMMIT is answered here. */
  [COMMITTED_AHEAD]?: boolean;
}

/** A held statement, with the bare statements that go out between the BEGIN and it (its plan mode's SET LOCAL). */
export interface HeldStatement {
  config: StatementConfig;
  plan: readonly string[];
}

/** What pg answers for a command without rows (the fields Kysely reads). */
const commandResult = (command: string) => ({ command, rowCount: null, oid: null, rows: [], fields: [] });

/** pg's connection object, as far as a Query's prepare uses it. */
interface Connection {
  parse(config: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
  parsedStatements: Record<string, string>;
}

type QueryResult = pg.QueryResult | pg.QueryResult[];

/** A part of a batch other than its statement: bare text (BEGIN, SET LOCAL, COMMIT), or a held statement with parameters. */
export type Part = string | StatementConfig;

/**
 * Sends a part: parse (unless named, hence parsed on this connection already), bind, execute; no describe, so it must
 * answer no rows (a held statement answers none, or fails).
 */
function sendPart(connection: Connection, part: Part): void {
  const p = typeof part === 'string' ? { text: part, values: [] } : part;
  if (p.name === undefined) connection.parse({ text: p.text, name: '', types: [] });
  connection.bind({ portal: '', statement: p.name ?? '', values: p.values });
  connection.execute({ portal: '', rows: 0 });
}

/** What of pg's Query a batch overrides: its prepare, and the step that executes the statement and ends the batch. */
interface PgQuery {
  portal: string;
  prepare(connection: Connection): void;
  _getRows(connection: Connection, rows: number | undefined): void;
}

/**
 * A pg Query whose batch starts with unnamed statements without parameters or rows (BEGIN, SET LOCAL; no describe,
 * so no row description), then the statement as pg would send it, then such statements after it (COMMIT), then the
 * one Sync pg ends it with. pg gathers every command's result, so the answer is [each prefix's, the statement's, each
 * suffix's]. The suffixes go out only once the statement is bound and executed: a value pg cannot serialize fails the
 * call before anything runs, and never commits what came before it. PostgreSQL skips what follows a failed statement
 * up to the Sync, so a suffix never runs after a failure either.
 */
class BatchedQuery extends (pg.Query as unknown as new (config: pg.QueryConfig) => PgQuery) {
  constructor(
    config: pg.QueryConfig,
    private readonly prefixes: readonly Part[],
    private readonly suffixes: readonly string[],
  ) {
    super(config);
  }

  override prepare(connection: Connection): void {
    for (const part of this.prefixes) sendPart(connection, part);
    super.prepare(connection);
  }

  // pg's own (8.x): execute the portal, then Sync unless reading pages of rows (never here: no `rows` in the config).
  override _getRows(connection: Connection, rows: number | undefined): void {
    if (rows || this.suffixes.length === 0) return super._getRows(connection, rows);
    connection.execute({ portal: this.portal, rows: 0 });
    for (const text of this.suffixes) sendPart(connection, text);
    connection.sync();
  }
}

type QueryFn = (...args: unknown[]) => unknown;

/** True when this is Kysely's `begin` (no isolation level, no access mode): the one form deferred. */
const isBegin = (text: unknown, values: unknown, callback: unknown): boolean =>
  text === 'begin' && Array.isArray(values) && values.length === 0 && callback === undefined;

/** Sends `config` between `prefixes` and `suffixes` in one batch (see `batched`), resolving to the statement's result. */
export type Send = (query: QueryFn, prefixes: readonly Part[], config: StatementConfig, suffixes: readonly string[]) => Promise<unknown>;

const isEnd = (text: unknown, values: unknown, callback: unknown): boolean =>
  (text === 'commit' || text === 'rollback') && Array.isArray(values) && values.length === 0 && callback === undefined;

/** Kysely's savepoint (`savepoint "name"`, no parameters): a bare statement that may follow a held one in its batch. */
const isSavepoint = (text: unknown, values: unknown, callback: unknown): boolean =>
  typeof text === 'string' && /^savepoint (?:"[A-Za-z0-9_]+"|[A-Za-z0-9_]+)$/i.test(text) && (values === undefined || (Array.isArray(values) && values.length === 0)) && callback === undefined;

/**
 * `call` once what was sent ahead of it has run: pg would queue it anyway (it sends a client's next query only once
 * the previous one is answered), and queueing a call behind a running one is deprecated (removed in pg 9). When the one
 * ahead failed, the call fails with that failure and is not sent (the aborted transaction would refuse it). A call
 * that answers synchronously (a callback, as an argument or a config's `callback`; a submittable such as a cursor) is
 * made at once, queued behind it as before: its caller needs what it returns now, and sees its own failure (those calls
 * would still meet pg 9's removal; none of Kysely's, MikroORM's or ours takes this path with a statement ahead).
 */
function after(ahead: Promise<unknown>, call: () => unknown, args: unknown[]): unknown {
  const synchronous = (a: unknown) =>
    typeof a === 'function' || (typeof a === 'object' && a !== null && (typeof (a as { submit?: unknown }).submit === 'function' || typeof (a as { callback?: unknown }).callback === 'function'));
  if (args.some(synchronous)) {
    const result = call();
    ahead.catch(() => undefined);
    return result;
  }
  return ahead.then(call);
}

/**
 * Wraps `client.query` (whatever wrapper it already has) so that BEGIN waits for the next statement. `run` runs every
 * statement with parameters (the string form, no callback) through `query`, the wrapped function, with `ahead` (the
 * BEGIN, and a held first statement) in the same batch; it may hold a first statement (holdFirst). `send` sends a
 * held statement with what must follow it.
 */
export function deferBegin(client: pg.PoolClient | pg.Client, run: (query: QueryFn, text: string, values: unknown[], ahead: readonly Part[]) => Promise<unknown>, send: Send): void {
  const target = client as unknown as { query: QueryFn } & Tracked;
  const query: QueryFn = target.query.bind(client);
  target.query = (...args: unknown[]) => {
    const [text, values, callback] = args;
    const ahead = answeredAhead(target, text, values, callback);
    if (ahead) return ahead;
    const plain = typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined;
    const held = target[HELD_FIRST];
    if (held) {
      target[HELD_FIRST] = undefined;
      const lead = ['begin', ...held.plan];
      if (plain) return run(query, text, values, [...lead, held.config]);
      // Nothing went out: a ROLLBACK has nothing to end. A COMMIT goes with BEGIN and the held statement.
      if (isEnd(text, values, callback)) return text === 'rollback' ? Promise.resolve(commandResult('ROLLBACK')) : send(query, lead, held.config, ['commit']).then(() => commandResult('COMMIT'));
      // A savepoint (a command's effect in one of its own): it goes in the batch too, after them.
      if (isSavepoint(text, values, callback)) return send(query, lead, held.config, [text as string]).then(() => commandResult('SAVEPOINT'));
      // Anything else (a text without parameters, another call form): BEGIN and the held statement go ahead of it.
      return after(send(query, lead, held.config, []), () => query(...args), args);
    }
    if (!target[PENDING]) {
      if (plain) return run(query, text, values, []);
      if (!isBegin(text, values, callback)) return query(...args);
      target[PENDING] = true;
      return Promise.resolve(commandResult('BEGIN'));
    }
    target[PENDING] = false;
    if (isEnd(text, values, callback)) return Promise.resolve(commandResult((text as string).toUpperCase()));
    if (plain) return run(query, text, values, ['begin']);
    // The BEGIN goes first; this call once it is answered (a callback or submittable call at once, queued behind it).
    return after(query('begin', []) as Promise<unknown>, () => query(...args), args);
  };
}

/**
 * Holds a transaction's first statement (HELD, prepared-statements.ts), its BEGIN not sent yet: both go out with the
 * transaction's next statement, or its COMMIT; a ROLLBACK drops them. Answers at once, without rows. Values must be
 * text or null (as pg sends them): a value pg failed to serialize would fail the batch after its BEGIN went out.
 * `plan`: bare statements sent between the BEGIN and it (SET LOCALs of its plan mode).
 */
export function holdFirst(client: pg.PoolClient | pg.Client, config: StatementConfig, plan: readonly string[] = []): Promise<unknown> | undefined {
  if (!config.values.every((v) => v === null || typeof v === 'string')) return undefined;
  (client as unknown as Tracked)[HELD_FIRST] = { config, plan };
  return Promise.resolve(commandResult('SELECT'));
}

/**
 * Runs `config` between `prefixes` and `suffixes` (statements without parameters or rows) in one batch; resolves to
 * the statement's own result once every part has run. A named statement with prefixes must already be parsed on this
 * connection (pg would take a prefix's parse for its own): check with `isParsed`, and send the prefixes on their own
 * otherwise.
 */
export function batched(query: QueryFn, prefixes: readonly Part[], config: pg.QueryConfig, suffixes: readonly string[]): Promise<unknown> {
  return new Promise<QueryResult>((resolve, reject) => {
    query(new BatchedQuery(config, prefixes, suffixes), (err: Error | null, res: QueryResult) => (err ? reject(err) : resolve(res)));
  }).then((res) => (Array.isArray(res) ? res[prefixes.length]! : res));
}

/**
 * Says this client's transaction was committed with its last statement (THEN_COMMIT): the caller's COMMIT (or
 * ROLLBACK: there is nothing left to roll back) is answered at once; any other statement before it is refused, since
 * it would run outside the transaction it was written for.
 */
export function committedAhead(client: pg.PoolClient | pg.Client): void {
  (client as unknown as Tracked)[COMMITTED_AHEAD] = true;
}

/** The answer to a call that follows a commit sent ahead (committedAhead), or undefined when there was none. */
export function answeredAhead(target: Tracked, text: unknown, values: unknown, callback: unknown): Promise<unknown> | undefined {
  if (!target[COMMITTED_AHEAD]) return undefined;
  target[COMMITTED_AHEAD] = false;
  if (isEnd(text, values, callback)) return Promise.resolve(commandResult((text as string).toUpperCase()));
  const refused = new Error('a statement after its transaction was committed with its last statement (THEN_COMMIT): not run');
  if (typeof callback === 'function') {
    (callback as (e: Error) => void)(refused);
    return Promise.resolve(undefined);
  }
  return Promise.reject(refused);
}

/** Whether this connection has parsed the named statement already. */
export function isParsed(client: pg.PoolClient | pg.Client, name: string): boolean {
  return (client as unknown as { connection: Connection }).connection.parsedStatements[name] !== undefined;
}

/**
 * Forgets a BEGIN the client never sent (it holds no transaction on the server), with any statement held with it, and
 * a commit sent ahead that nobody asked for afterwards: call when the pool takes it back.
 */
export function forgetPendingBegin(client: pg.PoolClient | pg.Client): void {
  (client as unknown as Tracked)[PENDING] = false;
  (client as unknown as Tracked)[COMMITTED_AHEAD] = false;
  (client as unknown as Tracked)[HELD_FIRST] = undefined;
}
