/**
 * Retention: past a tenant's retention the purge removes a decision's case and trace and keeps its outcome, reasons,
 * release and outputs; a purged decision cannot be replayed (410 DECISION_PURGED), a simulation's replay skips it, and
 * the purge is idempotent and safe with two instances running it at once. The purge runs here at a "now" the test
 * picks (RetentionSweeper.sweep(now)); the service's own loop, hourly, never reaches these decisions.
 */
import { RetentionSweeper } from '../apps/decision-api/retention/retention-sweeper.js';
import { newKey, TestService } from './support/harness.js';
import { DAY_MS, refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;
let auditor: string;
let author: string;
let globex: string;

const RETENTION = { acme: 30 };

beforeAll(async () => {
  svc = await TestService.start('retention', { retentionDaysTenants: RETENTION });
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  author = await svc.issueKey('acme', ['author']);
  globex = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

interface Made {
  id: string;
  createdAt: string;
  text: string;
  body: Record<string, any>;
  idempotencyKey: string;
  request: unknown;
}

async function decide(patch: Record<string, any> = {}, key = service): Promise<Made> {
  const idempotencyKey = newKey('ret');
  const request = { case: refundCase(patch) };
  const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey, body: request });
  expect(r.status).toBe(201);
  // Each decision of its own millisecond, so a cutoff can fall between two of them.
  await new Promise((res) => setTimeout(res, 3));
  return { id: r.body.id, createdAt: r.body.createdAt, text: r.text, body: r.body, idempotencyKey, request };
}

const get = (id: string, key = auditor) => svc.request('GET', `/v1/decisions/${id}`, { key });
const replay = (id: string, key = auditor) => svc.request('POST', `/v1/decisions/${id}/replay`, { key });
const row = async (id: string) =>
  (await svc.sql<{ case_data: unknown; purged_at: unknown; document: string }>('select case_data, purged_at, document::text as document from decisions where id = ?', [id]))[0]!;
/** The document a purge leaves: the first answer without its trace, `purgedAt` appended, other fields in their order. */
const purgedText = (m: Made, at: Date) => {
  const { trace: _trace, ...kept } = JSON.parse(m.text) as Record<string, unknown>;
  return JSON.stringify({ ...kept, purgedAt: at.toISOString() });
};

describe('the retention purge', () => {
  let old: Made[];
  let recent: Made[];
  let otherTenant: Made;
  let now: Date;

  beforeAll(async () => {
    old = [await decide({ disputeOpen: true }), await decide(), await decide({ returnStatus: 'REJECTED' })];
    otherTenant = await decide({}, globex);
    recent = [await decide(), await decide({ disputeOpen: true })];
    // acme keeps 30 days: at "now" the first three are past it by a few ms at most, the last two are not.
    const cutoff = Date.parse(recent[0]!.createdAt);
    for (const m of [...old, otherTenant]) expect(Date.parse(m.createdAt)).toBeLessThan(cutoff);
    now = new Date(cutoff + 30 * DAY_MS);
    expect(await svc.provider(RetentionSweeper).sweep(now)).toBe(old.length);
  });

  it('keeps outcome, reasons, release and the copied case fields, without the trace, and says when it purged', async () => {
    for (const m of old) {
      const got = await get(m.id);
      expect(got.status).toBe(200);
      expect(got.body.trace).toBeUndefined();
      expect(got.body).toMatchObject({
        id: m.id,
        outcome: m.body.outcome,
        reasons: m.body.reasons,
        release: m.body.release,
        refundId: m.body.refundId,
        createdAt: m.createdAt,
        purgedAt: now.toISOString(),
      });
      // Byte for byte: nothing but the trace left, nothing but purgedAt added, the rest in its first order.
      expect(got.text).toBe(purgedText(m, now));
      const stored = await row(m.id);
      expect(stored.case_data).toBeNull();
      expect(new Date(stored.purged_at as string).toISOString()).toBe(now.toISOString());
    }
    // The history they recorded (feature events) is gone with them; newer decisions' and the other tenant's stay.
    const events = async (ids: string[]) =>
      (await svc.sql<{ decision_id: string }>(`select distinct decision_id from feature_events where decision_id in (${ids.map(() => '?').join(', ')})`, ids)).map((r) => r.decision_id).sort();
    expect(await events(old.map((m) => m.id))).toEqual([]);
    expect(await events([...recent, otherTenant].map((m) => m.id))).toEqual([...recent, otherTenant].map((m) => m.id).sort());
    // The list shows them as before (it never showed the trace).
    const list = await svc.request('GET', '/v1/decisions?limit=500', { key: auditor });
    const listed = new Map(list.body.items.map((i: { id: string }) => [i.id, i]));
    expect(listed.get(old[0]!.id)).toMatchObject({ outcome: old[0]!.body.outcome, purgedAt: now.toISOString() });
  });

  it('answers the replay of a purged decision 410 DECISION_PURGED', async () => {
    const r = await replay(old[0]!.id);
    expect(r.status).toBe(410);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 410, title: 'Gone', code: 'DECISION_PURGED', purgedAt: now.toISOString() });
  });

  it('leaves decisions within retention, and other tenants with a longer one, as they were', async () => {
    for (const m of recent) {
      expect((await get(m.id)).text).toBe(m.text);
      expect((await row(m.id)).purged_at).toBeNull();
      const r = await replay(m.id);
      expect(r.status).toBe(200);
      expect(r.body.identical).toBe(true);
    }
    expect((await get(otherTenant.id, globex)).text).toBe(otherTenant.text);
    expect((await row(otherTenant.id)).case_data).not.toBeNull();
  });

  it('is idempotent: a second purge changes nothing it purged', async () => {
    expect(await svc.provider(RetentionSweeper).sweep(now)).toBe(0);
    expect(await svc.provider(RetentionSweeper).sweep(now)).toBe(0);
    for (const m of old) expect((await get(m.id)).text).toBe(purgedText(m, now));
  });

  it('answers the Idempotency-Key of a purged decision with the purged document, not a failure', async () => {
    const m = old[1]!;
    const again = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: m.idempotencyKey, body: m.request });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(purgedText(m, now));
  });

  it('is the only change the database lets a decision take', async () => {
    const purged = old[0]!.id;
    const kept = recent[0]!.id;
    await expect(svc.sql(`update decisions set outcome = 'APPROVE' where id = ?`, [purged])).rejects.toThrow(/decisions is append-only: UPDATE refused/);
    await expect(svc.sql(`update decisions set purged_at = now() where id = ?`, [purged])).rejects.toThrow(/append-only/);
    // A "purge" that changes anything but the trace, or keeps the case, is refused too.
    await expect(
      svc.sql(`update decisions set case_data = null, purged_at = now(), document = (document::jsonb - 'trace' || '{"purgedAt":"x","outcome":"DENY"}')::json where id = ?`, [kept]),
    ).rejects.toThrow(/append-only/);
    await expect(svc.sql(`update decisions set purged_at = now(), document = (document::jsonb - 'trace' || '{"purgedAt":"x"}')::json where id = ?`, [kept])).rejects.toThrow(
      /append-only/,
    );
    await expect(svc.sql(`delete from decisions where id = ?`, [purged])).rejects.toThrow(/DELETE refused/);
    // An "erasure" may only set parts of the case to null: replacing the case, or inventing one for a purged row, is refused.
    await expect(svc.sql(`update decisions set case_data = '{"customerId":"someone-else"}', erased_at = now() where id = ?`, [kept])).rejects.toThrow(/append-only/);
    await expect(svc.sql(`update decisions set case_data = case_data || '{"refundId":"other"}', erased_at = now() where id = ?`, [kept])).rejects.toThrow(/append-only/);
    await expect(svc.sql(`update decisions set case_data = '{"customerId":null}', erased_at = now() where id = ?`, [purged])).rejects.toThrow(/append-only/);
    expect((await get(kept)).text).toBe(recent[0]!.text);
  });

  it("skips purged decisions in a simulation's replay and says how many it skipped", async () => {
    const window = { from: old[0]!.createdAt, to: new Date(Date.parse(recent[1]!.createdAt) + 1).toISOString() };
    const r = await svc.request('POST', '/v1/simulations', { key: author, idempotencyKey: newKey('sim'), body: { domain: 'refund', release: recent[0]!.body.release, replay: window } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'completed', baseline: { kind: 'stored-decisions', purgedSkipped: old.length }, summary: { total: recent.length } });
    expect(r.body.results.map((x: { caseRef: string }) => x.caseRef)).toEqual(recent.map((m) => m.id));
  });
});

describe('two purges at once', () => {
  it('purge each decision once, whether two sweeps of one instance or two instances (PostgreSQL) race', async () => {
    const made: Made[] = [];
    for (let i = 0; i < 24; i++) made.push(await decide());
    const now = new Date(Date.parse(made[made.length - 1]!.createdAt) + 1 + 30 * DAY_MS);
    const second = svc.db.kind === 'postgresql' ? await TestService.join(svc, { retentionDaysTenants: RETENTION }) : undefined;
    try {
      const sweepers = [svc.provider(RetentionSweeper), svc.provider(RetentionSweeper), ...(second ? [second.provider(RetentionSweeper), second.provider(RetentionSweeper)] : [])];
      const due = Number((await svc.sql<{ n: string }>(`select count(*) as n from decisions where tenant = 'acme' and purged_at is null and created_at < ?`, [new Date(now.getTime() - 30 * DAY_MS).toISOString()]))[0]!.n);
      expect(due).toBeGreaterThanOrEqual(made.length);
      let purged = 0;
      for (let round = 0; round < 3; round++) purged += (await Promise.all(sweepers.map((s) => s.sweep(now)))).reduce((a, b) => a + b, 0);
      // Every due decision was counted by exactly one sweep, and each is purged exactly as one purge leaves it.
      expect(purged).toBe(due);
      for (const m of made) expect((await get(m.id)).text).toBe(purgedText(m, now));
    } finally {
      await second?.stop();
    }
  });
});
