/**
 * A replay read from the database: the stored decisions come back as the cases and answers that were stored, every one
 * once and in order across pages, and a replay on worker threads (handed the rows as read) answers what the same replay
 * answers in this thread. On PGlite, and on PostgreSQL when TEST_DATABASE_URL is set. Needs the build (the worker
 * runs dist/'s copy).
 */
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { refundCase } from '../../../test/support/refund-cases.js';
import { runSimulation, simulatedFrom, type SimulatedDecision, type SimulationItem } from '../../../libs/decisions/index.js';
import { answerJson, openDatabase, SimulationsRepository, uuidv7, type Database } from '../../../libs/persistence/index.js';
import { decisionDocument } from '../decisions/decisions.service.js';
import { REPLAY_PAGE_SIZE, replayItems, replayRows } from './replay-source.js';
import { replayWorkerFile, runReplayInWorkers } from './replay-workers.js';
import { compiler, files } from './replay.test-support.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];
/** More than a page, and not a whole number of worker batches (250): the last page and its last batch are short. */
const STORED = REPLAY_PAGE_SIZE + 767;
const start = Date.parse('2026-03-01T00:00:00Z');
const window = { from: new Date(start), to: new Date(start + 86_400_000) };

describe.each(kinds)('replay from stored decisions (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new SimulationsRepository();
  const stored: { id: string; input: Record<string, unknown>; baseline: SimulatedDecision }[] = [];

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('replay_source');
    db = await openDatabase(target.url);
    const release = await compiler.compile((await files.release('default', '1.0.0'))!);
    const type = release.refund();
    const rows: unknown[][] = [];
    for (let i = 0; i < STORED; i++) {
      const input = refundCase({ requestedAmount: 500 + ((i * 977) % 12_000), customer: { refundCount30d: i % 7, accountAgeDays: (i * 13) % 500 }, signals: { ipRisk: i % 11 === 0 ? 'high' : 'low' } });
      // Three decisions in each millisecond: the page's key must tell them apart by id.
      const at = new Date(start + Math.floor(i / 3));
      const id = uuidv7(at.getTime());
      const d = await type.decide(input);
      const doc = decisionDocument({ id, tenant: 'acme', createdAt: at.toISOString() }, type, input, d, release.ref);
      rows.push([id, d.outcome, JSON.stringify(release.ref.components), JSON.stringify(input), JSON.stringify(doc), answerJson(doc), at, at]);
      // The answer as the caller got it, through JSON: what the stored decision must read back as.
      stored.push({ id, input, baseline: JSON.parse(JSON.stringify(simulatedFrom({ outcome: d.outcome, reasons: d.reasons, ...d.output }, type.outputNames))) as SimulatedDecision });
    }
    for (let i = 0; i < rows.length; i += 500) {
      const part = rows.slice(i, i + 500);
      await db.em().execute(
        `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at)
         values ${part.map(() => `(?, 'acme', 'refund', ?, 'default', '1.0.0', ?::jsonb, ?::jsonb, ?::json, ?::json, ?, ?)`).join(', ')}`,
        part.flat(),
      );
    }
    stored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('reads every stored decision once, in order, as it was stored, up to the total asked for', async () => {
    const type = (await compiler.compile((await files.release('default', '1.0.0'))!)).refund();
    const items: SimulationItem[] = [];
    const pages: number[] = [];
    for await (const page of replayRows(db, repo, 'acme', type, window, STORED - 5)) pages.push(page.length);
    for await (const page of replayItems(db, repo, 'acme', type, window, STORED - 5)) items.push(...page);
    expect(pages).toEqual([REPLAY_PAGE_SIZE, 762]);
    expect(items.map((i) => i.caseRef)).toEqual(stored.slice(0, STORED - 5).map((s) => s.id));
    expect(items.map((i) => i.input)).toEqual(stored.slice(0, STORED - 5).map((s) => s.input));
    expect(items.map((i) => i.baseline)).toEqual(stored.slice(0, STORED - 5).map((s) => s.baseline));
    expect(items.map((i) => i.refundId)).toEqual(stored.slice(0, STORED - 5).map((s) => s.input.refundId));
    // The stored answers vary: a mapping that shifted or dropped a field could not match them all.
    expect(new Set(items.map((i) => JSON.stringify(i.baseline))).size).toBeGreaterThan(100);
  });

  it('answers on worker threads what it answers in this thread', async () => {
    const file = replayWorkerFile();
    expect(file).toBeDefined();
    const release = await compiler.compile({ name: 'lower-limit', version: '1.0.0', components: { 'refund-policy': '1.1.0-lower', 'refund-risk': '1.0.0' } });
    const candidate = release.refund();
    const here = await runSimulation(replayItems(db, repo, 'acme', candidate, window, STORED), { candidate, keep: (r) => r.changed, maxKept: 200 });
    const there = await runReplayInWorkers(
      { rows: replayRows(db, repo, 'acme', candidate, window, STORED), release: release.portable(), type: 'refund' },
      { file: file!, workers: 2, keep: 'changed', maxKept: 200 },
    );
    expect(here.tally.done).toBe(STORED);
    expect(here.tally.summary().changed).toBeGreaterThan(200);
    expect(there.tally.summary()).toEqual(here.tally.summary());
    expect(there.results).toEqual(here.results);
    expect([there.truncated, there.aborted]).toEqual([true, false]);
  });
});
