import { sql } from 'kysely';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { StatementNamer } from './prepared-statements.js';

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
