/**
 * Reward Integrity across accounts (seed paper 002, section 4): an account whose verdict turns false writes ONE
 * `ledger.integrity_violated` outbox event with the ledger write that turned it, and `GET /v1/ledger/accounts?integrity=violated`
 * lists such accounts with the transactions their violations name, so double-dippers are found without polling accounts.
 */
import { newKey, TestService } from './support/harness.js';
import { parsePrometheusText } from './support/prometheus-text.js';

let svc: TestService;
let key: string;
let auditor: string;
let other: string;
let seq = 0;

beforeAll(async () => {
  svc = await TestService.start('ledger_integrity');
  key = await svc.issueKey('acme', ['service']);
  auditor = await svc.issueKey('acme', ['auditor']);
  other = await svc.issueKey('globex', ['service', 'auditor']);
});
afterAll(() => svc?.stop());

const uid = (p: string) => `${p}-${++seq}-${Date.now().toString(36)}`;
const post = (path: string, body: unknown, k = key) => svc.request('POST', path, { key: k, idempotencyKey: newKey(), body });

class Account {
  constructor(
    readonly program: string,
    readonly id = uid(`acct-${program}`),
    readonly k = key,
  ) {}
  async open() {
    const r = await svc.request('PUT', `/v1/ledger/accounts/${this.id}`, { key: this.k, body: { program: this.program, currency: 'EUR', cycleAnchorDay: 1 } });
    expect(r.status).toBe(201);
  }
  async buy(amount: number, category: string, at: string) {
    const transactionId = uid('tx');
    expect((await post(`/v1/ledger/accounts/${this.id}/transactions`, { transactionId, amount, category, occurredAt: at }, this.k)).status).toBe(201);
    expect((await post(`/v1/ledger/transactions/${transactionId}/settle`, { settledAt: at }, this.k)).status).toBe(200);
    return transactionId;
  }
  async refund(tx: string, amount: number, at: string) {
    const r = await post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: uid('rf'), amount, at }, this.k);
    expect(r.status).toBe(201);
  }
  async redeem(amount: number, at: string) {
    expect((await post(`/v1/ledger/accounts/${this.id}/redemptions`, { redemptionId: uid('rd'), amount, at }, this.k)).status).toBe(201);
  }
  async close(periodEnd: string) {
    expect((await post(`/v1/ledger/accounts/${this.id}/statements`, { periodEnd }, this.k)).status).toBe(201);
  }
  async verdict(): Promise<boolean> {
    const r = await svc.request('GET', `/v1/ledger/accounts/${this.id}`, { key: auditor });
    return r.body.integrity.rewardIntegrity;
  }
  async events() {
    return svc.sql<{ data: any; occurred_at: Date | string }>(
      `select data, occurred_at from outbox_events where type = 'ledger.integrity_violated' and data->>'accountId' = ? order by position`,
      [this.id],
    );
  }
}

/** Every violated account of the tenant, page by page. */
async function listViolated(k = auditor, limit = 500) {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const r: any = await svc.request('GET', `/v1/ledger/accounts?integrity=violated&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { key: k });
    expect(r.status).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor);
  return items;
}

/** Case I of the paper: buy, get the reward, redeem it, return the goods. */
async function doubleDip(program: string) {
  const a = new Account(program);
  await a.open();
  const tx = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
  await a.redeem(3000, '2026-03-03T00:00:00Z');
  await a.refund(tx, 100000, '2026-04-02T10:00:00Z');
  return { a, tx };
}

describe('ledger.integrity_violated and the violated-accounts listing', () => {
  it('issuer-a: the double dip turns the account violated; one event, written with the refund; listed with its transaction', async () => {
    const a = new Account('issuer-a');
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
    await a.redeem(3000, '2026-03-03T00:00:00Z');
    expect(await a.events()).toHaveLength(0);
    expect(await a.verdict()).toBe(true);
    await a.refund(tx, 100000, '2026-04-02T10:00:00Z');
    expect(await a.verdict()).toBe(false);

    const events = await a.events();
    expect(events).toHaveLength(1);
    expect(new Date(events[0]!.occurred_at).toISOString()).toBe('2026-04-02T10:00:00.000Z');
    expect(events[0]!.data).toMatchObject({
      accountId: a.id,
      program: 'issuer-a@1.0.0',
      transactions: [{ transactionId: tx, status: 'REFUNDED', refunded: 100000, reward: 5000 }],
      verdict: { rewardIntegrity: false, netSpend: 0, netReward: 5000, rewardBound: 0, violations: expect.arrayContaining([expect.objectContaining({ code: 'REWARD_EXCEEDS_SHARE', transactionId: tx })]) },
    });

    // Further writes while it stays violated: no new event, the listing follows the latest write.
    const tx2 = await a.buy(20000, 'GROCERY', '2026-04-03T10:00:00Z');
    await a.refund(tx2, 20000, '2026-04-04T10:00:00Z');
    expect(await a.verdict()).toBe(false);
    expect(await a.events()).toHaveLength(1);

    const listed = (await listViolated()).find((x) => x.accountId === a.id);
    expect(listed).toMatchObject({
      accountId: a.id,
      program: 'issuer-a@1.0.0',
      violatedAt: '2026-04-02T10:00:00.000Z',
      lastWriteAt: '2026-04-04T10:00:00.000Z',
      netSpend: 0,
      integrity: { rewardIntegrity: false },
    });
    expect(listed.transactions.map((t: { transactionId: string }) => t.transactionId).sort()).toEqual([tx, tx2].sort());
    // The listing agrees with the account's own verdict.
    const view = await svc.request('GET', `/v1/ledger/accounts/${a.id}`, { key: auditor });
    expect(listed.integrity.violations).toEqual(view.body.integrity.violations);
  });

  it('the same sequence on a program with clawback keeps integrity: no event, not listed', async () => {
    const { a } = await doubleDip('cashback-default');
    expect(await a.verdict()).toBe(true);
    expect(await a.events()).toHaveLength(0);
    expect((await listViolated()).map((x) => x.accountId)).not.toContain(a.id);
  });

  it('issuer-b (statement cycle, auto-redeem): the cross-cycle return turns it violated once', async () => {
    const a = new Account('issuer-b');
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-10T10:00:00Z');
    await a.close('2026-04-01T00:00:00Z');
    await a.refund(tx, 100000, '2026-04-05T10:00:00Z');
    await a.close('2026-05-01T00:00:00Z');
    expect(await a.verdict()).toBe(false);
    expect(await a.events()).toHaveLength(1);
    expect((await listViolated()).find((x) => x.accountId === a.id)?.transactions.map((t: { transactionId: string }) => t.transactionId)).toEqual([tx]);
  });

  it('issuer-f: violated in the window before the close, cleared by the close, and a new turn to false is a new event', async () => {
    const a = new Account('issuer-f');
    await a.open();
    const tx = await a.buy(100000, 'GROCERY', '2026-03-02T10:00:00Z');
    await a.redeem(3000, '2026-03-03T00:00:00Z');
    await a.refund(tx, 100000, '2026-03-05T10:00:00Z');
    expect(await a.events()).toHaveLength(1);
    expect((await listViolated()).map((x) => x.accountId)).toContain(a.id);

    await a.close('2026-04-01T00:00:00Z'); // the clawback lands: integrity holds again
    expect(await a.verdict()).toBe(true);
    expect((await listViolated()).map((x) => x.accountId)).not.toContain(a.id);
    expect(await a.events()).toHaveLength(1);

    const again = await a.buy(50000, 'GROCERY', '2026-04-02T10:00:00Z');
    await a.refund(again, 50000, '2026-04-03T10:00:00Z');
    const events = await a.events();
    expect(events).toHaveLength(2);
    expect(events[1]!.data.transactions.map((t: { transactionId: string }) => t.transactionId)).toEqual([again]);
    expect((await listViolated()).find((x) => x.accountId === a.id)?.violatedAt).toBe('2026-04-03T10:00:00.000Z');
  });

  it('parallel refunds that each keep a reward: one event for the account', async () => {
    const a = new Account('issuer-a');
    await a.open();
    const txs: string[] = [];
    for (let i = 0; i < 6; i++) txs.push(await a.buy(10000, 'GROCERY', `2026-03-0${i + 2}T10:00:00Z`));
    const answers = await Promise.all(txs.map((tx) => post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: uid('rf'), amount: 10000, at: '2026-03-20T10:00:00Z' })));
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(await a.events()).toHaveLength(1);
    expect((await listViolated()).find((x) => x.accountId === a.id)?.transactions).toHaveLength(6);
  });

  it('pages by account id; other tenants see only their own; roles and bad queries', async () => {
    await doubleDip('issuer-a');
    await doubleDip('issuer-a');
    const all = await listViolated();
    const paged = await listViolated(auditor, 1);
    expect(paged.map((x) => x.accountId)).toEqual(all.map((x) => x.accountId));
    expect(all.map((x) => x.accountId)).toEqual([...all.map((x) => x.accountId)].sort());
    expect(all.length).toBeGreaterThanOrEqual(4);

    const theirs = new Account('issuer-a', uid('acct-globex'), other);
    await theirs.open();
    const tx = await theirs.buy(10000, 'GROCERY', '2026-03-02T10:00:00Z');
    await theirs.refund(tx, 10000, '2026-03-05T10:00:00Z');
    expect((await listViolated()).map((x) => x.accountId)).not.toContain(theirs.id);
    expect((await listViolated(other)).map((x) => x.accountId)).toEqual([theirs.id]);

    expect((await svc.request('GET', '/v1/ledger/accounts?integrity=violated', { key })).status).toBe(403);
    expect((await svc.request('GET', '/v1/ledger/accounts?integrity=violated')).status).toBe(401);
    for (const q of ['', '?integrity=ok', '?integrity=violated&limit=0', '?integrity=violated&cursor=zzz']) {
      const r = await svc.request('GET', `/v1/ledger/accounts${q}`, { key: auditor });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].path).toMatch(/^query:/);
    }
  });

  it('review: a cursor naming an account id PostgreSQL cannot hold (a NUL) is 400 CURSOR_INVALID, not a 500', async () => {
    const cursor = Buffer.from(JSON.stringify({ afterAccount: 'acct\u0000' })).toString('base64url');
    const r = await svc.request('GET', `/v1/ledger/accounts?integrity=violated&cursor=${cursor}`, { key: auditor });
    expect([r.status, r.body.code]).toEqual([400, 'CURSOR_INVALID']);
  });

  it('/metrics counts the violated accounts per tenant, as the listing does (the Prometheus alert reads it)', async () => {
    const mine = (await listViolated()).length;
    const theirs = (await listViolated(other)).length;
    expect(mine).toBeGreaterThan(0);
    expect(theirs).toBe(1);
    // A scrape reuses what it read from the database for 2 s (metrics-scrape.ts): the last write is older than that, or
    // the next scrape reads it.
    let m = parsePrometheusText((await svc.request('GET', '/metrics')).text);
    for (let i = 0; i < 30 && m.value('decision_platform_ledger_integrity_violated_accounts', { tenant: 'acme' }) !== mine; i++) {
      await new Promise((r) => setTimeout(r, 200));
      m = parsePrometheusText((await svc.request('GET', '/metrics')).text);
    }
    expect(m.value('decision_platform_ledger_integrity_violated_accounts', { tenant: 'acme' })).toBe(mine);
    expect(m.value('decision_platform_ledger_integrity_violated_accounts', { tenant: 'globex' })).toBe(theirs);
  });
});
