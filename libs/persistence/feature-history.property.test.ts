/**
 * FeatureHistoryRepository.values against a brute-force recount: random event streams (entities, keys, sources,
 * kinds, outcomes, reasons, attributes, amounts, times crowded around the window edges) stored in feature_events,
 * random refunds of those decisions with random transitions (refund events are derived from them at query time),
 * random queries over them; every aggregate must equal what a plain loop over the same events says. The window is
 * (from, to]: events exactly at `from` are out, exactly at `to` in. On PGlite, and on PostgreSQL when
 * TEST_DATABASE_URL is set.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import type { FeatureQuery, Scalar } from '../decisions/types/features.js';
import { LAST_INSTANT_MS } from '../names/index.js';
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
/** The edges themselves: every end and every start. */
const EXACT_EDGES = [...new Set(ENDS.flatMap((to) => [to, ...WINDOWS.map((w) => to - w)]))];
/** Times after every end: what only a window without one (includeLater) counts. */
const LATER = [T0 + 90 * MINUTE, T0 + 2 * HOUR];

const ENTITIES = ['customer', 'device'] as const;
const KEYS = ['k1', 'k2'];
const SOURCES = { decision: ['refund', 'redemption'], refund: ['APPROVED', 'DENIED'], ledger: ['chargeback', 'refund'] } as const;
/** The sources stored as rows; refund events are a decision's rows joined to its refund's transitions. */
const STORED = ['decision', 'ledger'] as const;
/** Decisions (by index) that events and refunds name; refunds may name a decision no event has. */
const DECISIONS = 8;
const REFUND_STATES = ['APPROVED', 'DENIED', 'PROCESSING'] as const;
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
  /** The decision a 'decision' row belongs to (several rows may share one, as a decision's entity keys do). */
  decision?: number;
}

/**
 * A refund created by decision `decision` of `tenant`, with its approved amount (0: none yet) and its transitions. A
 * decision creates one refund at most (refunds_one_per_decision).
 */
interface Refund {
  tenant: string;
  decision: number;
  approved: number;
  transitions: string[];
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
    source: fc.constantFrom(...STORED),
    kindIndex: fc.nat({ max: 1 }),
    decision: fc.nat({ max: DECISIONS - 1 }),
    // Exact window edges have a weight of their own: the edge checks below must not starve in any run's draw (a CI run
    // once saw 5 events on a window's end against a floor of 6 when they were one value among the ±1 ms ones).
    at: fc.oneof(
      { arbitrary: fc.constantFrom(...EXACT_EDGES), weight: 2 },
      { arbitrary: fc.constantFrom(...EDGES, ...LATER), weight: 3 },
      { arbitrary: fc.integer({ min: T0 - 2 * DAY, max: T0 + 2 * HOUR }), weight: 1 },
    ),
    outcome: fc.option(fc.constantFrom(...OUTCOMES), { nil: null }),
    reasons: fc.subarray(REASONS),
    amount: fc.option(fc.integer({ min: -1_000, max: 1_000_000 }), { nil: null }),
    attributes,
    // The other entity's key in `keys` (what a distinct count reads), sometimes absent.
    other: fc.option(fc.constantFrom(...KEYS, 'k3', 'k4'), { nil: null }),
  })
  .map(({ kindIndex, other, decision, ...e }) => ({
    ...e,
    kind: SOURCES[e.source][kindIndex]!,
    ...(e.source === 'decision' && { decision }),
    keys: { [e.entity]: e.key, ...(other !== null && { [e.entity === 'customer' ? 'device' : 'customer']: other }) },
  }));

const refund: fc.Arbitrary<Refund> = fc.record({
  tenant: fc.constantFrom(TENANT, TENANT, TENANT, 'globex'),
  decision: fc.nat({ max: DECISIONS + 1 }),
  approved: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000 })),
  transitions: fc.array(fc.constantFrom(...REFUND_STATES), { maxLength: 3 }),
});

/** The refund events: each decision row of a refund's decision, once per transition of that refund. */
function refundEvents(events: readonly Event[], refunds: readonly Refund[]): Event[] {
  return events.flatMap((e) =>
    e.source !== 'decision'
      ? []
      : refunds
          .filter((r) => r.tenant === e.tenant && r.decision === e.decision)
          .flatMap((r) => r.transitions.map((state) => ({ ...e, source: 'refund' as const, kind: state, outcome: null, reasons: [], amount: r.approved > 0 ? r.approved : e.amount }))),
  );
}

/** `decision`: only that decision's events (a source's `decisionId`), by index; its id is known once the run stores. */
type Query = Omit<FeatureQuery, 'name'> & { decision?: number };

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
    decision: sometimes(fc.nat({ max: DECISIONS + 1 })),
    // A feature's includeLater: the window starts where it would and has no end (the last instant stored).
    later: sometimes(fc.constant(true)),
  })
  .map(({ kindPick, to, window, distinctEntity, currentKey, outcomes, reasons, where, decision, later, ...q }) => ({
    ...q,
    kinds: kindPick.map((i) => SOURCES[q.source][i]!),
    ...(outcomes && { outcomes }),
    ...(reasons && { reasons }),
    ...(where && { where }),
    from: new Date(to - window),
    to: new Date(later ? LAST_INSTANT_MS : to),
    ...(q.aggregate === 'distinct' && { distinctEntity, currentKey }),
    ...(q.source === 'decision' && decision !== undefined && { decision }),
  }));

/**
 * `q` as a bound decision type asks it: its declared parts from one object per distinct declaration (FeatureQuery.declared),
 * so the repository compiles its statement once per declaration set.
 */
const declarations = new Map<string, Partial<FeatureQuery>>();
function declaredOnce(q: Query): Query {
  const { entity, source, kinds, outcomes, reasons, where, aggregate, distinctEntity } = q;
  const parts = JSON.parse(JSON.stringify({ entity, source, kinds, outcomes, reasons, where, aggregate, distinctEntity })) as Partial<FeatureQuery>;
  const key = JSON.stringify(parts);
  const declared = declarations.get(key) ?? parts;
  declarations.set(key, declared);
  return { ...q, ...declared, declared };
}

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
      (!q.where || Object.entries(q.where).every(([k, v]) => Object.hasOwn(e.attributes, k) && e.attributes[k] === v)) &&
      (q.decision === undefined || e.decision === q.decision)
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

  let runs = 0;

  /**
   * Replaces the stored events and refunds. Refund transitions are append-only (no delete, no truncate), so each run
   * names its refunds and decisions afresh: earlier runs' transitions then join nothing.
   */
  /** Stores the run's events and refunds; answers the ids it gave decisions 0 … DECISIONS + 1. */
  async function store(events: readonly Event[], refunds: readonly Refund[] = []): Promise<string[]> {
    const run = ++runs;
    const ids = Array.from({ length: DECISIONS + 2 }, () => randomUUID());
    await db.em().execute('delete from feature_events');
    await db.em().execute('delete from refunds');
    const at = new Date(T0).toISOString();
    if (events.length > 0) {
      const rows = events.map(({ decision, ...e }) => ({ ...e, at: new Date(e.at).toISOString(), created_at: at, decision_id: decision === undefined ? null : ids[decision] }));
      await db.em().execute(
        `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
         select tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at
           from jsonb_to_recordset(?::jsonb) as e(tenant text, entity text, key text, source text, kind text, at timestamptz, outcome text,
                                                  reasons text[], amount bigint, attributes jsonb, keys jsonb, decision_id uuid, created_at timestamptz)`,
        [JSON.stringify(rows)],
      );
    }
    if (refunds.length > 0) {
      const rows = refunds.map((r, i) => ({ tenant: r.tenant, refund_id: `run${run}_r${i}`, decision_id: ids[r.decision], approved: r.approved, transitions: r.transitions }));
      await db.em().execute(
        `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at)
         select tenant, refund_id, 'refund', 'ord', 'cus', 'APPROVED', 1, approved, 1, 'EUR', 'test', decision_id, ?, ?
           from jsonb_to_recordset(?::jsonb) as r(tenant text, refund_id text, decision_id uuid, approved bigint)`,
        [at, at, JSON.stringify(rows)],
      );
      // Each from the state before it, the first from none (the refund's entry), as the service writes them; in order.
      const transitions = rows.flatMap((r) =>
        r.transitions.map((state, j) => ({ id: randomUUID(), tenant: r.tenant, refund_id: r.refund_id, from_state: j === 0 ? null : r.transitions[j - 1], to_state: state })),
      );
      if (transitions.length > 0) {
        await db.em().execute(
          `insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, at)
           select id, tenant, refund_id, from_state, to_state, 'test', 'system', ?
             from rows from (jsonb_to_recordset(?::jsonb) as (id uuid, tenant text, refund_id text, from_state text, to_state text)) with ordinality as t
            order by t.ordinality`,
          [at, JSON.stringify(transitions)],
        );
      }
    }
    return ids;
  }

  it('count, sum, distinct (with and without the current key) and firstSeen, for random streams and queries', async () => {
    // How often a matching event sat exactly on an edge, and how often an answer was not empty: a property that never
    // met the edges would pass whatever the window's bounds were.
    const seen = { atFrom: 0, atTo: 0, nonEmpty: 0, refundNonEmpty: 0, oneDecisionNonEmpty: 0, laterNonEmpty: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 10, maxLength: 80, size: 'max' }), fc.uniqueArray(refund, { maxLength: 8, selector: (r) => `${r.tenant}/${r.decision}` }), fc.array(query, { minLength: 1, maxLength: 8 }), fc.boolean(), async (stored, refunds, qs, compiled) => {
        const ids = await store(stored, refunds);
        const events = [...stored, ...refundEvents(stored, refunds)];
        // Declared (as a decision type's queries are): the statement compiled once per declaration set, bound here.
        const named = qs.map((q, i) => ({ ...(compiled ? declaredOnce(q) : q), name: `q${i}`, ...(q.decision !== undefined && { decisionId: ids[q.decision]! }) }));
        // Compiled first for other values (key, window, current key): the answer below comes from binding to that text.
        if (compiled) {
          const other = { key: 'k-other', from: new Date(0), to: new Date(1) };
          await repo.values(db.em(), TENANT, named.map((q) => ({ ...q, ...other, ...(q.currentKey !== undefined && { currentKey: 'k-other' }), ...(q.decisionId !== undefined && { decisionId: randomUUID() }) })));
        }
        const got = await repo.values(db.em(), TENANT, named);
        for (const q of named) {
          if (events.some((e) => matches(e, q) && e.at === q.from.getTime())) seen.atFrom++;
          if (events.some((e) => matches(e, q) && e.at === q.to.getTime())) seen.atTo++;
          if (![0, null].includes(recount(events, q))) seen.nonEmpty++;
          if (q.source === 'refund' && ![0, null].includes(recount(events, q))) seen.refundNonEmpty++;
          if (q.decisionId !== undefined && ![0, null].includes(recount(events, q))) seen.oneDecisionNonEmpty++;
          // Counted past the usual end (an event after `to` would be out of a window that ends there).
          if (q.to.getTime() === LAST_INSTANT_MS && events.some((e) => matches(e, q) && e.at > Math.max(...ENDS))) seen.laterNonEmpty++;
        }
        expect(got).toEqual(Object.fromEntries(named.map((q) => [q.name, recount(events, q)])));
      }),
      { numRuns: kind === 'pglite' ? 200 : 300 },
    );
    expect(seen.atFrom).toBeGreaterThan(5);
    expect(seen.atTo).toBeGreaterThan(5);
    expect(seen.nonEmpty).toBeGreaterThan(100);
    expect(seen.refundNonEmpty).toBeGreaterThan(10);
    expect(seen.oneDecisionNonEmpty).toBeGreaterThan(5);
    expect(seen.laterNonEmpty).toBeGreaterThan(2);
  });

  it('a refund event is a decision row once per transition into a listed state, summed at the approved amount once there is one', async () => {
    const row = (decision: number, key: string, amount: number, tenant = TENANT): Event => ({
      tenant, entity: 'customer', key, source: 'decision', kind: 'refund', at: T0 - MINUTE, outcome: 'APPROVE', reasons: [], amount,
      attributes: { reasonCode: decision === 0 ? 'GOODWILL' : 'DAMAGED' }, keys: { customer: key, device: `dev${decision}` }, decision,
    });
    await store(
      [row(0, 'k1', 100), row(1, 'k1', 200), row(2, 'k1', 300), row(3, 'k2', 400), row(4, 'k1', 500, 'globex')],
      [
        { tenant: TENANT, decision: 0, approved: 0, transitions: ['APPROVED', 'PROCESSING'] },
        { tenant: TENANT, decision: 1, approved: 150, transitions: ['APPROVED', 'DENIED', 'APPROVED'] },
        // Decision 2 has no refund; decision 3 is another key; decision 4's refund is another tenant's.
        { tenant: TENANT, decision: 3, approved: 0, transitions: ['APPROVED'] },
        { tenant: 'globex', decision: 4, approved: 0, transitions: ['APPROVED'] },
      ],
    );
    const q = (name: string, aggregate: FeatureQuery['aggregate'], kinds: string[], extra: Partial<FeatureQuery> = {}): FeatureQuery => ({
      name, entity: 'customer', key: 'k1', source: 'refund', kinds, from: new Date(T0 - HOUR), to: new Date(T0), aggregate, ...extra,
    });
    expect(
      await repo.values(db.em(), TENANT, [
        q('approved', 'count', ['APPROVED']),
        q('approvedSum', 'sum', ['APPROVED']),
        q('anySum', 'sum', ['APPROVED', 'DENIED', 'PROCESSING']),
        q('goodwill', 'count', ['APPROVED'], { where: { reasonCode: 'GOODWILL' } }),
        q('devices', 'distinct', ['APPROVED'], { distinctEntity: 'device', currentKey: null }),
        q('first', 'firstSeen', ['PROCESSING']),
        q('outcomeFiltered', 'count', ['APPROVED'], { outcomes: ['APPROVE'] }),
        q('excluded', 'count', ['APPROVED'], { excludeDecision: undefined, where: { reasonCode: 'DAMAGED' } }),
        q('outside', 'count', ['APPROVED'], { from: new Date(T0 - 2 * MINUTE), to: new Date(T0 - MINUTE - 1) }),
      ]),
    ).toEqual({
      approved: 3,
      approvedSum: 100 + 150 + 150,
      anySum: 100 + 100 + 150 * 3,
      goodwill: 1,
      devices: 2,
      first: 60,
      outcomeFiltered: 0,
      excluded: 2,
      outside: 0,
    });
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
