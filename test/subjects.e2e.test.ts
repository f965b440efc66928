/**
 * Data subjects: GET /v1/decisions?customer=<raw id> finds a customer's decisions through the platform's history
 * (subject access), and POST /v1/subjects/erasure erases the customer's personal data (right to erasure): x-pii case
 * fields nulled, history deleted, refunds' customer id replaced, audited, replay 410 DECISION_ERASED; idempotent and
 * safe when sent many times at once.
 */
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;
let auditor: string;
let admin: string;
let globex: string;

beforeAll(async () => {
  svc = await TestService.start('subjects');
  service = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  admin = await svc.issueKey('acme', ['admin']);
  globex = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

async function decide(customerId: string, patch: Record<string, any> = {}, key = service): Promise<Record<string, any>> {
  const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey('subj'), body: { case: refundCase({ customerId, ...patch }) } });
  expect(r.status).toBe(201);
  return r.body;
}

const byCustomer = (customer: string, extra = '', key = auditor) => svc.request('GET', `/v1/decisions?customer=${encodeURIComponent(customer)}${extra}`, { key });
const erase = (customer: string, idempotencyKey = newKey('erase'), key = admin) => svc.request('POST', '/v1/subjects/erasure', { key, idempotencyKey, body: { customer } });
const caseOf = async (id: string) => (await svc.sql<{ case_data: any; erased_at: unknown }>('select case_data, erased_at from decisions where id = ?', [id]))[0]!;
const featurePlatform = (d: Record<string, any>, name: string) => (d.trace as { rule: string; platform?: unknown }[]).find((t) => t.rule === `feature.${name}`)?.platform;

describe("a subject's decisions", () => {
  const ALICE = 'cus-alice-Subject-1';
  const BOB = 'cus-bob-Subject-2';
  let alice: Record<string, any>[];
  let bob: Record<string, any>;
  let alicesTwin: Record<string, any>;

  beforeAll(async () => {
    alice = [await decide(ALICE), await decide(ALICE, { disputeOpen: true }), await decide(ALICE, { deviceId: 'dev-alice-1' })];
    bob = await decide(BOB, { deviceId: 'dev-alice-1' });
    // The same raw id at another tenant is another subject (another tenant key, another pseudonym).
    alicesTwin = await decide(ALICE, {}, globex);
  });

  it('stores the customer id only as the tenant pseudonym, and counts by it', async () => {
    const stored = await caseOf(alice[0]!.id);
    expect(stored.case_data.customerId).toMatch(/^pii_[A-Za-z0-9_-]{43}$/);
    expect((await caseOf(alicesTwin.id)).case_data.customerId).not.toBe(stored.case_data.customerId);
    expect(featurePlatform(alice[2]!, 'refundCount30d')).toBe(2);
  });

  it('lists them newest first by the raw id, paged like every list', async () => {
    const r = await byCustomer(ALICE);
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { id: string }) => i.id)).toEqual(alice.map((d) => d.id).reverse());
    expect(r.body.items[0]).toMatchObject({ outcome: alice[2]!.outcome, refundId: alice[2]!.refundId });
    expect(r.body.items[0].trace).toBeUndefined();
    expect(r.body.nextCursor).toBeNull();
    const first = await byCustomer(ALICE, '&limit=2');
    expect(first.body.items).toHaveLength(2);
    const second = await byCustomer(ALICE, `&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((i: { id: string }) => i.id)).toEqual([alice[0]!.id]);
    expect(second.body.nextCursor).toBeNull();
    // Filters combine with it.
    expect((await byCustomer(ALICE, '&outcome=REVIEW')).body.items.map((i: { id: string }) => i.id)).toEqual([alice[1]!.id]);
    expect((await byCustomer(BOB)).body.items.map((i: { id: string }) => i.id)).toEqual([bob.id]);
    expect((await byCustomer(ALICE, '', globex)).body.items.map((i: { id: string }) => i.id)).toEqual([alicesTwin.id]);
    expect((await byCustomer('cus-nobody')).body).toEqual({ items: [], nextCursor: null });
    expect((await byCustomer('x'.repeat(256))).status).toBe(400);
    // A NUL was never stored (PostgreSQL text holds none): 400 naming the parameter, not a driver error.
    const nul = await byCustomer('a\u0000b');
    expect([nul.status, nul.body.errors?.[0]?.path]).toEqual([400, 'query:customer']);
    // A blank id finds nobody's decisions: 400, not every decision of the tenant.
    const blank = await byCustomer('');
    expect([blank.status, blank.body.errors?.[0]?.path]).toEqual([400, 'query:customer']);
  });

  it("erases the subject: x-pii case fields null, history gone, refunds marked, audited, the rest kept", async () => {
    const k = newKey('erase');
    const r = await erase(ALICE, k);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subject: expect.stringMatching(/^pii_/), decisions: 3, refunds: 3, erasedAt: expect.any(String) });
    expect(r.body.historyEvents).toBeGreaterThanOrEqual(4); // three customer rows and alice's device row, at least
    expect(r.text).not.toContain(ALICE);
    for (const d of alice) {
      const stored = await caseOf(d.id);
      expect(stored.erased_at).not.toBeNull();
      expect(stored.case_data.customerId).toBeNull();
      // What is not personal stays (the refund id, the amounts).
      expect(stored.case_data.refundId).toBe(d.refundId);
      // The decision as answered stays readable; its replay is refused.
      const got = await svc.request('GET', `/v1/decisions/${d.id}`, { key: auditor });
      expect(got.status).toBe(200);
      expect(got.body.outcome).toBe(d.outcome);
      const replay = await svc.request('POST', `/v1/decisions/${d.id}/replay`, { key: auditor });
      expect(replay.status).toBe(410);
      expect(replay.body).toMatchObject({ code: 'DECISION_ERASED', erasedAt: r.body.erasedAt });
      const refund = await svc.request('GET', `/v1/refunds/${d.refundId}`, { key: auditor });
      expect(refund.body.customerId).toBe('erased');
    }
    expect((await caseOf(alice[2]!.id)).case_data.deviceId).toBeNull();
    expect(await svc.sql(`select 1 from feature_events where tenant = 'acme' and (key = ? or decision_id in (?, ?, ?))`, [r.body.subject, ...alice.map((d) => d.id)])).toEqual([]);
    expect((await byCustomer(ALICE)).body.items).toEqual([]);
    // Bob, and the twin at the other tenant, are untouched; bob's own device row is his.
    expect((await caseOf(bob.id)).erased_at).toBeNull();
    expect((await byCustomer(BOB)).body.items).toHaveLength(1);
    expect((await caseOf(alicesTwin.id)).erased_at).toBeNull();
    expect((await byCustomer(ALICE, '', globex)).body.items).toHaveLength(1);
    // Audited with the actor; the subject named by pseudonym only.
    const audit = await svc.request('GET', '/v1/audit?limit=50', { key: auditor });
    const row = audit.body.items.find((i: { action: string }) => i.action === 'subject.erased');
    expect(row).toMatchObject({ subjectType: 'customer', subjectId: r.body.subject, details: { decisions: 3, refunds: 3 } });
    expect(JSON.stringify(audit.body)).not.toContain(ALICE);
    // The same request again is the same answer; another request finds nothing left.
    const again = await erase(ALICE, k);
    expect(again.status).toBe(200);
    expect(again.text).toBe(r.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await erase(ALICE)).body).toMatchObject({ subject: r.body.subject, decisions: 0, historyEvents: 0, refunds: 0 });
    // A new decision about the subject starts from an empty history.
    expect(featurePlatform(await decide(ALICE), 'refundCount30d')).toBe(0);
  });

  it('is for admins only, and checks its body', async () => {
    expect((await erase(BOB, newKey(), auditor)).status).toBe(403);
    expect((await erase(BOB, newKey(), service)).status).toBe(403);
    expect((await svc.request('POST', '/v1/subjects/erasure', { key: admin, idempotencyKey: newKey(), body: { customer: '' } })).status).toBe(400);
    expect((await svc.request('POST', '/v1/subjects/erasure', { key: admin, idempotencyKey: newKey(), body: { who: BOB } })).status).toBe(400);
    expect((await caseOf(bob.id)).erased_at).toBeNull();
  });
});

describe('erasures at once', () => {
  it('erase each decision once when many requests for one subject race, with one key or many', async () => {
    const CAROL = 'cus-carol-Subject-3';
    const carol = [await decide(CAROL), await decide(CAROL), await decide(CAROL), await decide(CAROL)];
    const sameKey = newKey('erase-same');
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => erase(CAROL)),
      ...Array.from({ length: 3 }, () => erase(CAROL, sameKey)),
    ]);
    for (const a of answers) expect(a.status).toBe(200);
    // Every decision was counted by exactly one erasure; the answers to one key are one answer.
    const distinct = new Map(answers.map((a) => [a.text, a.body]));
    expect([...distinct.values()].reduce((n, b) => n + (b.decisions as number), 0)).toBe(carol.length);
    expect(new Set(answers.slice(5).map((a) => a.text)).size).toBe(1);
    for (const d of carol) expect((await caseOf(d.id)).case_data.customerId).toBeNull();
    const marked = await svc.sql<{ n: string }>(`select count(*) as n from refunds where tenant = 'acme' and customer_id = 'erased' and refund_id in (?, ?, ?, ?)`, carol.map((d) => d.refundId));
    expect(Number(marked[0]!.n)).toBe(carol.length);
  });
});
