/**
 * Named prepared statements for the statements a process runs again and again. Kysely (under MikroORM) sends every
 * statement unnamed, so PostgreSQL parses, analyses and plans it on every execution: for the refund decision's
 * claim-and-insert that was ~40% of the server's CPU. A name makes each pooled connection parse and analyse it once;
 * plans stay custom, made for each execution's values (database.ts sets plan_cache_mode), but for statements marked
 * GENERIC_PLAN or GENERIC_INDEX_PLAN.
 *
 * Applied at the pg client, so every repository benefits without knowing: a statement text with parameters gets a
 * name derived from its text once it has been seen REPEAT times. Texts without parameters keep the simple protocol
 * (they may hold several statements, as migrations do). The set of names is bounded, so a process that builds
 * statement texts from data (IN lists of varying length, optional CTEs) cannot grow every connection's prepared
 * statements without end; past the bound, new texts stay unnamed.
 *
 * Not for a pooler in transaction mode (PgBouncer before 1.21 routes a session's statements to other servers):
 * DB_PREPARED_STATEMENTS=false turns it off.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { dropConnection } from './database-probe.js';
import { answeredAhead, batched, committedAhead, deferBegin, holdFirst, isParsed, type Part, type StatementConfig, type Tracked } from './pipelined-begin.js';

/**
 * A statement text that starts with this is planned once per connection (a generic plan) where it runs as a named
 * statement: a `SET LOCAL plan_cache_mode` goes ahead of it in the same batch, no extra round trip. Inside a
 * transaction only (outside one the SET ends with the batch). Only for a statement that reads no table by a scan its
 * planner chooses (its plan cannot go stale as tables grow, see database.ts). It must end its generic planning with a
 * CUSTOM_PLAN_AGAIN column, its select's last: what runs after that column (its AFTER triggers, foreign key checks
 * among them, which fire once the statement is done; the statements after it) plans per execution again. What runs
 * before it (BEFORE triggers, functions its CTEs call) plans generically, so must read no table by a chosen scan either.
 */
export const GENERIC_PLAN = '/* generic plan */ ';
const SET_GENERIC = 'set local plan_cache_mode = force_generic_plan';

/**
 * A statement text that starts with this is planned once per connection too, but it reads tables: it must find every
 * row it reads through an index whose leading columns its conditions fix (the features' aggregates: tenant, entity,
 * key, source, kind, then the window's range on `at`), and have no join to plan. Sequential and bitmap scans are off
 * while it plans (SET LOCALs in the same batch), so the plan is that index's scan whatever the tables held when it was
 * made: an empty table's seq scan, or a plan by another index, cannot be kept as the table grows. Planning was half of
 * such a read's cost (the refund features read: 0.58 ms custom, 0.29 ms generic, `pgbench`, 1,000,000 history rows,
 * 2026-12-05). Values the planner bounds an index with must be literals, not parameters, and one per column: a generic
 * plan may filter by `col = any(array)` instead of bounding the scan with it (seen on young tables, literal or not). It must end with ANY_SCAN_AGAIN and, unless the
 * statement after it is to plan generically (the refund decision's write), CUSTOM_PLAN_AGAIN. A statement marked
 * THEN_COMMIT needs neither: nothing runs after it but its COMMIT, and the foreign-key checks deferred to that COMMIT
 * plan the same way (the key's answer and the ledger's references, IdempotencyRepository.complete). That holds for a
 * check of a row that refers (a lookup of the referenced primary key); a check of a deleted or re-keyed referenced
 * row, which would look up the referring rows, must have an index they lead, or not be deferred.
 */
export const GENERIC_INDEX_PLAN = '/* generic index plan */ ';
const INDEX_SCANS_ONLY = ['set local enable_seqscan = off', 'set local enable_bitmapscan = off'];

/**
 * Select-list columns ending a GENERIC_INDEX_PLAN statement: the rest of the transaction may scan tables again. They run
 * once the statement is planned. `on` is PostgreSQL's default; a session configured otherwise gets it back at the
 * transaction's end.
 */
export const ANY_SCAN_AGAIN = "set_config('enable_seqscan', 'on', true) as seqscan_again, set_config('enable_bitmapscan', 'on', true) as bitmapscan_again";

/**
 * The last select-list column of a write planned generically (GENERIC_PLAN, or the refund decision's, switched on by its
 * read): the rest of the transaction makes custom plans again. Custom, not the session's own setting: that is custom
 * wherever statements are named (database.ts); with DB_PREPARED_STATEMENTS=false (mode `auto`) the rest of such a
 * transaction plans per execution, which costs planning time, never a stale plan.
 */
export const CUSTOM_PLAN_AGAIN = "set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode";

/**
 * A statement text that starts with this (before any plan marker) is its transaction's last, and goes out with the
 * transaction's COMMIT in one batch: one round trip instead of two. It resolves once both have run, so the caller
 * still answers only after its rows are durable. The transaction's own COMMIT, sent after it, is then answered at
 * once, and any other statement in between is refused: it would run outside the transaction. A failed statement
 * leaves the transaction failed, as without the mark (PostgreSQL skips the COMMIT), for the caller's ROLLBACK. Only for
 * a statement after which the caller cannot fail the transaction: the commit cannot be taken back. And only in a
 * top-level transaction: inside a savepoint the COMMIT would end the outer one too. Where statements are not named
 * (DB_PREPARED_STATEMENTS=false, PGlite) it is a comment, and the transaction commits as before. A connection lost
 * or timed out while the batch is out leaves its outcome unknown, as a lost COMMIT always did (now for the statement's
 * round trip, not only the COMMIT's): the caller's answer is a 503 that says to resend with the same Idempotency-Key,
 * which replays what committed or decides again.
 */
export const THEN_COMMIT = '/* then commit */ ';

/**
 * A statement text that starts with this, as its transaction's first statement, waits with the BEGIN for the
 * transaction's next statement: BEGIN, it and that statement go out in one batch, one round trip instead of two (a
 * SAVEPOINT goes in that batch after it; with nothing in between, the COMMIT does; a ROLLBACK drops both unsent). It
 * answers at once: for a statement whose caller needs nothing from its answer (it must return no rows: they would not
 * be read), and which fails (raises) wherever its caller would not go on. Its failure fails the statement it went out
 * with (PostgreSQL skips the rest of a failed batch), so the caller learns of it at its next statement or at COMMIT,
 * never later, and nothing of the transaction commits. Its values must be text or null. Where statements are not held
 * (a later statement, DB_PREPARED_STATEMENTS=false or DB_PIPELINE_BEGIN=false, PGlite, values of other types; a use
 * that names it, which parses it first) it runs at once, and fails at its own call. Marked GENERIC_PLAN too (after this
 * mark), its SET LOCAL goes between the BEGIN and it; answering no rows, it ends its generic planning with a
 * CUSTOM_PLAN_AGAIN it computes anyway (the key's claim: in the RETURNING of the row it must insert).
 */
export const HELD = '/* held */ ';

/** The option of a repository write that may be its transaction's last statement: it is, and carries the COMMIT (THEN_COMMIT). */
export const LAST_STATEMENT = { last: true } as const;

/** SQLSTATEs after which a connection's prepared copy of a statement cannot be used again. */
export const STALE_STATEMENT = new Set(['0A000', '26000']);

/** A text is named from its second execution: one-off statements (migrations' checks, admin reads) never are. */
const REPEAT = 2;
/** Distinct named texts per process, hence prepared statements per connection at most. */
const MAX_NAMED = 512;
/** Texts counted before they earn a name; past this, only texts already counted can still earn one. */
const MAX_COUNTED = 8_192;

export class StatementNamer {
  private readonly names = new Map<string, string>();
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxNamed = MAX_NAMED,
    private readonly repeat = REPEAT,
  ) {}

  /** The name for this text, or undefined while it should stay unnamed. */
  nameFor(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.maxNamed) return name;
    const count = (this.seen.get(text) ?? 0) + 1;
    if (count < this.repeat) {
      if (this.seen.size < MAX_COUNTED) this.seen.set(text, count);
      return undefined;
    }
    this.seen.delete(text);
    // From the text alone, so every process and connection names a text alike; 96 bits make a collision (which pg
    // would refuse as "Prepared statements must be unique", never run the wrong statement) practically impossible.
    const named = `s_${createHash('sha256').update(text).digest('base64url').slice(0, 16)}`;
    this.names.set(text, named);
    return named;
  }

  get size(): number {
    return this.names.size;
  }
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Makes `client.query(text, values)` run as a named statement once `namer` names the text, and (with `pipelineBegin`)
 * sends a transaction's BEGIN with its first such statement (pipelined-begin.ts). Only that call form is touched
 * (Kysely's); config objects, callbacks and parameterless texts pass through as they came.
 */
export function nameRepeatedStatements(client: pg.PoolClient | pg.Client, namer: StatementNamer, o: { pipelineBegin?: boolean } = {}): void {
  /** `config` between `prefixes` and `suffixes` in one batch; the connection dropped where it cannot be used again. */
  const send = (query: QueryFn, prefixes: readonly Part[], config: StatementConfig, suffixes: readonly string[]): Promise<unknown> => {
    const name = config.name;
    let result: Promise<unknown>;
    if (prefixes.length === 0 && suffixes.length === 0) result = query(config) as Promise<unknown>;
    else if (name === undefined || isParsed(client, name)) result = batched(query, prefixes, config, suffixes);
    // Not parsed yet on this connection: pg would take a prefix's parse for the statement's, so the prefixes go first,
    // each once the one before is answered (pg would wait for that anyway; queueing behind a running query is
    // deprecated). A failure skips the rest, which the aborted transaction would refuse.
    else result = prefixes.reduce<Promise<unknown>>((ahead, p) => ahead.then(() => query(...(typeof p === 'string' ? [p, []] : [p]))), Promise.resolve()).then(() => batched(query, [], config, suffixes));
    return result.catch((e: unknown) => {
      // The connection's copy of the statement is unusable from now on: a migration changed what it returns
      // (0A000 "cached plan must not change result type"), or pg closed it after a value failed to serialize and
      // still thinks it parsed (26000). Either fails every later use on this connection: drop it, and the pool
      // opens a fresh one; this request fails as transient (database-faults.ts), its retry succeeds.
      // (A held statement in the batch is named too, and may be the one that went stale.)
      const named = name !== undefined || prefixes.some((p) => typeof p !== 'string' && p.name !== undefined);
      if (named && STALE_STATEMENT.has((e as { code?: unknown } | undefined)?.code as string)) dropConnection(client);
      // A batch with its BEGIN (or any prefix) goes through pg's callback form, which database.ts' read-timeout guard
      // does not see: pg keeps a connection whose read timed out busy with the lost batch, so it goes here too.
      else if ((prefixes.length > 0 || suffixes.length > 0) && (e as Error | undefined)?.message === 'Query read timeout') dropConnection(client);
      // A value pg could not serialize fails the statement on the client, after its prefixes went out and ran: the
      // transaction would go on planning generically, its caller unaware. Dropped, it goes on nowhere.
      else if (prefixes.includes(SET_GENERIC) && (e as { code?: unknown } | undefined)?.code === undefined) dropConnection(client);
      throw e;
    });
  };
  /** `ahead`: what must go out before the statement (the transaction's BEGIN, a held first statement). */
  const run = (query: QueryFn, text: string, values: unknown[], ahead: readonly Part[]): Promise<unknown> => {
    const held = text.startsWith(HELD);
    const thenCommit = !held && text.startsWith(THEN_COMMIT);
    // The marks are comments: the text goes out with them (and is named with them), so a statement marked and the same
    // statement unmarked are two prepared statements, each plainly itself in pg_prepared_statements.
    const body = held ? text.slice(HELD.length) : thenCommit ? text.slice(THEN_COMMIT.length) : text;
    const name = namer.nameFor(text);
    // An unnamed statement is planned for its one execution whatever the mode: only a named one is worth a generic plan.
    const plan = name === undefined ? [] : body.startsWith(GENERIC_PLAN) ? [SET_GENERIC] : body.startsWith(GENERIC_INDEX_PLAN) ? [SET_GENERIC, ...INDEX_SCANS_ONLY] : [];
    // Held only as the first statement after a BEGIN not sent yet, and only where its parse needs no round trip of its own.
    if (held && ahead.length === 1 && ahead[0] === 'begin' && (name === undefined || isParsed(client, name))) {
      const holding = holdFirst(client, name === undefined ? { text, values } : { name, text, values }, plan);
      if (holding) return holding;
    }
    if (name === undefined && ahead.length === 0 && !thenCommit) return query(text, values) as Promise<unknown>;
    // After the statement, so pg has the statement's own parse answered first whether or not it was parsed before.
    const result = send(query, [...ahead, ...plan], name === undefined ? { text, values } : { name, text, values }, thenCommit ? ['commit'] : []);
    return thenCommit ? result.then((r) => (committedAhead(client), r)) : result;
  };
  if (o.pipelineBegin) {
    deferBegin(client, run, send);
    return;
  }
  const target = client as unknown as { query: QueryFn };
  const query: QueryFn = target.query.bind(client);
  target.query = (...args: unknown[]) => {
    const [text, values, callback] = args;
    const ahead = answeredAhead(client as unknown as Tracked, text, values, callback);
    if (ahead) return ahead;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) return run(query, text, values, []);
    return query(...args);
  };
}
