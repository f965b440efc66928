/**
 * The platform's history (feature_events): the locks that order decisions on one entity key, the aggregates a
 * decision reads, and the rows it adds. A decision takes the locks of every entity key its case names (in its claim
 * statement), reads its features in the next statement (so it sees every decision that held a lock before it), and
 * writes its own events before it commits: two decisions about one customer see each other in lock order.
 */
import { hash, randomBytes } from 'node:crypto';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import type { FeatureQuery, HistoryRecord } from '../decisions/types/features.js';
import type { IdempotencyClaim } from './decisions.repository.js';
import { ORDER_LOCK_SPACE, orderLockName } from './refunds.repository.js';
import { ANY_SCAN_AGAIN, CUSTOM_PLAN_AGAIN, GENERIC_INDEX_PLAN, GENERIC_PLAN, HELD } from './prepared-statements.js';
import { sameTenant } from './tenant-scope.js';
import { CompiledStatements, shapeKey, type SlotOf } from './compiled-statements.js';
import { pgTimestamp } from './timestamps.js';

/**
 * The advisory lock of one entity key: 64 bits of SHA-256 (a key space of its own: PostgreSQL keeps single-bigint
 * locks apart from the two-int order locks). Callers lock in ascending order, so two decisions never wait on each
 * other in a cycle.
 */
export function entityLockId(tenant: string, entity: string, key: string): bigint {
  // One-shot: 2.2 µs against 3.4 µs for a Hash object per key (node, 2026-12-05). The same bytes: ids must not change.
  return hash('sha256', `${tenant}\0${entity}\0${key}`, 'buffer').readBigInt64BE(0);
}

/** Every entity key of a case as lock ids, ascending, without repeats. */
export function entityLockIds(tenant: string, keys: Readonly<Record<string, string>>): string[] {
  const ids = [...new Set(Object.entries(keys).map(([e, k]) => entityLockId(tenant, e, k)))];
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return ids.map(String);
}

/** One stored decision's rows: one per entity key its case names. */
export interface RecordedDecision {
  tenant: string;
  decisionId: string;
  type: string;
  outcome: string;
  reasons: readonly string[];
  record: HistoryRecord;
  createdAt: Date;
  /** The refund the decision creates in the same statement: its entry state and approved amount go on the rows. */
  refund?: { state: string; approvedAmount: number };
}

/**
 * Says, for the rest of the transaction, that the write of `decisionId` puts its refund's entry state on the decision's
 * rows itself (historyInsertSql with `refund`), so the refund_transitions trigger skips that one entry transition
 * (Migration20261208000000); any other transition in the transaction still reaches its rows. A select-list column of a
 * statement before the write.
 */
export function refundStatesWrittenBy(decisionId: string): RawBuilder<unknown> {
  return sql`set_config('features.refund_states_written', ${decisionId}::uuid::text, true) as refund_states_written`;
}

export class FeatureHistoryRepository {
  /** values()' statements, compiled once per declaration set (and whether inside a transaction). */
  private readonly statements = new CompiledStatements<{ tenant: string; features: readonly FeatureQuery[] }>();
  /** claim()'s statement, compiled once with an order's lock and once without. */
  private readonly claims = new CompiledStatements<ClaimArgs>();

  /**
   * Claims the Idempotency-Key for `decisionId` and, when this request holds it, takes the order's lock (a refund's)
   * and then each entity key's lock, in ONE statement. When another request holds the key (waited for when
   * concurrent), it fails with idempotency_key_taken (isIdempotencyKeyTaken) having locked and written nothing, and
   * the transaction is aborted. Must be followed by reads in later statements: a statement's snapshot predates the
   * locks it waits for.
   *
   * It answers nothing, so with `held` (a read follows it) it is held (HELD): it goes out in one batch with the
   * transaction's next statement (the features read), one round trip instead of two, and that statement's call fails
   * in its place when the key was taken. Callers must treat that failure, wherever it surfaces, as the key being
   * taken. Without `held` (nothing is read before the decision's own write) it runs at its own call: held, it would
   * wait for that write, and a retry of an answered request would be evaluated again before learning it was.
   */
  async claim(
    em: SqlEntityManager,
    c: IdempotencyClaim & { tenant: string; decisionId: string; createdAt: Date },
    locks: { orderId?: string; entities: readonly string[] },
    o: { held: boolean },
  ): Promise<void> {
    const db = em.getKysely();
    const shape = { ordered: locks.orderId !== undefined, held: o.held };
    await db.executeQuery(this.claims.bind(db, shapeKey(shape), { c, locks }, (slot) => claimSql(shape, slot)));
  }

  /**
   * Every query's aggregate in one statement: counts and sums as integers, a distinct count with the current key
   * when asked, firstSeen as whole seconds before the window's end. Keyed by feature name. Inside a transaction,
   * planned once per connection (GENERIC_INDEX_PLAN), by the history's lookup index.
   */
  async values(em: SqlEntityManager, tenant: string, queries: readonly FeatureQuery[]): Promise<Record<string, number | null>> {
    if (queries.length === 0) return {};
    // Outside a transaction (a what-if's recomputed case) the SET LOCALs would each warn: planned for each execution there.
    const inTransaction = em.isInTransaction();
    const statement = (t: string, qs: readonly FeatureQuery[]) =>
      inTransaction
        ? sql<Record<string, unknown>>`${sql.raw(GENERIC_INDEX_PLAN)}select ${sql.join(featureColumns(t, qs))}, ${sql.raw(ANY_SCAN_AGAIN)}, ${sql.raw(CUSTOM_PLAN_AGAIN)}`
        : sql<Record<string, unknown>>`select ${sql.join(featureColumns(t, qs))}`;
    const db = em.getKysely();
    const shape = featuresShape(queries);
    // Every decision of a type other than refund reads its features here (and a backtest, for each case it recomputes):
    // compiled once per declaration set.
    const result =
      shape === undefined
        ? await statement(tenant, queries).execute(db)
        : await db.executeQuery(this.statements.bind(db, `${inTransaction ? 't' : 'n'}${shape}`, { tenant, features: queries }, (slot) => statement(slot((a) => a.tenant), featureSlots(queries, slot))));
    return featureValues(result.rows[0] ?? {}, queries);
  }

  /** The master key of the pseudonyms kept in the database (created on first call) when none is configured. */
  async storedSecret(em: SqlEntityManager, now: Date): Promise<Buffer> {
    await em.execute('insert into pseudonym_secrets (id, secret, created_at) values (1, ?, ?) on conflict (id) do nothing', [randomBytes(32).toString('base64url'), now]);
    const rows = await em.execute<{ secret: string }[]>('select secret from pseudonym_secrets where id = 1');
    return Buffer.from(rows[0]!.secret, 'base64url');
  }
}

export interface ClaimArgs {
  c: IdempotencyClaim & { tenant: string; decisionId: string; createdAt: Date };
  locks: { orderId?: string; entities: readonly string[] };
}

/**
 * FeatureHistoryRepository.claim's statement, with the order's lock when `ordered`, held when `held`; its values read
 * by `value`, each text (HELD needs it).
 *
 * Planned once per connection (GENERIC_PLAN): it scans no table (the conflict check goes by the key's unique index),
 * and planning it for each decision cost more than running it (0.11 against 0.10 ms, pg_stat_statements, 2026-12-06).
 * Held, it answers no rows: the column that plans the rest of the transaction per execution again (CUSTOM_PLAN_AGAIN)
 * is the insert's RETURNING, computed for the row it inserts; when it inserts none the statement fails.
 */
export function claimSql({ ordered, held }: { ordered: boolean; held: boolean }, value: SlotOf<ClaimArgs>): RawBuilder<unknown> {
  const c = <T>(get: (c: ClaimArgs['c']) => T): T => value((a) => get(a.c));
  const order = ordered ? sql`(select 1 from (select pg_advisory_xact_lock(${sql.raw(String(ORDER_LOCK_SPACE))}, hashtext(${value((a) => orderLockName(a.c.tenant, a.locks.orderId!))}))) o)` : sql`1`;
  // `o.done` ties the entity locks after the order's: every path takes them in that order. The locks are computed in a
  // MATERIALIZED step whose every column the last select reads: PostgreSQL removes a LEFT JOIN whose columns nothing
  // reads, and its locks with it. That select answers no row when the key was claimed, and fails when it was not.
  return sql`${sql.raw(held ? HELD + GENERIC_PLAN : GENERIC_PLAN)}
    with claim as (
      insert into idempotency_records (tenant, key, request_hash, method, path, status, content_type, body, decision_id, created_at)
      values (${c((x) => x.tenant)}, ${c((x) => x.key)}, ${c((x) => x.requestHash)}, ${c((x) => x.method)}, ${c((x) => x.path)}, ${c((x) => String(x.status))}::integer,
              ${c((x) => x.contentType)}, null, ${c((x) => x.decisionId)}::uuid, ${c((x) => x.createdAt.toISOString())}::timestamptz)
      on conflict (tenant, key) do nothing
      returning ${sql.raw(CUSTOM_PLAN_AGAIN)}
    ), locked as materialized (
      select c.n as claimed, o.done as order_locked, e.locked as entities_locked from (select count(*)::int as n from claim) c
        left join lateral (select ${order} as done where c.n = 1) o on true
        left join lateral (
          select count(pg_advisory_xact_lock(k))::int as locked from unnest(${value((a) => `{${a.locks.entities.join(',')}}`)}::bigint[]) k where o.done = 1
        ) e on true
    )
    select idempotency_key_taken() from locked where claimed = 0 or coalesce(order_locked, 0) + coalesce(entities_locked, 0) < 0`;
}

/**
 * The insert of a decision's history rows, as a CTE body: written only when `guard` (a CTE name) has a row, if given.
 * `value` reads each of the decision's values: the value itself, or a CompiledStatements slot when the statement
 * compiles once per shape (the refund decision's write, DecisionsRepository.insertDecided). Its text depends on
 * `guard` alone.
 */
export function historyInsertSql(value: <T>(get: (d: RecordedDecision) => T) => T, guard?: string): RawBuilder<unknown> {
  return sql`insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at,
                                refund_states, refund_amount)
      select ${value((d) => d.tenant)}, e.entity, e.key, 'decision', ${value((d) => d.type)}, ${value((d) => d.record.at.toISOString())}::timestamptz, ${value((d) => d.outcome)},
             ${value((d) => `{${d.reasons.map(arrayLiteral).join(',')}}`)}::text[], ${value((d) => d.record.amount)}::bigint,
             ${value((d) => JSON.stringify(d.record.attributes))}::jsonb, ${value((d) => JSON.stringify(d.record.keys))}::jsonb, ${value((d) => d.decisionId)}::uuid,
             ${value((d) => d.createdAt.toISOString())}::timestamptz, ${value((d) => (d.refund ? `{${arrayLiteral(d.refund.state)}}` : null))}::text[],
             ${value((d) => d.refund?.approvedAmount ?? null)}::bigint
        from jsonb_to_recordset(${value((d) => historyKeysJson(d.record.keys))}::jsonb) as e(entity text, key text)
       ${guard === undefined ? sql`` : sql`where exists (select 1 from ${sql.table(guard)})`}`;
}

/** A decision's entity keys as the rows jsonb_to_recordset reads: one `{entity, key}` per key. */
function historyKeysJson(keys: Record<string, string>): string {
  return JSON.stringify(Object.entries(keys).map(([entity, key]) => ({ entity, key })));
}

/**
 * The aggregates as select-list columns (`f0`, `f1`, …), for a statement that reads other things too (a refund
 * decision's `before`): one round trip. Read back with featureValues.
 */
export function featureColumns(tenant: string, queries: readonly FeatureQuery[]): RawBuilder<unknown>[] {
  return queries.map((q, i) => sql`${aggregateSql(tenant, q)} as ${sql.ref(`f${i}`)}`);
}

/** What FeatureQuery.declared holds, written into a features statement's text (aggregateSql). */
const DECLARED_PARTS = ['entity', 'source', 'kinds', 'outcomes', 'reasons', 'where', 'aggregate', 'distinctEntity'] as const;
const declarationIds = new WeakMap<object, number>();
let nextDeclarationId = 0;

/**
 * What featureColumns' text depends on, as a key for CompiledStatements: each query's declaration (FeatureQuery.declared,
 * whose parts are written into the text) and whether it excludes or names a decision (a filter more). Undefined when a query
 * has no declaration to key by.
 */
export function featuresShape(queries: readonly FeatureQuery[]): string | undefined {
  let shape = '';
  for (const q of queries) {
    if (q.declared === undefined) return undefined;
    // The text is built from the query's own parts: a copy that changed one but kept `declared` compiles each time.
    const declared = q.declared as Partial<FeatureQuery>;
    for (const part of DECLARED_PARTS) if (q[part] !== declared[part]) return undefined;
    let id = declarationIds.get(q.declared);
    if (id === undefined) declarationIds.set(q.declared, (id = nextDeclarationId++));
    shape += `${id}${q.excludeDecision === undefined ? '' : 'x'}${q.decisionId === undefined ? '' : 'd'},`;
  }
  return shape;
}

/** `queries` with the values a call brings (key, window, current key, excluded and named decision) as stand-ins for its `features`' own. */
export function featureSlots<A extends { features: readonly FeatureQuery[] }>(queries: readonly FeatureQuery[], slot: SlotOf<A>): FeatureQuery[] {
  return queries.map((q, i) => ({
    ...q,
    key: slot((a) => a.features[i]!.key),
    from: slot((a) => a.features[i]!.from),
    to: slot((a) => a.features[i]!.to),
    currentKey: slot((a) => a.features[i]!.currentKey ?? null),
    ...(q.excludeDecision !== undefined && { excludeDecision: slot((a) => a.features[i]!.excludeDecision) }),
    ...(q.decisionId !== undefined && { decisionId: slot((a) => a.features[i]!.decisionId) }),
  }));
}

/** The values of featureColumns' columns in `row`, by feature name (firstSeen as whole seconds before the window's end). */
export function featureValues(row: Record<string, unknown>, queries: readonly FeatureQuery[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  queries.forEach((q, i) => {
    const v = row[`f${i}`];
    if (q.aggregate === 'firstSeen') {
      out[q.name] = v === null || v === undefined ? null : Math.floor((q.to.getTime() - pgTimestamp(v).getTime()) / 1000);
    } else out[q.name] = Number(v ?? 0);
  });
  return out;
}

/** An element of a text[] literal, quoted (reason codes are upper-snake, but a tenant's policy may name anything). */
function arrayLiteral(s: string): string {
  return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * A declared value as an SQL string literal. The escape-string form reads alike whatever standard_conforming_strings
 * says, a doubled quote whatever backslash_quote says. A NUL cannot come: decision types are stored as jsonb, which
 * refuses \u0000.
 */
function textLiteral(s: string): RawBuilder<unknown> {
  return sql.raw(`E'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`);
}

/** Declared values as a text[] literal. */
function textArray(values: readonly string[]): RawBuilder<unknown> {
  return sql`${textLiteral(`{${values.map(arrayLiteral).join(',')}}`)}::text[]`;
}

/**
 * One feature's aggregate as a scalar subquery. Decision and ledger events are rows of feature_events; a refund
 * event is a decision's row once per state its refund entered that is one of the listed states (`refund_states`,
 * Migration20261208000000_refund_states_on_history): at the decision's business time, with its keys and attributes,
 * and as amount the refund's approved amount once there is one, else the decision's.
 */
function aggregateSql(tenant: string, q: FeatureQuery): RawBuilder<unknown> {
  const refund = q.source === 'refund';
  // What the decision type declares is written into the text, what the case gives is a parameter: the read plans
  // generically (GENERIC_INDEX_PLAN), and a generic plan bounds the index scan only by literals it can see.
  const kinds = textArray(q.kinds);
  const filters: RawBuilder<unknown>[] = [
    sameTenant(tenant, 'e.tenant'),
    sql`e.entity = ${textLiteral(q.entity)}`,
    sql`e.key = ${q.key}`,
    refund ? sql`e.source = 'decision'` : sql`e.source = ${textLiteral(q.source)}`,
    sql`e.at > ${q.from}::timestamptz`,
    sql`e.at <= ${q.to}::timestamptz`,
  ];
  // A refund's states are not an index column: a filter, as before. A decision or ledger kind is, between source and
  // at: each kind gets a scan of its own (below), since a generic plan filters by `kind = any(...)` instead of bounding
  // the scan with it, and then reads the key's whole history whatever the window.
  if (refund) filters.push(sql`e.refund_states && ${kinds}`);
  // A refund event has no outcome or reasons of its own (features.ts offers neither filter on that source).
  if (q.outcomes) filters.push(refund ? sql`false` : sql`e.outcome = any(${textArray(q.outcomes)})`);
  if (q.reasons) filters.push(refund ? sql`false` : sql`e.reasons && ${textArray(q.reasons)}`);
  if (q.where) filters.push(sql`e.attributes @> ${textLiteral(JSON.stringify(q.where))}::jsonb`);
  if (q.excludeDecision !== undefined) filters.push(sql`e.decision_id is distinct from ${q.excludeDecision}::uuid`);
  if (q.decisionId !== undefined) filters.push(sql`e.decision_id = ${q.decisionId}::uuid`);
  // A refund event per listed state its refund entered (a retried payout enters PROCESSING again); one per row otherwise.
  const times = refund ? sql`(select count(*) from unnest(e.refund_states) s where s = any(${kinds}))` : null;
  // numeric before the product: a bigint amount times its entries may overflow where their sum (numeric) would not.
  const amount = refund ? sql`(case when e.refund_amount > 0 then e.refund_amount else e.amount end)::numeric * ${times}` : sql`e.amount`;
  const where = sql.join(filters, sql` and `);
  // The rows: one scan, or one per kind (each row has one kind, so `union all` counts each once).
  const each = [...new Set(q.kinds)]; // the schema admits neither repeats nor none; a repeat would count twice here
  const rows =
    refund || each.length <= 1
      ? sql`feature_events e where ${where}${refund ? sql`` : each.length === 0 ? sql` and false` : sql` and e.kind = ${textLiteral(each[0]!)}`}`
      : sql`(${sql.join(
          each.map((k) => sql`select e.at, e.amount, e.keys from feature_events e where ${where} and e.kind = ${textLiteral(k)}`),
          sql` union all `,
        )}) e where true`;
  switch (q.aggregate) {
    case 'count':
      return times ? sql`(select coalesce(sum(${times}), 0)::int from ${rows})` : sql`(select count(*)::int from ${rows})`;
    case 'sum':
      // Clamped: amounts are safe integers, their sum need not be (a bigint overflow would fail every later decision).
      return sql`(select least(coalesce(sum(${amount}), 0), 9007199254740991)::bigint from ${rows})`;
    case 'firstSeen':
      return sql`(select min(e.at) from ${rows})`;
    case 'distinct': {
      const d = textLiteral(q.distinctEntity!);
      return sql`(select count(*)::int from (
        select e.keys->>${d} as k from ${rows} and e.keys->>${d} is not null
        union select ${q.currentKey ?? null}::text where ${q.currentKey ?? null}::text is not null) x)`;
    }
  }
}
