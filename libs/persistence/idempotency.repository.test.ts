/**
 * The Idempotency-Key's claim and its last answer, as every state change runs them on PostgreSQL: both planned once per
 * connection, with what runs between them planned per execution as before. PostgreSQL only: plans are per connection
 * and PGlite names no statements.
 */
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase } from './database.js';
import { IdempotencyRepository, isIdempotencyKeyTaken } from './idempotency.repository.js';
import { GENERIC_INDEX_PLAN, GENERIC_PLAN, HELD, LAST_STATEMENT, THEN_COMMIT } from './prepared-statements.js';

const describeOnPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
const T = 'acme';

describeOnPostgres('IdempotencyRepository (PostgreSQL)', () => {
  let target: TestDatabase;

  beforeAll(async () => {
    target = await createTestDatabase('idempotency_plans');
  });
  afterAll(async () => {
    await target?.drop();
  });

  it('claims and answers on plans made once per connection; the statements between them, and after the transaction, plan per execution', async () => {
    const one = await openDatabase(target.url, { poolSize: 1 }); // one connection: its prepared statements are all of them
    const repo = new IdempotencyRepository();
    const now = new Date('2026-03-02T10:00:00Z');
    try {
      const between: string[] = [];
      for (let i = 0; i < 5; i++) {
        await one.em().transactional(async (em) => {
          await repo.claim(em, { tenant: T, key: `k-${i}`, requestHash: `h-${i}`, method: 'POST', path: '/v1/x', now });
          // The claim's batch carries this read (from the third transaction, once both are parsed); it runs after the
          // claim, whose generic planning must end with it.
          between.push((await sql<{ mode: string }>`select current_setting(${'plan_cache_mode'}) as mode`.execute(em.getKysely())).rows[0]!.mode);
          await repo.complete(em, { tenant: T, key: `k-${i}`, status: 201, contentType: 'application/json', body: `{"n":${i}}` }, LAST_STATEMENT);
        });
      }
      expect(between).toEqual(Array(5).fill('force_custom_plan'));
      const after = await one.em().execute<{ mode: string; seq: string; bitmap: string }[]>(
        "select current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seq, current_setting('enable_bitmapscan') as bitmap",
      );
      expect(after[0]).toEqual({ mode: 'force_custom_plan', seq: 'on', bitmap: 'on' });

      const plans = await one.em().execute<{ statement: string; generic: number; custom: number }[]>(
        'select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where from_sql = false',
      );
      const claim = plans.find((p) => p.statement.startsWith(HELD + GENERIC_PLAN));
      const answer = plans.find((p) => p.statement.startsWith(THEN_COMMIT + GENERIC_INDEX_PLAN));
      const read = plans.find((p) => p.statement.includes('current_setting($1)'));
      // Named from the second execution: the four after the first ran on the statement's one generic plan.
      expect(claim).toMatchObject({ generic: 4, custom: 0 });
      expect(answer).toMatchObject({ generic: 4, custom: 0 });
      expect(read).toMatchObject({ generic: 0, custom: 4 });

      for (let i = 0; i < 5; i++) {
        expect(await repo.find(one.em(), T, `k-${i}`)).toEqual({ requestHash: `h-${i}`, answer: { status: 201, contentType: 'application/json', body: `{"n":${i}}` } });
      }
      // A key already claimed still fails the claim's batch, and the transaction with it.
      const again = one.em().transactional(async (em) => {
        await repo.claim(em, { tenant: T, key: 'k-4', requestHash: 'other', method: 'POST', path: '/v1/x', now });
        await sql`select current_setting(${'plan_cache_mode'}) as mode`.execute(em.getKysely());
      });
      expect(isIdempotencyKeyTaken(await again.then(() => undefined, (e: unknown) => e))).toBe(true);
      expect(await repo.find(one.em(), T, 'k-4')).toMatchObject({ requestHash: 'h-4' });
    } finally {
      await one.close();
    }
  });
});
