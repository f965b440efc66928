/**
 * FeatureHistoryRepository.claim: the key's claim takes the order's lock and then every entity key's lock, in one
 * statement. What orders two decisions about one customer is these locks: they must be held after the claim.
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { entityLockId, entityLockIds, FeatureHistoryRepository } from './feature-history.repository.js';
import { isIdempotencyKeyTaken, unlessKeyTaken } from './idempotency.repository.js';
import { ORDER_LOCK_SPACE, orderLockName } from './refunds.repository.js';

describe('entityLockId', () => {
  // Two releases running side by side (a rolling deploy) must lock one key alike: the ids never change. The values were
  // computed by the release before this test (createHash), so they pin the one-shot hash to its bytes.
  it('is the first 64 bits of SHA-256 over tenant, entity and key, as every release computed it', () => {
    expect(entityLockId('acme', 'customer', 'pii_a')).toBe(6916663854546172679n);
    expect(entityLockId('acme', 'device', 'pii_b')).toBe(-2284948703253257792n);
    expect(entityLockIds('acme', { device: 'pii_b', customer: 'pii_a' })).toEqual(['-2284948703253257792', '6916663854546172679']);
  });
});

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('FeatureHistoryRepository.claim (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new FeatureHistoryRepository();
  let n = 0;
  const claim = () => ({ key: `k${++n}`, requestHash: 'h', method: 'POST', path: '/v1/decisions/refund', status: 201, contentType: 'application/json', tenant: 'acme', decisionId: `01900000-0000-7000-8000-00000000000${n}`, createdAt: new Date('2026-03-11T12:00:00Z') });

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('feature_history_claim');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  /** The advisory locks this transaction holds (objsubid 1: a bigint lock, 2: a two-int lock). */
  const held = (em: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0]) =>
    em.execute<{ objsubid: number }[]>("select objsubid::int as objsubid from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()");

  it('holds every entity key\'s lock (and the order\'s) until the transaction ends', async () => {
    const locks = entityLockIds('acme', { customer: 'pii_a', device: 'pii_b' });
    await db.em().transactional(async (em) => {
      await repo.claim(em, claim(), { orderId: 'ord_1', entities: locks }, { held: false });
      const rows = await held(em);
      // One two-int lock (the order's: objsubid 2) and one bigint lock per entity key (objsubid 1).
      expect(rows.filter((r) => Number(r.objsubid) === 1)).toHaveLength(2);
      expect(rows.filter((r) => Number(r.objsubid) === 2)).toHaveLength(1);
    });
    await db.em().transactional(async (em) => {
      await repo.claim(em, claim(), { entities: locks }, { held: true });
      expect((await held(em)).filter((r) => Number(r.objsubid) === 1)).toHaveLength(2);
    });
  });

  it('a key already claimed fails with idempotency_key_taken, held or not, writes nothing, and takes no lock (it waits for none)', async () => {
    const c = claim();
    const entities = entityLockIds('acme', { customer: 'pii_x' });
    await db.em().transactional(async (em) => {
      await repo.claim(em, c, { orderId: 'ord_x', entities }, { held: false });
    });
    // PostgreSQL: another session holds the order's lock and the customer's. A claim that took either before failing
    // would wait for it, and fail on its lock_timeout (55P03) instead. One connection, so that the held statement is
    // parsed on it by the last round and goes out with the statement after it.
    let other: pg.Client | undefined;
    let claims = db;
    if (kind === 'postgresql') {
      other = new pg.Client({ connectionString: target.url });
      await other.connect();
      await other.query('select pg_advisory_lock($1::bigint)', [entities[0]]);
      await other.query('select pg_advisory_lock($1::int, hashtext($2))', [ORDER_LOCK_SPACE, orderLockName('acme', 'ord_x')]);
      const u = new URL(target.url);
      u.searchParams.set('options', '-c lock_timeout=2s');
      claims = await openDatabase(u.toString(), { migrate: false, poolSize: 1 });
    }
    const rounds: { held: boolean; taken: boolean; claimAnswered: boolean }[] = [];
    try {
      for (const held of [false, true, true, true]) {
        let claimAnswered = false;
        const e = await claims
          .em()
          .transactional(async (em) => {
            await repo.claim(em, c, { orderId: 'ord_x', entities }, { held });
            claimAnswered = true;
            // With a parameter: the statement a held claim goes out with, and fails in its place.
            await em.execute('select ?::int as one', [1]);
          })
          .then(() => undefined, (x: unknown) => x);
        rounds.push({ held, taken: isIdempotencyKeyTaken(e), claimAnswered });
      }
    } finally {
      await other?.end();
      if (claims !== db) await claims.close();
    }
    expect(rounds.every((r) => r.taken)).toBe(true);
    // Not held: it fails at its own call. Held (PostgreSQL, named and parsed on the connection): it answers at once.
    expect(rounds[0]!.claimAnswered).toBe(false);
    if (kind === 'postgresql') expect(rounds[3]!.claimAnswered).toBe(true);
    const rows = await db.em().execute<{ decision_id: string }[]>('select decision_id::text from idempotency_records where tenant = ? and key = ?', ['acme', c.key]);
    expect(rows).toEqual([{ decision_id: c.decisionId }]);
  });

  it('unlessKeyTaken answers taken for a transaction whose held claim found its key taken', async () => {
    const c = claim();
    const run = () =>
      unlessKeyTaken(
        db.em().transactional(async (em) => {
          await repo.claim(em, c, { entities: [] }, { held: true });
          return (await em.execute<{ n: number }[]>('select count(*)::int as n from idempotency_records where key = ?', [c.key]))[0]!.n;
        }),
      );
    expect(await run()).toBe(1);
    expect(await run()).toBe('taken');
  });
});
