/**
 * Migration20261220000000_challenged_decisions, on PGlite and on PostgreSQL: giftcard-challenge decisions stored before
 * 1.1.0 get the `challenged` history row 1.1.0 writes (so its repeat check sees passes reported before the switch);
 * a decision that has one, and a purged case, are left alone.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { FeatureHistoryRepository } from './feature-history.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];
const BEFORE = 'Migration20261219000000_legacy_request_hashes';
const AT = '2026-03-05T10:00:00.000Z';

describe.each(kinds)('challenge reports stored before giftcard-challenge@1.1.0 get their challenged row (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const sql = <T = Record<string, unknown>>(q: string, params: unknown[] = []) => db.em().execute<T[]>(q, params);
  const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

  /** A challenge report as the service stored it: the decision, and one history row per entity key it recorded. */
  async function report(n: number, challenged: string | null, outcome: string, entities: Record<string, string>, version = '1.0.0') {
    await sql(
      `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, document, evaluated_at, created_at)
       values (?, 'acme', 'giftcard-challenge', ?, 'default', '1.5.0', ?::jsonb, ?::jsonb, '{}'::json, ?, ?)`,
      [id(n), outcome, JSON.stringify({ 'giftcard-challenge': version }), challenged === null ? null : JSON.stringify({ challengedDecisionId: challenged, passed: true }), AT, AT],
    );
    for (const [entity, key] of Object.entries(entities)) {
      await sql(
        `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, attributes, keys, decision_id, created_at)
         values ('acme', ?, ?, 'decision', 'giftcard-challenge', ?, ?, '{}', '{"passed":true}', ?::jsonb, ?, ?)`,
        [entity, key, AT, outcome, JSON.stringify(entities), id(n), AT],
      );
    }
  }

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('challenged_decisions');
    db = await openDatabase(target.url, { migrate: false });
    await db.orm.migrator.up({ to: BEFORE });
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('adds the row from the case, with the report\'s time, outcome and keys, once', async () => {
    const red = '01900000-0000-7000-8000-0000000000aa';
    await report(1, red, 'PASSED', { device: 'pii_d1', customer: 'pii_c1', customerDevice: '["pii_c1","pii_d1"]' });
    await report(2, '01900000-0000-7000-8000-0000000000bb', 'FAILED', { device: 'pii_d2', customer: 'pii_c2' });
    // Recorded by 1.1.0 already, a purged case, and an id 1.1.0 could never be sent: left alone. An id in capitals or
    // padded is kept in the one spelling 1.1.0 takes.
    await report(3, '01900000-0000-7000-8000-0000000000cc', 'PASSED', { device: 'pii_d3', challenged: '01900000-0000-7000-8000-0000000000cc' }, '1.1.0');
    await report(4, null, 'PASSED', { device: 'pii_d4' });
    await report(5, 'ch-42', 'PASSED', { device: 'pii_d5' });
    await report(6, ' 01900000-0000-7000-8000-0000000000DD ', 'PASSED', { device: 'pii_d6' });
    await db.orm.migrator.up();

    const rows = await sql<{ key: string; outcome: string; decision_id: string; at: unknown; keys: unknown }>(
      `select key, outcome, decision_id::text as decision_id, at, keys from feature_events where entity = 'challenged' order by decision_id`,
    );
    expect(rows.map((r) => [r.decision_id, r.key, r.outcome])).toEqual([
      [id(1), red, 'PASSED'],
      [id(2), '01900000-0000-7000-8000-0000000000bb', 'FAILED'],
      [id(3), '01900000-0000-7000-8000-0000000000cc', 'PASSED'],
      [id(6), '01900000-0000-7000-8000-0000000000dd', 'PASSED'],
    ]);
    expect(new Date(rows[0]!.at as string).toISOString()).toBe(AT);
    const keys = typeof rows[0]!.keys === 'string' ? JSON.parse(rows[0]!.keys) : rows[0]!.keys;
    expect(keys).toEqual({ device: 'pii_d1', customer: 'pii_c1', customerDevice: '["pii_c1","pii_d1"]', challenged: red });

    // What 1.1.0's passesReported reads now sees the pass reported under 1.0.0.
    const seen = await new FeatureHistoryRepository().values(db.em(), 'acme', [
      { name: 'passesReported', entity: 'challenged', key: red, source: 'decision', kinds: ['giftcard-challenge'], outcomes: ['PASSED', 'PASSED_DEVICE'], from: new Date('2026-03-05T00:00:00Z'), to: new Date('9999-12-31T23:59:59.999Z'), aggregate: 'count' },
    ]);
    expect(seen).toEqual({ passesReported: 1 });

    // Down removes what it added, and only that; up again adds it once more.
    await db.orm.migrator.down({ to: BEFORE }); // it and the migrations after it
    const challengedRows = async () => Number((await sql<{ n: string | number }>(`select count(*) as n from feature_events where entity = 'challenged'`))[0]!.n);
    expect(await challengedRows()).toBe(1);
    await db.orm.migrator.up();
    expect(await challengedRows()).toBe(4);
  });
});
