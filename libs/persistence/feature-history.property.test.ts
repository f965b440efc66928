/**
 * FeatureHistoryRepository.values against a brute-force recount: random event streams (entities, keys, sources,
 * kinds, outcomes, reasons, attributes, amounts, times crowded around the window edges) stored in feature_events,
 * random queries over them; every aggregate must equal what a plain loop over the same events says. The window is
 * (from, to]: events exactly at `from` are out, exactly at `to` in. On PGlite, and on PostgreSQL when
 * TEST_DATABASE_URL is set.
 */
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import type { FeatureQuery, Scalar } from '../decisions/types/features.js';
import { openDatabase, type Database } from './database.js';
import { FeatureHistoryRepository } from './feature-history.repository.js';

const TENANT = 'acme';
const T0 = Date.parse('2026-03-11T12:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const WINDOWS = [MINUTE, HOUR, DAY];
/** The ends of the queries' windows. */
const ENDS = [T0, T0 + HOUR];
/** Event times: every window edge (and 1 ms either side) of every query, and anything in between. */
const EDGES = [...new Set(ENDS.flatMap((to) => WINDOWS.flatMap((w) => [to, to - w]).flatMap((t) => [t - 1, t, t + 1])))];

const ENTITIES = ['customer', 'device'] as const;
const KEYS = ['k1', 'k2'];
const SOURCES = { decision: ['refund', 'redemption'], refund: ['APPROVED', 'DENIED'], ledger: ['chargeback', 'refund'] } as const;
const OUTCOMES = ['APPROVE', 'REVIEW', 'DENY'];
const REASONS = ['A', 'B', 'C'];
const ATTRIBUTES = { reasonCode: ['GOODWILL', 'DAMAGED'], channel: ['api', 'agent'], found: [true, false], n: [1, 2] } as const;

interface Event {
  tenant: string;
  entity: string;
  key: string;
  source: keyof typeof SOURCES;
  kind: string;
  at: number;
  outcome: string | null;
  reasons: string[];
  amount: number | null;
  attributes: Record<string, Scalar>;
  keys: Record<string, string>;
}

const subset = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 });
/** A filter in about one query of three: with every filter on, few events would match anything. */
const sometimes = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: a, weight: 1 });
const attributeValue = (name: keyof typeof ATTRIBUTES) => fc.constantFrom<Scalar>(...ATTRIBUTES[name], null);
const attributes = fc.record(
  Object.fromEntries(Object.keys(ATTRIBUTES).map((n) => [n, attributeValue(n as keyof typeof ATTRIBUTES)])) as Record<keyof typeof ATTRIBUTES, fc.Arbitrary<Scalar>>,
  { requiredKeys: [] },
);

const event: fc.Arbitrary<Event> = fc
  .record({
    tenant: fc.constantFrom(TENANT, TENANT, TENANT, 'globex'),
    entity: fc.constantFrom(...ENTITIES),
    key: fc.constantFrom(...KEYS),
    source: fc.constantFrom(...(Object.keys(SOURCES) as (keyof typeof SOURCES)[])),
    kindIndex: fc.nat({ max: 1 }),
    at: fc.oneof({ arbitrary: fc.constantFrom(...EDGES), weight: 3 }, { arbitrary: fc.integer({ min: T0 - 2 * DAY, max: T0 + 2 * HOUR }), weight: 1 }),
    outcome: fc.option(fc.constantFrom(...OUTCOMES), { nil: null }),
    reasons: fc.subarray(REASONS),
    amount: fc.option(fc.integer({ min: -1_000, max: 1_000_000 }), { nil: null }),
    attributes,
    // The other entity's key in `keys` (what a distinct count reads), sometimes absent.
    other: fc.option(fc.constantFrom(...KEYS, 'k3', 'k4'), { nil: null }),
  })
  .map(({ kindIndex, other, ...e }) => ({
    ...e,
    kind: SOURCES[e.source][kindIndex]!,
    keys: { [e.entity]: e.key, ...(other !== null && { [e.entity === 'customer' ? 'device' : 'customer']: other }) },
  }));

type Query = Omit<FeatureQuery, 'name'>;

const query: fc.Arbitrary<Query> = fc
  .record({
    entity: fc.constantFrom(...ENTITIES),
    key: fc.constantFrom(...KEYS, 'k9'),
    source: fc.constantFrom(...(Object.keys(SOURCES) as (keyof typeof SOURCES)[])),
    kindPick: fc.subarray([0, 1], { minLength: 1 }),
    outcomes: sometimes(subset(OUTCOMES)),
    reasons: sometimes(subset(REASONS)),
    where: sometimes(
      fc.subarray(Object.keys(ATTRIBUTES) as (keyof typeof ATTRIBUTES)[], { minLength: 1, maxLength: 2 }).chain((names) =>
        fc.tuple(...names.map((n) => attributeValue(n))).map((vs) => Object.fromEntries(names.map((n, i) => [n, vs[i]!]))),
      ),
    ),
    to: fc.constantFrom(...ENDS),
    window: fc.constantFrom(...WINDOWS),
    aggregate: fc.constantFrom<FeatureQuery['aggregate']>('count', 'sum', 'distinct', 'firstSeen'),
    distinctEntity: fc.constantFrom(...ENTITIES),
    currentKey: fc.option(fc.constantFrom(...KEYS, 'k3', 'k5'), { nil: null }),
  })
  .map(({ kindPick, to, window, distinctEntity, currentKey, outcomes, reasons, where, ...q }) => ({
    ...q,
    kinds: kindPick.map((i) => SOURCES[q.source][i]!),
    ...(outcomes && { outcomes }),
    ...(reasons && { reasons }),
    ...(where && { where }),
    from: new Date(to - window),
    to: new Date(to),
    ...(q.aggregate === 'distinct' && { distinctEntity, currentKey }),
  }));

/** Whether `e` passes `q`'s filters other than the window. */
function matches(e: Event, q: Query): boolean {
  return (
      e.tenant === TENANT &&
      e.entity === q.entity &&
      e.key === q.key &&
      e.source === q.source &&
      q.kinds.includes(e.kind) &&
      (!q.outcomes || (e.outcome !== null && q.outcomes.includes(e.outcome))) &&
      (!q.reasons || e.reasons.some((r) => q.reasons!.includes(r))) &&
      (!q.where || Object.entries(q.where).every(([k, v]) => Object.hasOwn(e.attributes, k) && e.attributes[k] === v))
  );
}

/** What the repository must answer, by looking at every event. */
function recount(events: readonly Event[], q: Query): number | null {
  const hits = events.filter((e) => matches(e, q) && e.at > q.from.getTime() && e.at <= q.to.getTime());
  switch (q.aggregate) {
    case 'count':
      return hits.length;
    case 'sum':
      return hits.reduce((s, e) => s + (e.amount ?? 0), 0);
    case 'distinct': {
      const keys = new Set(hits.flatMap((e) => (e.keys[q.distinctEntity!] === undefined ? [] : [e.keys[q.distinctEntity!]!])));
      if (q.currentKey) keys.add(q.currentKey);
      return keys.size;
    }
    case 'firstSeen':
      return hits.length === 0 ? null : Math.floor((q.to.getTime() - Math.min(...hits.map((e) => e.at))) / 1000);
  }
}

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('FeatureHistoryRepository.values equals a recount of the stored events (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new FeatureHistoryRepository();

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('feature_history_property');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  async function store(events: readonly Event[]): Promise<void> {
    await db.em().execute('delete from feature_events');
    if (events.length === 0) return;
    const rows = events.map((e) => ({ ...e, at: new Date(e.at).toISOString(), created_at: new Date(T0).toISOString() }));
    await db.em().execute(
      `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, created_at)
       select tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, created_at
         from jsonb_to_recordset(?::jsonb) as e(tenant text, entity text, key text, source text, kind text, at timestamptz, outcome text,
                                                reasons text[], amount bigint, attributes jsonb, keys jsonb, created_at timestamptz)`,
      [JSON.stringify(rows)],
    );
  }

  it('count, sum, distinct (with and without the current key) and firstSeen, for random streams and queries', async () => {
    // How often a matching event sat exactly on an edge, and how often an answer was not empty: a property that never
    // met the edges would pass whatever the window's bounds were.
    const seen = { atFrom: 0, atTo: 0, nonEmpty: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 10, maxLength: 80, size: 'max' }), fc.array(query, { minLength: 1, maxLength: 8 }), async (events, qs) => {
        await store(events);
        const named = qs.map((q, i) => ({ ...q, name: `q${i}` }));
        const got = await repo.values(db.em(), TENANT, named);
        for (const q of named) {
          if (events.some((e) => matches(e, q) && e.at === q.from.getTime())) seen.atFrom++;
          if (events.some((e) => matches(e, q) && e.at === q.to.getTime())) seen.atTo++;
          if (![0, null].includes(recount(events, q))) seen.nonEmpty++;
        }
        expect(got).toEqual(Object.fromEntries(named.map((q) => [q.name, recount(events, q)])));
      }),
      { numRuns: kind === 'pglite' ? 200 : 300 },
    );
    expect(seen.atFrom).toBeGreaterThan(5);
    expect(seen.atTo).toBeGreaterThan(5);
    expect(seen.nonEmpty).toBeGreaterThan(100);
  });

  it('the window is (from, to]: an event exactly at the start is out, exactly at the end is in', async () => {
    const at = (t: number, key = 'k1'): Event => ({ tenant: TENANT, entity: 'customer', key, source: 'decision', kind: 'refund', at: t, outcome: 'APPROVE', reasons: [], amount: 10, attributes: {}, keys: { customer: key } });
    await store([at(T0 - HOUR), at(T0 - HOUR + 1), at(T0), at(T0 + 1), at(T0 - HOUR + 1000, 'k2'), at(T0, 'k2')]);
    const q = (aggregate: FeatureQuery['aggregate'], key = 'k1'): FeatureQuery => ({
      name: `${aggregate}_${key}`,
      entity: 'customer',
      key,
      source: 'decision',
      kinds: ['refund'],
      from: new Date(T0 - HOUR),
      to: new Date(T0),
      aggregate,
    });
    expect(await repo.values(db.em(), TENANT, [q('count'), q('sum'), q('firstSeen'), q('firstSeen', 'k2'), q('count', 'k9'), q('firstSeen', 'k9')])).toEqual({
      count_k1: 2,
      sum_k1: 20,
      // T0 − 1 h + 1 ms: 3599.999 s before the end, whole seconds.
      firstSeen_k1: 3599,
      firstSeen_k2: 3599,
      count_k9: 0,
      firstSeen_k9: null,
    });
  });
});
