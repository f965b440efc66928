/**
 * FeatureHistoryRepository.claim: the key's claim takes the order's lock and then every entity key's lock, in one
 * statement. What orders two decisions about one customer is these locks: they must be held after the claim.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { entityLockIds, FeatureHistoryRepository } from './feature-history.repository.js';
import type { FeatureQuery } from '../decisions/types/features.js';

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
      expect(await repo.claim(em, claim(), { orderId: 'ord_1', entities: locks })).toBe(true);
      const rows = await held(em);
      // One two-int lock (the order's: objsubid 2) and one bigint lock per entity key (objsubid 1).
      expect(rows.filter((r) => Number(r.objsubid) === 1)).toHaveLength(2);
      expect(rows.filter((r) => Number(r.objsubid) === 2)).toHaveLength(1);
    });
    await db.em().transactional(async (em) => {
      expect(await repo.claim(em, claim(), { entities: locks })).toBe(true);
      expect((await held(em)).filter((r) => Number(r.objsubid) === 1)).toHaveLength(2);
    });
  });

  it('a key already claimed takes no lock', async () => {
    const c = claim();
    await db.em().transactional(async (em) => {
      expect(await repo.claim(em, c, { entities: entityLockIds('acme', { customer: 'pii_x' }) })).toBe(true);
    });
    await db.em().transactional(async (em) => {
      expect(await repo.claim(em, c, { entities: entityLockIds('acme', { customer: 'pii_x' }) })).toBe(false);
      expect(await held(em)).toEqual([]);
    });
  });
});

/**
 * The aggregates plan once per connection (Migration20261209020000): a plan made while feature_events was empty must
 * still read the grown history through feature_events_lookup, never by a sequential scan (the failure of the generic
 * plans reverted before). pg_stat_get_xact_numscans counts this transaction's own scans (a table's sequential ones, an
 * index's), the functions' included.
 */
describe.each(kinds)('feature aggregates planned on an empty history (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new FeatureHistoryRepository();

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('feature_history_plans');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  const to = new Date('2026-03-11T12:00:00Z');
  const from = new Date(to.getTime() - 30 * 86_400_000);
  const base = { entity: 'customer', key: 'pii_c2', from, to };
  const queries: FeatureQuery[] = [
    { ...base, name: 'decisions', source: 'decision', kinds: ['refund'], aggregate: 'count' },
    { ...base, name: 'approved', source: 'decision', kinds: ['refund'], outcomes: ['APPROVE'], aggregate: 'sum' },
    { ...base, name: 'goodwill', source: 'refund', kinds: ['APPROVED'], where: { reasonCode: 'GOODWILL' }, aggregate: 'count' },
    { ...base, name: 'refunded', source: 'refund', kinds: ['APPROVED'], aggregate: 'sum' },
    { ...base, name: 'devices', source: 'decision', kinds: ['refund'], aggregate: 'distinct', distinctEntity: 'device', currentKey: 'pii_d0' },
    { ...base, name: 'first', source: 'decision', kinds: ['refund'], aggregate: 'firstSeen' },
  ];

  it('reads a history that grew after the plans were made through feature_events_lookup alone', async () => {
    await db.em().transactional(async (em) => {
      // Planned on an empty, analyzed table (a young database), in this connection; then the history grows, with no
      // ANALYZE after it to replan them.
      await em.execute('analyze feature_events');
      expect(await repo.values(em, 'acme', queries)).toEqual({ decisions: 0, approved: 0, goodwill: 0, refunded: 0, devices: 1, first: null });
      await em.execute(
        `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, created_at, refund_states, refund_amount)
         select 'acme', 'customer', 'pii_c' || (i % 500), 'decision', 'refund', ?::timestamptz - (i % 40) * interval '1 day', case when i % 2 = 0 then 'APPROVE' else 'DENY' end,
                '{}', 100, jsonb_build_object('reasonCode', case when i % 3 = 0 then 'GOODWILL' else 'DAMAGED' end),
                jsonb_build_object('customer', 'pii_c' || (i % 500), 'device', 'pii_d' || (i % 7)), now(),
                case when i % 2 = 0 then '{APPROVED}'::text[] end, case when i % 2 = 0 then 100 end
           from generate_series(1, 20000) i`,
        [to.toISOString()],
      );
      const before = await lookups(em);
      const got = await repo.values(em, 'acme', queries);
      const after = await lookups(em);
      // Customer pii_c2's 40 rows (i = 2, 502, …): 2 or 22 days old, approved and refunded 100 each, goodwill when 3 | i
      // (13 of them), on all 7 devices.
      expect(got).toEqual({ decisions: 40, approved: 4000, goodwill: 13, refunded: 4000, devices: 7, first: 22 * 86_400 });
      expect(after.seq - before.seq).toBe(0);
      expect(after.lookup - before.lookup).toBe(queries.length);
    });
  });

  it('appends a refund\'s later states through feature_events_decision, with a plan made on empty tables', async () => {
    const refund = (i: number) =>
      `('acme', 'pr${i}', 'refund', 'o', 'c', 'APPROVED', 100, 100, 100, 'EUR', 'x', '00000000-0000-7000-8000-${String(i).padStart(12, '0')}', now(), now())`;
    const refundColumns = 'tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at';
    type Em = Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0];
    const transition = (em: Em, i: number, to: string) =>
      em.execute(`insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, at) values (gen_random_uuid(), 'acme', 'pr${i}', 'APPROVED', ?, 'w', 'system', now())`, [to]);
    await db.em().transactional(async (em) => {
      await em.execute('delete from feature_events');
      await em.execute('analyze feature_events');
      await em.execute('analyze refunds');
      // The trigger's first call in this connection, on an empty history: its plan is made here.
      await em.execute(`insert into refunds (${refundColumns}) values ${refund(0)}`);
      await transition(em, 0, 'PROCESSING');
      await em.execute(`insert into refunds (${refundColumns}) values ${Array.from({ length: 5000 }, (_, i) => refund(i + 1)).join(', ')}`);
      await em.execute(
        `insert into feature_events (tenant, entity, key, source, kind, at, amount, attributes, keys, created_at, decision_id, refund_states, refund_amount)
         select 'acme', ent, 'k' || i, 'decision', 'refund', now(), 100, '{}', '{}', now(), ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, '{APPROVED}', 100
           from generate_series(1, 5000) i, (values ('customer'), ('device')) v(ent)`,
      );
      const before = await scans(em, ['feature_events', 'refunds', 'feature_events_decision', 'feature_events_lookup']);
      await transition(em, 4321, 'PROCESSING');
      const after = await scans(em, ['feature_events', 'refunds', 'feature_events_decision', 'feature_events_lookup']);
      expect(after.map((n, i) => n - before[i]!)).toEqual([0, 0, 1, 0]);
      const rows = await em.execute<{ refund_states: string[] }[]>(
        "select refund_states from feature_events where decision_id = '00000000-0000-7000-8000-000000004321'",
      );
      expect(rows.map((r) => r.refund_states)).toEqual([['APPROVED', 'PROCESSING'], ['APPROVED', 'PROCESSING']]);
    });
  });

  /** This transaction's scans of each relation so far: a table's sequential ones, an index's. */
  async function scans(em: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0], relations: string[]): Promise<number[]> {
    const rows = await em.execute<{ n: number }[]>(
      `select pg_stat_get_xact_numscans(r::regclass)::int as n from unnest(?::text[]) with ordinality as x(r, i) order by i`,
      [`{${relations.join(',')}}`],
    );
    return rows.map((r) => Number(r.n));
  }

  async function lookups(em: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0]): Promise<{ seq: number; lookup: number }> {
    const rows = await em.execute<{ seq: number; lookup: number }[]>(
      `select pg_stat_get_xact_numscans('feature_events'::regclass)::int as seq, pg_stat_get_xact_numscans('feature_events_lookup'::regclass)::int as lookup`,
    );
    return { seq: Number(rows[0]!.seq), lookup: Number(rows[0]!.lookup) };
  }
});
