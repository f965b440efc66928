/**
 * Migration20261218000000_answer_platform_entry, on PGlite and on PostgreSQL: answers stored before they kept the
 * platform's refunded-total entry get it from their own document when it fired, and only then; the documents, purged
 * rows and the append-only trigger stay as they were.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { RetentionRepository } from './retention.repository.js';
import { SimulationsRepository } from './simulations.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];
const BEFORE = 'Migration20261217000000_ledger_references_at_commit';

const fired = { source: 'platform@refunds', rule: 'order.refundedAmount', fired: true, callerRefundedAmount: 0, platformRefundedAmount: 8000, used: 8000 };
const unfired = { ...fired, fired: false, platformRefundedAmount: 0, used: 0 };
const engine = { source: 'refund-risk@1.0.0', rule: 'score', fired: true };

describe.each(kinds)('answers get the platform entry they lacked (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const sql = <T = Record<string, unknown>>(q: string, params: unknown[] = []) => db.em().execute<T[]>(q, params);
  const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

  /** A row as the service stored it before: the answer is the document without its trace. */
  async function stored(n: number, trace: unknown[], o: { answer?: boolean; tenant?: string } = {}) {
    const tenant = o.tenant ?? 'acme';
    const document = { id: id(n), tenant, type: 'refund', domain: 'refund', createdAt: '2026-03-05T00:00:00.000Z', refundId: `rf-${n}`, outcome: 'DENY', reasons: [], riskScore: 1, trace, release: { name: 'default', version: '1.0.0' } };
    const { trace: _t, ...answer } = document;
    await sql(
      `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at)
       values (?, ?, 'refund', 'DENY', 'default', '1.0.0', '{}', '{"refundId":"x"}', ?::json, ?::json, ?, ?)`,
      [id(n), tenant, JSON.stringify(document), o.answer === false ? null : JSON.stringify(answer), new Date(Date.UTC(2026, 2, 5, 0, 0, n)), new Date(Date.UTC(2026, 2, 5, 0, 0, n))],
    );
    return JSON.stringify(document);
  }

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('answer_platform_entry');
    db = await openDatabase(target.url, { migrate: false });
    await db.orm.migrator.up({ to: BEFORE });
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('fills the fired entry in from the document, leaves the rest, and keeps the trigger on', async () => {
    const documents = [await stored(1, [fired, engine]), await stored(2, [unfired, engine]), await stored(3, [engine]), await stored(4, [fired, engine], { answer: false })];
    await stored(5, [fired, engine], { tenant: 'purged' });
    expect(await db.em().transactional((em) => new RetentionRepository().purgeDecisions(em, 'purged', new Date('2026-04-01T00:00:00Z'), new Date(), 10))).toBe(1);
    await db.orm.migrator.up();

    const rows = await sql<{ id: string; answer: string | null; document: string }>('select id, answer::text as answer, document::text as document from decisions order by id');
    const answers = rows.map((r) => (r.answer === null ? null : (JSON.parse(r.answer) as Record<string, unknown>)));
    expect(answers[0]!.trace).toEqual([fired]);
    expect(answers[0]).toMatchObject({ outcome: 'DENY', refundId: 'rf-1', riskScore: 1 });
    expect(answers[1]).not.toHaveProperty('trace');
    expect(answers[2]).not.toHaveProperty('trace');
    expect(answers[3]).toBeNull();
    expect(answers[4]).not.toHaveProperty('trace'); // purged: left alone
    expect(rows.slice(0, 4).map((r) => r.document)).toEqual(documents); // byte for byte
    // The replay page now finds it without the document.
    const page = await new SimulationsRepository().replayPage(db.em(), 'acme', 'refund', ['riskScore'], { from: new Date('2026-03-05T00:00:00Z'), to: new Date('2026-03-06T00:00:00Z') }, 10);
    expect(page.map((r) => (r.firstTraceJson === null ? null : JSON.parse(r.firstTraceJson)))).toEqual([fired, null, null, fired]);
    // The trigger allows that change alone: not another answer, not the entry where none fired, not twice.
    await expect(sql(`update decisions set answer = '{}'::json where id = ?`, [id(2)])).rejects.toThrow(/append-only/);
    await expect(sql(`update decisions set answer = (answer::jsonb || jsonb_build_object('trace', jsonb_build_array((document -> 'trace' -> 0)::jsonb)))::json where id = ?`, [id(2)])).rejects.toThrow(/append-only/);
    await expect(sql(`update decisions set answer = (answer::jsonb || '{"trace":[{"source":"platform@refunds","fired":true}]}'::jsonb)::json where id = ?`, [id(3)])).rejects.toThrow(/append-only/);
    await expect(sql(`update decisions set answer = (answer::jsonb - 'trace')::json where id = ?`, [id(1)])).rejects.toThrow(/append-only/);
    await expect(sql(`update decisions set outcome = 'APPROVE' where id = ?`, [id(1)])).rejects.toThrow(/append-only/);
  });
});
