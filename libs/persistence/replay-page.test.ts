/**
 * SimulationsRepository.replayPage reads a stored decision's answer (outcome, reasons, output fields, refundId) from
 * `answer` (the document without its trace) and, for rows written before that column, from the document: both give
 * the same row. Its pages walk the window once each, in order, whatever the timestamps' microseconds and the session's
 * time zone. On PGlite, and on PostgreSQL when TEST_DATABASE_URL is set.
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { answerJson } from './decisions.repository.js';
import { openDatabase, type Database } from './database.js';
import { SimulationsRepository, type ReplayRow } from './simulations.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('replayPage (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new SimulationsRepository();

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('replay_page');
    // Sessions in a zone half an hour off UTC: a page's key must not depend on the session's zone.
    const zone = 'America/St_Johns';
    if (kind === 'postgresql') {
      const c = new pg.Client({ connectionString: target.url });
      await c.connect();
      try {
        await c.query(`do $$ begin execute format('alter database %I set timezone to %L', current_database(), '${zone}'); end $$`);
      } finally {
        await c.end();
      }
    }
    db = await openDatabase(target.url);
    if (kind === 'pglite') await db.em().execute(`set timezone to '${zone}'`);
    expect((await db.em().execute<{ tz: string }[]>('select current_setting(\'TimeZone\') as tz'))[0]!.tz).toBe(zone);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  const document = (id: string, outcome: string) => ({
    id, tenant: 'acme', type: 'refund', domain: 'refund', createdAt: '2026-03-01T00:00:00.000Z', refundId: `rf-${id.slice(-1)}`,
    outcome, reasons: [{ code: 'HIGH_RISK', message: 'risk ≥ 70' }], riskScore: 72, approvedAmount: 0, tender: null,
    trace: [{ source: 'refund-risk@1.0.0', rule: 'score', fired: true }], release: { name: 'default', version: '1.0.0' },
  });

  async function store(id: string, at: string, doc: Record<string, unknown>, answer: string | null): Promise<void> {
    await db.em().execute(
      `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at)
       values (?, 'acme', 'refund', ?, 'default', '1.0.0', '{}', '{"refundId":"x"}', ?::json, ?::json, ?, ?)`,
      [id, doc.outcome, JSON.stringify(doc), answer, at, at],
    );
  }

  it('answers the same row from the answer column as from the whole document, and prefers the column', async () => {
    const ids = ['00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000003'];
    const withAnswer = document(ids[0]!, 'DENY');
    const withoutAnswer = { ...document(ids[1]!, 'DENY'), refundId: 'rf-1' };
    await store(ids[0]!, '2026-03-01T00:00:01Z', withAnswer, answerJson(withAnswer));
    await store(ids[1]!, '2026-03-01T00:00:02Z', withoutAnswer, null);
    // A column that disagrees with its document is read, not the document: proves which one a page reads.
    await store(ids[2]!, '2026-03-01T00:00:03Z', document(ids[2]!, 'DENY'), answerJson(document(ids[2]!, 'REVIEW')));
    const rows = await repo.replayPage(db.em(), 'acme', 'refund', ['riskScore', 'approvedAmount', 'tender'], { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-02T00:00:00Z') }, 10);
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.map((r) => r.createdAt)).toEqual(['2026-03-01T00:00:01.000000Z', '2026-03-01T00:00:02.000000Z', '2026-03-01T00:00:03.000000Z']);
    expect(JSON.parse(rows[0]!.caseJson)).toEqual({ refundId: 'x' });
    expect(rows[0]!.featuresJson).toBeNull();
    const answerOf = (r: ReplayRow) => ({ outcome: r.outcome, reasons: JSON.parse(r.reasonsJson!) as unknown, outputs: r.outputJson.map((o) => (o === null ? null : (JSON.parse(o) as unknown))), refundId: r.refundId });
    expect(answerOf(rows[0]!)).toEqual({ outcome: 'DENY', reasons: [{ code: 'HIGH_RISK', message: 'risk ≥ 70' }], outputs: [72, 0, null], refundId: 'rf-1' });
    expect(answerOf(rows[1]!)).toEqual(answerOf(rows[0]!));
    expect(rows[2]!.outcome).toBe('REVIEW');
    expect(JSON.parse(answerJson(withAnswer))).toEqual(Object.fromEntries(Object.entries(withAnswer).filter(([k]) => k !== 'trace')));
  });

  it("gives the platform's refunded-total entry when the rules saw more than the case sent: from the answer, or from the document of a row without one", async () => {
    const platform = { source: 'platform@refunds', rule: 'order.refundedAmount', fired: true, callerRefundedAmount: 0, platformRefundedAmount: 8000, used: 8000 };
    const unfired = { ...platform, fired: false, platformRefundedAmount: 0, used: 0 };
    const ids = ['00000000-0000-7000-8000-000000000011', '00000000-0000-7000-8000-000000000012', '00000000-0000-7000-8000-000000000013', '00000000-0000-7000-8000-000000000014'];
    const withFirst = (id: string, entry: Record<string, unknown>) => ({ ...document(id, 'DENY'), trace: [entry, ...document(id, 'DENY').trace] });
    const kept = withFirst(ids[0]!, platform);
    expect(JSON.parse(answerJson(kept)).trace).toEqual([platform]); // the engine's entries are left out
    await store(ids[0]!, '2026-03-05T00:00:01Z', kept, answerJson(kept));
    const notFired = withFirst(ids[1]!, unfired);
    expect(JSON.parse(answerJson(notFired))).not.toHaveProperty('trace'); // the case is what the rules saw
    await store(ids[1]!, '2026-03-05T00:00:02Z', notFired, answerJson(notFired));
    await store(ids[2]!, '2026-03-05T00:00:03Z', withFirst(ids[2]!, platform), null);
    await store(ids[3]!, '2026-03-05T00:00:04Z', document(ids[3]!, 'DENY'), null); // an engine's entry first: not sent
    const window = { from: new Date('2026-03-05T00:00:00Z'), to: new Date('2026-03-06T00:00:00Z') };
    const rows = await repo.replayPage(db.em(), 'acme', 'refund', ['riskScore'], window, 10);
    expect(rows.map((r) => (r.firstTraceJson === null ? null : JSON.parse(r.firstTraceJson)))).toEqual([platform, null, platform, null]);
  });

  it('walks the window once, in order, across timestamps a millisecond cannot tell apart', async () => {
    // 23 decisions in one millisecond, microseconds apart (a Date would round every one of them to the same key), with
    // ids out of time order, and stored cases with features: pages of 10 take every row once.
    const base = Date.parse('2026-04-01T00:00:00Z');
    const stored: string[] = [];
    for (let i = 0; i < 23; i++) {
      const id = `00000000-0000-7000-8000-0000000001${String(99 - i).padStart(2, '0')}`;
      const at = `2026-04-01T00:00:00.000${String(i * 37).padStart(3, '0')}Z`;
      await db.em().execute(
        `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, features, document, answer, evaluated_at, created_at)
         values (?, 'acme', 'refund', 'APPROVE', 'default', '1.0.0', '{}', ?::jsonb, ?::jsonb, '{}', ?::json, ?, ?::timestamptz)`,
        [id, JSON.stringify({ n: i, big: 2 ** 53 + 2, text: 'é "q" \\ \n' }), i % 2 ? JSON.stringify({ values: { refundCount30d: i } }) : null, JSON.stringify({ outcome: 'APPROVE', reasons: [], riskScore: i }), new Date(base), at],
      );
      stored.push(id);
    }
    const window = { from: new Date(base), to: new Date(base + 1) };
    const seen: ReplayRow[] = [];
    const sizes: number[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await repo.replayPage(db.em(), 'acme', 'refund', ['riskScore'], window, 10, after);
      if (page.length === 0) break;
      sizes.push(page.length);
      seen.push(...page);
      after = page[page.length - 1]!;
    }
    expect(sizes).toEqual([10, 10, 3]);
    expect(seen.map((r) => r.id)).toEqual(stored);
    expect(seen.map((r) => r.createdAt)).toEqual(stored.map((_, i) => `2026-04-01T00:00:00.000${String(i * 37).padStart(3, '0')}Z`));
    expect(seen.map((r) => r.outputJson)).toEqual(stored.map((_, i) => [String(i)]));
    expect(JSON.parse(seen[5]!.caseJson)).toEqual({ n: 5, big: 2 ** 53 + 2, text: 'é "q" \\ \n' });
    expect(seen.map((r) => (r.featuresJson === null ? null : JSON.parse(r.featuresJson)))).toEqual(stored.map((_, i) => (i % 2 ? { values: { refundCount30d: i } } : null)));
  });
});
