import { sql } from 'kysely';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { nameStatements, openDatabase, type Database } from './database.js';
import { ANY_SCAN_AGAIN, CUSTOM_PLAN_AGAIN, GENERIC_INDEX_PLAN, GENERIC_PLAN, HELD, nameRepeatedStatements, StatementNamer, THEN_COMMIT } from './prepared-statements.js';

describe('StatementNamer', () => {
  it('names a text from its second execution on, the same name every time', () => {
    const namer = new StatementNamer();
    expect(namer.nameFor('select $1::int')).toBeUndefined();
    const name = namer.nameFor('select $1::int');
    expect(name).toMatch(/^s_[A-Za-z0-9_-]{16}$/);
    expect(namer.nameFor('select $1::int')).toBe(name);
    expect(new StatementNamer().nameFor('select $1::int')).toBeUndefined();
  });

  it('gives different texts different names, and derives names from the text alone', () => {
    const a = new StatementNamer(10, 1);
    const b = new StatementNamer(10, 1);
    expect(a.nameFor('select $1::int')).not.toBe(a.nameFor('select $1::text'));
    expect(a.nameFor('select $1::text')).toBe(b.nameFor('select $1::text'));
  });

  it('stops naming new texts at its bound, and keeps the names it gave', () => {
    const namer = new StatementNamer(3, 1);
    const names = ['a', 'b', 'c'].map((t) => namer.nameFor(`select $1 as ${t}`));
    expect(names.every((n) => n !== undefined)).toBe(true);
    expect(namer.nameFor('select $1 as d')).toBeUndefined();
    expect(namer.nameFor('select $1 as a')).toBe(names[0]);
    expect(namer.size).toBe(3);
  });
});

const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

describeOnPostgres('named statements on PostgreSQL', () => {
  let target: TestDatabase;
  const opened: Database[] = [];

  beforeAll(async () => {
    target = await createTestDatabase('prepared_statements');
  });
  afterAll(async () => {
    for (const db of opened) await db.close();
    await target?.drop();
  });

  async function open(preparedStatements: boolean): Promise<Database> {
    const db = await openDatabase(target.url, { poolSize: 1, preparedStatements, timeouts: { acquireMs: 2_000, statementMs: 5_000, idleInTransactionMs: 5_000 } });
    opened.push(db);
    return db;
  }

  /** The statements this session prepared through the protocol (one pooled connection: always the same session). */
  async function prepared(db: Database): Promise<string[]> {
    const r = await sql<{ statement: string }>`select statement from pg_prepared_statements where from_sql = false`.execute(db.em().getKysely());
    return r.rows.map((row) => row.statement);
  }

  it('prepares a repeated statement with parameters once per connection, and answers as before', async () => {
    const db = await open(true);
    const kysely = db.em().getKysely();
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(kysely);
      answers.push(r.rows[0]!.n);
    }
    expect(answers).toEqual([1, 2, 3, 4]);
    expect(await prepared(db)).toContain('select $1::int + 1 as n');
  });

  it('a failing named statement leaves the connection usable', async () => {
    const db = await open(true);
    const kysely = db.em().getKysely();
    for (let i = 0; i < 3; i++) await expect(sql`select 1 / ${0}::int`.execute(kysely)).rejects.toThrow(/division by zero/);
    await expect(sql<{ n: number }>`select ${2}::int as n`.execute(kysely)).resolves.toMatchObject({ rows: [{ n: 2 }] });
  });

  it('a migration that changes what a named statement returns costs one failed call, not every later one', async () => {
    const db = await open(true);
    const kysely = db.em().getKysely();
    await sql`create table prepared_probe (id int primary key, a text)`.execute(kysely);
    await sql`insert into prepared_probe values (1, 'x')`.execute(kysely);
    const read = () => sql<Record<string, unknown>>`select * from prepared_probe where id = ${1}`.execute(kysely);
    await read();
    await read(); // named and prepared on the pool's one connection
    const admin = new pg.Client({ connectionString: target.url });
    await admin.connect();
    await admin.query('alter table prepared_probe add column b int');
    await admin.end();
    await expect(read()).rejects.toMatchObject({ code: '0A000' });
    // That connection was dropped: the next call prepares the statement afresh on a new one.
    await expect(read()).resolves.toMatchObject({ rows: [{ id: 1, a: 'x', b: null }] });
    await expect(read()).resolves.toMatchObject({ rows: [{ id: 1, a: 'x', b: null }] });
  });

  it('sends everything unnamed when turned off', async () => {
    const db = await open(false);
    const kysely = db.em().getKysely();
    for (let i = 0; i < 4; i++) await sql`select ${i}::int + 2 as n`.execute(kysely);
    expect(await prepared(db)).toEqual([]);
  });
});

describeOnPostgres('a transaction BEGIN sent with its first statement (pipelined-begin.ts)', () => {
  let target: TestDatabase;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    target = await createTestDatabase('pipelined_begin');
    const admin = new pg.Client({ connectionString: target.url });
    await admin.connect();
    await admin.query('create table begin_probe (id int primary key)');
    await admin.end();
  });
  afterAll(async () => {
    for (const c of clients) await c.end();
    await target?.drop();
  });

  /** A client wrapped as the pool wraps its connections, and the number of round trips it made (ReadyForQuery). */
  async function client(namer = new StatementNamer()): Promise<{ c: pg.Client; trips: () => number }> {
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    clients.push(c);
    nameRepeatedStatements(c, namer, { pipelineBegin: true });
    let trips = 0;
    (c as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on('readyForQuery', () => trips++);
    return { c, trips: () => trips };
  }
  // Kysely's call forms: the text and an array of parameters, no callback.
  const q = <R extends pg.QueryResultRow>(c: pg.Client, text: string, values: unknown[] = []) =>
    (c.query as unknown as (t: string, v: unknown[]) => Promise<pg.QueryResult<R>>)(text, values);

  it('runs BEGIN and the first statement in one round trip, inside one transaction', async () => {
    for (const namer of [new StatementNamer(), new StatementNamer(512, 1)]) {
      const { c, trips } = await client(namer);
      for (let round = 0; round < 3; round++) {
        const before = trips();
        await q(c, 'begin');
        expect(trips()).toBe(before);
        const first = await q<{ xid: string; n: number }>(c, 'select txid_current()::text as xid, $1::int as n', [round]);
        expect(first.rows).toEqual([{ xid: expect.any(String), n: round }]);
        // A named statement's first use on a connection sends the BEGIN ahead of it (pg would take BEGIN's parse for its own).
        const firstParse = round === 0 && namer.size > 0;
        expect([round, namer.size, trips() - before]).toEqual([round, namer.size, firstParse ? 2 : 1]);
        const second = await q<{ xid: string }>(c, 'select txid_current()::text as xid, $1::int as n', [round]);
        expect(second.rows[0]!.xid).toBe(first.rows[0]!.xid);
        expect((await q(c, 'commit')).command).toBe('COMMIT');
        expect(trips()).toBe(before + (firstParse ? 4 : 3));
      }
    }
  });

  it('keeps the transaction open after the batch: its writes are seen by others only at COMMIT, and ROLLBACK undoes them', async () => {
    const { c } = await client();
    const other = new pg.Client({ connectionString: target.url });
    await other.connect();
    clients.push(other);
    await q(c, 'begin');
    // What a statement without rows answers through the batch: its own command and count (Kysely's numAffectedRows).
    expect(await q(c, 'insert into begin_probe values ($1)', [1])).toMatchObject({ command: 'INSERT', rowCount: 1 });
    expect((await other.query('select count(*)::int as n from begin_probe where id = 1')).rows).toEqual([{ n: 0 }]);
    await q(c, 'commit');
    expect((await other.query('select count(*)::int as n from begin_probe where id = 1')).rows).toEqual([{ n: 1 }]);
    await q(c, 'begin');
    await q(c, 'insert into begin_probe values ($1)', [2]);
    await q(c, 'rollback');
    expect((await other.query('select count(*)::int as n from begin_probe where id = 2')).rows).toEqual([{ n: 0 }]);
  });

  it('a failing first statement aborts the transaction; ROLLBACK ends it and the connection works on', async () => {
    const { c } = await client();
    await q(c, 'begin');
    await expect(q(c, 'select 1 / $1::int', [0])).rejects.toThrow(/division by zero/);
    await expect(q(c, 'select $1::int as n', [1])).rejects.toThrow(/current transaction is aborted/);
    await q(c, 'rollback');
    await expect(q(c, 'select $1::int as n', [3])).resolves.toMatchObject({ rows: [{ n: 3 }] });
  });

  it('sends nothing for a transaction that ran no statement, and sends BEGIN ahead of a statement without parameters', async () => {
    const { c, trips } = await client();
    await q(c, 'begin');
    await q(c, 'commit');
    expect(trips()).toBe(0);
    await q(c, 'begin');
    const r = await q<{ a: string; b: string }>(c, 'select txid_current()::text as a, txid_current()::text as b');
    expect(trips()).toBe(2);
    await q(c, 'insert into begin_probe values ($1)', [3]);
    await q(c, 'rollback');
    const after = await q<{ n: number }>(c, 'select count(*)::int as n from begin_probe where id = $1', [3]);
    expect(r.rows[0]!.a).toBe(r.rows[0]!.b);
    expect(after.rows).toEqual([{ n: 0 }]);
  });

  it('answers a callback-form call after a pending BEGIN, its callback an argument or the config\'s, inside the transaction', async () => {
    const { c } = await client();
    const viaCallback = (call: (cb: (err: Error | null, r: pg.QueryResult) => void) => void) =>
      new Promise<pg.QueryResult>((resolve, reject) => call((err, r) => (err ? reject(err) : resolve(r))));
    for (const form of ['argument', 'config'] as const) {
      await q(c, 'begin');
      const r = await viaCallback((cb) =>
        form === 'argument'
          ? (c.query as unknown as (t: string, cb: unknown) => void)('select txid_current()::text as tx, now()::text as t', cb)
          : (c.query as unknown as (config: unknown) => void)({ text: 'select txid_current()::text as tx, now()::text as t', callback: cb }),
      );
      expect(r.rows).toHaveLength(1);
      // In a transaction block: its start time stays the transaction's, whatever runs later.
      const first = (await q<{ t: string }>(c, 'select now()::text as t, $1::int', [1])).rows[0]!.t;
      await new Promise((res) => setTimeout(res, 20));
      expect((await q<{ t: string }>(c, 'select now()::text as t, $1::int', [2])).rows[0]!.t).toBe(first);
      // The callback-form call ran in that same transaction, after its BEGIN.
      expect((await q<{ tx: string }>(c, 'select txid_current()::text as tx, $1::int', [3])).rows[0]!.tx).toBe(r.rows[0].tx);
      expect(r.rows[0].t).toBe(first);
      await q(c, 'commit');
    }
  });

  it('drops the connection when the batch with its BEGIN outlives the read timeout (pg would keep it busy with the lost batch)', async () => {
    const c = new pg.Client({ connectionString: target.url, query_timeout: 200 });
    await c.connect();
    nameRepeatedStatements(c, new StatementNamer(), { pipelineBegin: true });
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    await q(c, 'begin');
    await expect(q(c, 'select pg_sleep($1::float8)', [2])).rejects.toThrow('Query read timeout');
    await ended;
  });

  /** `fn` with a database of one pooled connection, and the round trips every pg client made so far (ReadyForQuery). */
  async function withCountedTrips(fn: (db: Database, trips: () => number) => Promise<void>): Promise<void> {
    // pg binds the handler when a client connects: patched before the pool opens one.
    const proto = pg.Client.prototype as unknown as { _handleReadyForQuery: (this: unknown, m: unknown) => void };
    const original = proto._handleReadyForQuery;
    let trips = 0;
    proto._handleReadyForQuery = function (this: unknown, m: unknown) {
      trips++;
      original.call(this, m);
    };
    const db = await openDatabase(target.url, { poolSize: 1, timeouts: { acquireMs: 2_000, statementMs: 5_000, idleInTransactionMs: 5_000 } });
    try {
      await fn(db, () => trips);
    } finally {
      proto._handleReadyForQuery = original;
      await db.close();
    }
  }

  it('through openDatabase and em.transactional: a transaction of two statements with parameters is three round trips', async () => {
    await withCountedTrips(async (db, trips) => {
      const run = async (n: number) => {
        const before = trips();
        const xids = await db.em().transactional(async (em) => {
          const k = em.getKysely();
          const a = await sql<{ x: string }>`select txid_current()::text as x, ${n}::int as n`.execute(k);
          const b = await sql<{ x: string }>`select txid_current()::text as x, ${n + 1}::int as m`.execute(k);
          return [a.rows[0]!.x, b.rows[0]!.x];
        });
        expect(xids[0]).toBe(xids[1]);
        return trips() - before;
      };
      // The first run names nothing; the second prepares both texts (each Parse goes after a BEGIN of its own);
      // from the third on: BEGIN with the first statement, the second, COMMIT (four with DB_PIPELINE_BEGIN=false).
      const counts = [await run(1), await run(2), await run(3), await run(4)];
      expect(counts.slice(2)).toEqual([3, 3]);
    });
  });

  it('a statement marked GENERIC_INDEX_PLAN plans generically with sequential and bitmap scans off, then turns them back on', async () => {
    const { c, trips } = await client();
    await c.query('set plan_cache_mode = force_custom_plan');
    const marked = `${GENERIC_INDEX_PLAN}select current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seq, current_setting('enable_bitmapscan') as bitmap, $1::int as n, ${ANY_SCAN_AGAIN}, ${CUSTOM_PLAN_AGAIN}`;
    const settings = "select current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seq, current_setting('enable_bitmapscan') as bitmap";
    await c.query('begin');
    for (let i = 0; i < 2; i++) await q(c, marked, [i]);
    const before = trips();
    expect((await q(c, marked, [2])).rows[0]).toMatchObject({ mode: 'force_generic_plan', seq: 'off', bitmap: 'off', n: 2 });
    expect(trips() - before).toBe(1);
    expect((await c.query(settings)).rows[0]).toEqual({ mode: 'force_custom_plan', seq: 'on', bitmap: 'on' });
    await c.query('commit');
    expect((await plans(c)).get(marked)).toEqual({ generic: 2, custom: 0 });
  });

  /** The plans PostgreSQL made for each prepared statement of this session (pg_prepared_statements, PostgreSQL 14+). */
  async function plans(c: pg.Client): Promise<Map<string, { generic: number; custom: number }>> {
    const r = await c.query<{ statement: string; generic: number; custom: number }>(
      'select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where from_sql = false',
    );
    return new Map(r.rows.map((row) => [row.statement, { generic: row.generic, custom: row.custom }]));
  }

  describe('a statement marked GENERIC_PLAN', () => {
    const marked = `${GENERIC_PLAN}select current_setting('plan_cache_mode') as during, $1::int as n, set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode`;
    const after = `select current_setting('plan_cache_mode') as mode, (select count(*) from begin_probe where id = $1)::int as n`;
    const failing = `${GENERIC_PLAN}select 1 / $1::int as n, set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode`;

    it('runs on its generic plan once named, its SET in the same round trip, and the statements after it plan for each execution', async () => {
      const { c, trips } = await client();
      await c.query('set plan_cache_mode = force_custom_plan'); // as database.ts opens every pooled connection
      const counts: number[] = [];
      for (let round = 0; round < 5; round++) {
        const before = trips();
        await q(c, 'begin');
        const m = await q<{ during: string; n: number }>(c, marked, [round]);
        const a = await q<{ mode: string }>(c, after, [round]);
        await q(c, 'commit');
        counts.push(trips() - before);
        expect(m.rows[0]).toMatchObject({ n: round });
        // Unnamed on its first execution (planned for it alone, whatever the mode); generic from then on.
        expect(m.rows[0]!.during).toBe(round === 0 ? 'force_custom_plan' : 'force_generic_plan');
        expect(a.rows[0]!.mode).toBe('force_custom_plan');
        expect((await c.query<{ mode: string }>('select current_setting($1) as mode', ['plan_cache_mode'])).rows[0]!.mode).toBe('force_custom_plan');
      }
      const made = await plans(c);
      // generic_plans counts executions that used the (one, cached) generic plan.
      expect(made.get(marked)).toEqual({ generic: 4, custom: 0 });
      expect(made.get(after)).toEqual({ generic: 0, custom: 4 });
      // Round 0 names nothing; round 1 parses both (the BEGIN and the SET each go ahead alone); then BEGIN, SET and the
      // marked statement travel together: BEGIN+marked, the next, COMMIT.
      expect(counts.slice(2)).toEqual([3, 3, 3]);
    });

    it('outside a pending BEGIN it still travels with its SET, and a failure aborts only the transaction', async () => {
      const { c, trips } = await client();
      await c.query('set plan_cache_mode = force_custom_plan');
      await c.query('begin');
      for (let i = 0; i < 3; i++) await q(c, marked, [i]);
      const before = trips();
      expect((await q<{ during: string }>(c, marked, [9])).rows[0]!.during).toBe('force_generic_plan');
      expect(trips() - before).toBe(1);
      await c.query('commit');
      await c.query('begin');
      await q(c, failing, [1]);
      await q(c, failing, [1]);
      const beforeFailure = trips();
      await expect(q(c, failing, [0])).rejects.toThrow(/division by zero/);
      await c.query('rollback');
      // pg rejects on the error, before the batch's ReadyForQuery: counted with the ROLLBACK's, the SET went with it.
      expect(trips() - beforeFailure).toBe(2);
      await expect(q(c, 'select $1::int as n', [4])).resolves.toMatchObject({ rows: [{ n: 4 }] });
    });

    it('failing inside a savepoint, its SET is rolled back with it: the transaction goes on planning per execution', async () => {
      const { c } = await client();
      await c.query('set plan_cache_mode = force_custom_plan');
      await c.query('begin');
      await q(c, failing, [1]);
      await q(c, failing, [1]);
      await c.query('savepoint s');
      await expect(q(c, failing, [0])).rejects.toThrow(/division by zero/);
      await c.query('rollback to savepoint s');
      const mode = async () => (await q<{ mode: string }>(c, 'select current_setting($1) as mode', ['plan_cache_mode'])).rows[0]!.mode;
      expect(await mode()).toBe('force_custom_plan');
      expect((await q<{ n: number }>(c, failing, [2])).rows[0]!.n).toBe(0);
      expect(await mode()).toBe('force_custom_plan');
      await c.query('commit');
    });

    it('a value pg cannot serialize (its SET already ran) drops the connection rather than leave the transaction planning generically', async () => {
      for (const parsed of [true, false]) {
        const { c } = await client();
        await c.query('set plan_cache_mode = force_custom_plan');
        await c.query('begin');
        // Named from the second execution: parsed by the third (the prefixed batch); only named on the second (its SET goes alone, first).
        for (let i = 0; i < (parsed ? 2 : 1); i++) await q(c, marked, [i]);
        const unserializable = {
          toPostgres() {
            throw new Error('cannot serialize this value');
          },
        };
        await expect(q(c, marked, [unserializable])).rejects.toThrow(/cannot serialize/);
        await expect(q(c, 'select current_setting($1) as mode', ['plan_cache_mode'])).rejects.toThrow();
      }
    });
  });

  describe('a statement marked THEN_COMMIT', () => {
    const count = async (other: pg.Client, id: number) => (await other.query<{ n: number }>('select count(*)::int as n from begin_probe where id = $1', [id])).rows[0]!.n;
    let other: pg.Client;
    beforeAll(async () => {
      other = new pg.Client({ connectionString: target.url });
      await other.connect();
      clients.push(other);
    });

    it('goes out with the COMMIT: committed when it answers, the caller\'s COMMIT answered without a round trip', async () => {
      for (const [n, namer] of [new StatementNamer(), new StatementNamer(512, 1)].entries()) {
        const { c, trips } = await client(namer);
        for (let round = 0; round < 3; round++) {
          const id = 100 + 10 * n + round;
          await q(c, 'begin');
          await q(c, 'insert into begin_probe values ($1)', [id]);
          const before = trips();
          const marked = await q<{ n: number }>(c, `${THEN_COMMIT}insert into begin_probe values ($1 + 1000) returning $1::int as n`, [id]);
          // Its own rows, not the COMMIT's; and both inserts are visible to others before the caller's COMMIT.
          expect(marked.rows).toEqual([{ n: id }]);
          expect([await count(other, id), await count(other, id + 1000)]).toEqual([1, 1]);
          expect((await q(c, 'commit')).command).toBe('COMMIT');
          // One round trip for the statement and the COMMIT, parsed before or not: the COMMIT follows its parse.
          expect(trips() - before).toBe(1);
          // A new transaction on the same connection starts afresh.
          await q(c, 'begin');
          await q(c, 'insert into begin_probe values ($1)', [id + 2000]);
          await q(c, 'rollback');
          expect(await count(other, id + 2000)).toBe(0);
        }
      }
    });

    it('as the first statement, BEGIN, it and COMMIT are one round trip', async () => {
      const { c, trips } = await client(new StatementNamer(512, 1));
      await q(c, 'select $1::int', [0]); // named and parsed on this connection
      for (const id of [130, 131]) {
        const before = trips();
        await q(c, 'begin');
        await q(c, `${THEN_COMMIT}insert into begin_probe values ($1)`, [id]);
        await q(c, 'commit');
        expect(trips() - before).toBe(id === 130 ? 2 : 1); // the first use parses it, after a BEGIN of its own
        expect(await count(other, id)).toBe(1);
      }
    });

    it('failing, commits nothing: the transaction is aborted for the caller\'s ROLLBACK, and the connection works on', async () => {
      const { c } = await client();
      await q(c, 'begin');
      await q(c, 'insert into begin_probe values ($1)', [140]);
      await expect(q(c, `${THEN_COMMIT}select 1 / $1::int`, [0])).rejects.toThrow(/division by zero/);
      await expect(q(c, 'select $1::int as n', [1])).rejects.toThrow(/current transaction is aborted/);
      await q(c, 'rollback');
      expect(await count(other, 140)).toBe(0);
      await expect(q(c, 'select $1::int as n', [3])).resolves.toMatchObject({ rows: [{ n: 3 }] });
    });

    it('a value pg cannot serialize fails it before anything runs: nothing is committed', async () => {
      const { c } = await client();
      const unserializable = { toPostgres: () => { throw new Error('cannot serialize'); } };
      await q(c, 'begin');
      await q(c, 'insert into begin_probe values ($1)', [150]);
      await expect(q(c, `${THEN_COMMIT}select $1::text`, [unserializable])).rejects.toThrow(/cannot serialize/);
      await q(c, 'rollback');
      expect(await count(other, 150)).toBe(0);
    });

    it('refuses a statement between it and the caller\'s COMMIT (it would run outside the transaction), and answers a ROLLBACK at once', async () => {
      const { c, trips } = await client();
      await q(c, 'begin');
      await q(c, `${THEN_COMMIT}insert into begin_probe values ($1)`, [160]);
      await expect(q(c, 'insert into begin_probe values ($1)', [161])).rejects.toThrow(/THEN_COMMIT/);
      expect(await count(other, 161)).toBe(0);
      await q(c, 'begin');
      await q(c, `${THEN_COMMIT}insert into begin_probe values ($1)`, [162]);
      const before = trips();
      expect((await q(c, 'rollback')).command).toBe('ROLLBACK');
      expect(trips()).toBe(before);
      expect([await count(other, 160), await count(other, 162)]).toEqual([1, 1]); // committed: nothing to roll back
      await expect(q(c, 'select $1::int as n', [4])).resolves.toMatchObject({ rows: [{ n: 4 }] });
    });

    it('without pipelined BEGINs too: the COMMIT travels with it and the caller\'s is answered at once', async () => {
      const c = new pg.Client({ connectionString: target.url });
      await c.connect();
      clients.push(c);
      nameRepeatedStatements(c, new StatementNamer(512, 1), { pipelineBegin: false });
      let trips = 0;
      (c as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on('readyForQuery', () => trips++);
      await q(c, 'begin');
      await q(c, `${THEN_COMMIT}insert into begin_probe values ($1)`, [180]);
      const before = trips;
      expect((await q(c, 'commit')).command).toBe('COMMIT');
      expect(trips).toBe(before);
      expect(await count(other, 180)).toBe(1);
    });

    it('a commit sent ahead that the holder never acknowledged does not answer the next holder\'s statements', async () => {
      const pool = new pg.Pool({ connectionString: target.url, max: 1 });
      nameStatements(pool, new StatementNamer(), true);
      try {
        const first = await pool.connect();
        await q(first as unknown as pg.Client, 'begin');
        await q(first as unknown as pg.Client, `${THEN_COMMIT}insert into begin_probe values ($1)`, [190]);
        first.release(); // no COMMIT asked for
        const next = await pool.connect();
        expect(next).toBe(first);
        await q(next as unknown as pg.Client, 'begin');
        await q(next as unknown as pg.Client, 'insert into begin_probe values ($1)', [191]);
        await q(next as unknown as pg.Client, 'rollback');
        next.release();
        expect([await count(other, 190), await count(other, 191)]).toEqual([1, 0]);
      } finally {
        await pool.end();
      }
    });

    it('through openDatabase and em.transactional: a transaction of two statements, the last marked, is two round trips', async () => {
      await withCountedTrips(async (db, trips) => {
        const run = async (n: number) => {
          const before = trips();
          await db.em().transactional(async (em) => {
            const k = em.getKysely();
            await sql`insert into begin_probe values (${n})`.execute(k);
            await sql`${sql.raw(THEN_COMMIT)}insert into begin_probe values (${n + 1000})`.execute(k);
          });
          expect([await count(other, n), await count(other, n + 1000)]).toEqual([1, 1]);
          return trips() - before;
        };
        const counts = [await run(171), await run(172), await run(173), await run(174)];
        expect(counts.slice(2)).toEqual([2, 2]);
        // A callback that fails after it: the rows stand (the commit cannot be taken back), the connection works on.
        await expect(
          db.em().transactional(async (em) => {
            await sql`${sql.raw(THEN_COMMIT)}insert into begin_probe values (${175})`.execute(em.getKysely());
            throw new Error('after the commit');
          }),
        ).rejects.toThrow('after the commit');
        expect(await count(other, 175)).toBe(1);
        await expect(run(176)).resolves.toBe(2);
      });
    });
  });

  describe('a first statement marked HELD', () => {
    const count = async (other: pg.Client, id: number) => (await other.query<{ n: number }>('select count(*)::int as n from begin_probe where id = $1', [id])).rows[0]!.n;
    // As the idempotency claim: writes, answers no rows, and fails where its caller must not go on.
    const held = `${HELD}with w as (insert into begin_probe values ($1::int) returning 1) select 1 / (select count(*)::int - 1 from w) where $2::text = 'fail'`;
    const insert = (id: number, fail = false) => [id.toString(), fail ? 'fail' : 'ok'];
    let other: pg.Client;
    beforeAll(async () => {
      other = new pg.Client({ connectionString: target.url });
      await other.connect();
      clients.push(other);
    });

    it('waits with its BEGIN for the next statement: one round trip for the three, answered without rows, in one transaction', async () => {
      // Round trips per transaction (BEGIN, held, a read, COMMIT), four transactions each. Held unnamed on its first use,
      // or once named and parsed on this connection; the use that names it is sent at once (its parse, a BEGIN ahead).
      const expected = [
        [2, 4, 2, 2],
        [4, 2, 2, 2],
      ];
      for (const [n, namer] of [new StatementNamer(), new StatementNamer(512, 1)].entries()) {
        const { c, trips } = await client(namer);
        const counts: number[] = [];
        for (let round = 0; round < 4; round++) {
          const id = 300 + 10 * n + round;
          const before = trips();
          await q(c, 'begin');
          expect((await q(c, held, insert(id))).rows).toEqual([]);
          if (expected[n]![round] === 2) expect(trips()).toBe(before); // held: nothing went out yet
          const next = await q<{ n: number }>(c, 'select count(*)::int as n from begin_probe where id = $1', [id]);
          expect(next.rows).toEqual([{ n: 1 }]); // the next statement sees the held one's row: same transaction
          expect(await count(other, id)).toBe(0);
          await q(c, 'commit');
          expect(await count(other, id)).toBe(1);
          counts.push(trips() - before);
        }
        expect(counts).toEqual(expected[n]);
      }
    });

    it('failing, fails the statement it went out with, which never runs; ROLLBACK ends it and the connection works on', async () => {
      const { c } = await client(new StatementNamer(512, 1));
      await q(c, 'begin');
      await q(c, held, insert(319)); // its first use, parsed at once
      await q(c, 'rollback');
      for (const id of [320, 321, 322]) {
        await q(c, 'begin');
        await q(c, held, insert(id, true));
        await expect(q(c, 'insert into begin_probe values ($1)', [id + 1000])).rejects.toThrow(/division by zero/);
        await q(c, 'rollback');
        expect([await count(other, id), await count(other, id + 1000)]).toEqual([0, 0]);
        await expect(q(c, 'select $1::int as n', [id])).resolves.toMatchObject({ rows: [{ n: id }] });
      }
    });

    it('goes out with the COMMIT when nothing came between, fails it when it fails; a ROLLBACK sends nothing', async () => {
      const { c, trips } = await client(new StatementNamer(512, 1));
      await q(c, 'select $1::int', [0]);
      await q(c, 'begin');
      await q(c, held, insert(329)); // the first use: parsed at once
      await q(c, 'commit');
      for (const id of [330, 331]) {
        const before = trips();
        await q(c, 'begin');
        await q(c, held, insert(id));
        expect((await q(c, 'commit')).command).toBe('COMMIT');
        expect(trips() - before).toBe(1);
        expect(await count(other, id)).toBe(1);
      }
      await q(c, 'begin');
      await q(c, held, insert(332, true));
      await expect(q(c, 'commit')).rejects.toThrow(/division by zero/);
      await q(c, 'rollback');
      expect(await count(other, 332)).toBe(0);
      const before = trips();
      await q(c, 'begin');
      await q(c, held, insert(333));
      expect((await q(c, 'rollback')).command).toBe('ROLLBACK');
      expect(trips()).toBe(before);
      expect(await count(other, 333)).toBe(0);
      await expect(q(c, 'select $1::int as n', [5])).resolves.toMatchObject({ rows: [{ n: 5 }] });
    });

    it('takes a SAVEPOINT after it into its batch, goes ahead of any other statement without parameters; its failure is that call\'s', async () => {
      const { c, trips } = await client(new StatementNamer(512, 1));
      await q(c, 'begin');
      await q(c, held, insert(339)); // named on its first use: sent at once, parsed
      await q(c, 'rollback');
      for (const id of [340, 341]) {
        const before = trips();
        await q(c, 'begin');
        await q(c, held, insert(id));
        expect((await q(c, 'savepoint "trx1"')).command).toBe('SAVEPOINT');
        expect(trips() - before).toBe(1); // BEGIN, the held statement and the SAVEPOINT: one batch
        await q(c, 'insert into begin_probe values ($1)', [id + 1000]);
        await q(c, 'rollback to savepoint "trx1"'); // the savepoint exists: it undoes only what came after it
        await q(c, 'release savepoint "trx1"');
        await q(c, 'commit');
        expect([await count(other, id), await count(other, id + 1000)]).toEqual([1, 0]);
      }
      const failing = trips();
      await q(c, 'begin');
      await q(c, held, insert(342, true));
      await expect(q(c, 'savepoint "trx1"')).rejects.toThrow(/division by zero/);
      // The BEGIN ran in that batch: the transaction is open, aborted, for the caller's ROLLBACK.
      await expect(q(c, 'select $1::int', [1])).rejects.toThrow(/current transaction is aborted/);
      expect(trips() - failing).toBeLessThanOrEqual(2);
      await q(c, 'rollback');
      expect(await count(other, 342)).toBe(0);
      const before = trips();
      await q(c, 'begin');
      await q(c, held, insert(343));
      expect((await q(c, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(trips() - before).toBe(2); // a statement of another kind goes on its own, after them
      await q(c, 'commit');
      expect(await count(other, 343)).toBe(1);
    });

    it('runs at once where it is not a transaction\'s first statement, or has a value that is not text', async () => {
      const { c, trips } = await client(new StatementNamer(512, 1));
      await q(c, 'begin');
      await q(c, 'select $1::int', [1]);
      const before = trips();
      await expect(q(c, held, insert(350, true))).rejects.toThrow(/division by zero/); // failed at its own call
      expect(trips() - before).toBeLessThanOrEqual(1); // pg answers the failure before the batch's end
      await q(c, 'rollback');
      await q(c, 'begin');
      await expect(q(c, `${HELD}insert into begin_probe values ($1)`, [351])).resolves.toMatchObject({ command: 'INSERT', rowCount: 1 });
      await q(c, 'commit');
      expect(await count(other, 351)).toBe(1);
    });

    it('a statement the pool took back held (its transaction unsent) is not sent with the next holder\'s', async () => {
      const pool = new pg.Pool({ connectionString: target.url, max: 1 });
      nameStatements(pool, new StatementNamer(), true);
      try {
        const first = await pool.connect();
        await q(first as unknown as pg.Client, 'begin');
        await q(first as unknown as pg.Client, held, insert(360));
        first.release();
        const next = await pool.connect();
        expect(next).toBe(first);
        await q(next as unknown as pg.Client, 'begin');
        await q(next as unknown as pg.Client, 'insert into begin_probe values ($1)', [361]);
        await q(next as unknown as pg.Client, 'commit');
        next.release();
        expect([await count(other, 360), await count(other, 361)]).toEqual([0, 1]);
      } finally {
        await pool.end();
      }
    });

    it('through openDatabase and em.transactional: held, then a last statement marked THEN_COMMIT, are one round trip', async () => {
      await withCountedTrips(async (db, trips) => {
        const run = async (n: number) => {
          const before = trips();
          await db.em().transactional(async (em) => {
            const k = em.getKysely();
            await sql`${sql.raw(HELD)}insert into begin_probe values (${String(n)}::int)`.execute(k);
            await sql`${sql.raw(THEN_COMMIT)}insert into begin_probe (id) values (${n + 1000}::int)`.execute(k);
          });
          expect([await count(other, n), await count(other, n + 1000)]).toEqual([1, 1]);
          return trips() - before;
        };
        // The first run (its connection opened too) names nothing; the second names and parses both, each on its own
        // (BEGIN, the held one, the last with its COMMIT); from the third on, one batch.
        const counts = [await run(370), await run(371), await run(372), await run(373)];
        expect(counts.slice(1)).toEqual([3, 1, 1]);
        // Failing in the batch of a nested transaction's SAVEPOINT (as a taken key fails the interceptor's claim, whose
        // effect runs in a savepoint): the call fails with its error, the transaction is rolled back, and the pool's one
        // connection starts the next transaction clean.
        for (const n of [380, 381, 382]) {
          await expect(
            db.em().transactional(async (em) => {
              await sql`${sql.raw(HELD)}insert into begin_probe select (${String(n)}::text)::int where (select 1 / (${'1'}::int - 1)) = 1`.execute(em.getKysely());
              await em.transactional(async (inner) => inner.execute('select 1'));
            }),
          ).rejects.toThrow(/division by zero/);
          expect(await count(other, n)).toBe(0);
          await expect(run(n + 10)).resolves.toBe(1);
        }
      });
    });
  });

  it('a BEGIN the pool took back unsent does not start the next holder a transaction', async () => {
    const pool = new pg.Pool({ connectionString: target.url, max: 1 });
    nameStatements(pool, new StatementNamer(), true);
    try {
      const first = await pool.connect();
      await q(first as unknown as pg.Client, 'begin');
      first.release();
      const next = await pool.connect();
      expect(next).toBe(first); // the same connection, as the pool of one hands it out again
      const xid = async () => (await q<{ x: string }>(next, 'select txid_current()::text as x, $1::int', [1])).rows[0]!.x;
      const a = await xid();
      const b = await xid();
      next.release();
      expect(a).not.toBe(b);
    } finally {
      await pool.end();
    }
  });
});
