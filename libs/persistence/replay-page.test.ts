/**
 * SimulationsRepository.replayPage reads a stored decision's answer (outcome, reasons, output fields, refundId) from
 * `answer` (the document without its trace) and, for rows written before that column, from the document: both give
 * the same row. On PGlite, and on PostgreSQL when TEST_DATABASE_URL is set.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { answerJson } from './decisions.repository.js';
import { openDatabase, type Database } from './database.js';
import { SimulationsRepository } from './simulations.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('replayPage (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new SimulationsRepository();

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('replay_page');
    db = await openDatabase(target.url);
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
    const answerOf = (r: (typeof rows)[number]) => ({ outcome: r.outcome, reasons: JSON.parse(r.reasonsJson!), outputs: r.outputJson.map((o) => (o === null ? null : JSON.parse(o))), refundId: r.refundId });
    expect(answerOf(rows[0]!)).toEqual({ outcome: 'DENY', reasons: [{ code: 'HIGH_RISK', message: 'risk ≥ 70' }], outputs: [72, 0, null], refundId: 'rf-1' });
    expect(answerOf(rows[1]!)).toEqual(answerOf(rows[0]!));
    expect(rows[2]!.outcome).toBe('REVIEW');
    expect(JSON.parse(answerJson(withAnswer))).toEqual(Object.fromEntries(Object.entries(withAnswer).filter(([k]) => k !== 'trace')));
  });
});
