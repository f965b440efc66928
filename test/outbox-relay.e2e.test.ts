/**
 * The relay on two instances of one deployment (PostgreSQL): events committed by many writers are numbered once each,
 * per tenant from 1 without gaps, and a webhook endpoint served by both instances
 * receives each event once, in order. Events are arranged with SQL: this is about the relay, not their sources.
 */
import { randomUUID } from 'node:crypto';
import { newKey, TestService } from './support/harness.js';
import { eventually, WebhookReceiver } from './support/webhook-receiver.js';

const maybe = process.env.TEST_DATABASE_URL ? describe : describe.skip;
const fast = { outboxPollMs: 20, outboxBatchSize: 37, webhookRetryBaseMs: 50, webhookRetryMaxMs: 200 };

maybe('outbox relay on two instances', () => {
  let a: TestService;
  let b: TestService;
  let rx: WebhookReceiver;
  beforeAll(async () => {
    a = await TestService.start('relay', fast);
    b = await TestService.join(a, fast);
    rx = await WebhookReceiver.start((_r, n) => (n % 7 === 0 ? 500 : 204));
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await rx?.stop();
  });

  it('numbers every tenant’s events gap-free, and delivers them once each in order', async () => {
    const run = Date.now().toString(36);
    const tenants = ['t1', 't2', 't3'].map((t) => `${t}-${run}`);
    const admin = await a.issueKey(tenants[0]!, ['admin']);
    const hook = await a.request('POST', '/v1/webhooks', { key: admin, idempotencyKey: newKey(), body: { url: rx.url, events: ['review.created'] } });
    expect(hook.status).toBe(201);
    // 20 writers × 15 transactions × 1–2 events, spread over three tenants, while both relays run.
    const writers = Array.from({ length: 20 }, async (_, w) => {
      for (let i = 0; i < 15; i++) {
        const tenant = tenants[(w + i) % 3]!;
        const n = 1 + ((w * i) % 2);
        const values = Array.from({ length: n }, () => `('${randomUUID()}', '${tenant}', 'review.created', now(), '{"w":${w},"i":${i}}')`).join(', ');
        await a.sql(`insert into outbox_events (id, tenant, type, occurred_at, data) values ${values}`);
      }
    });
    await Promise.all(writers);
    const rows = await eventually('every event numbered', async () => {
      const r = await a.sql<{ tenant: string; position: string; sequence: string | null }>(
        'select tenant, position, sequence from outbox_events where tenant in (?, ?, ?) order by position',
        tenants,
      );
      return r.every((x) => x.sequence !== null) ? r : undefined;
    });
    for (const t of tenants) {
      const mine = rows.filter((r) => r.tenant === t).map((r) => Number(r.sequence));
      expect(mine.length).toBeGreaterThan(50);
      // 1..n, each once. (Not necessarily in position order: a row's position is drawn at insert, its sequence in
      // the order commits become visible to the relay.)
      expect([...mine].sort((x, y) => x - y)).toEqual(mine.map((_, i) => i + 1));
    }
    const expected = rows.filter((r) => r.tenant === tenants[0]).length;
    await eventually('every delivery accepted', () => (rx.accepted.length >= expected ? true : undefined), 60_000);
    expect(rx.accepted.map((r) => r.json.sequence)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    const attempted = rx.requests.map((r) => r.json.sequence as number);
    expect(attempted).toEqual([...attempted].sort((x, y) => x - y));
  });
});
