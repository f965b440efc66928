/**
 * EventsRepository.finishRun against a redelivery asked for while the run was in flight: the attempt is recorded, but
 * the delivery stays pending and due when the redelivery asked, whether the attempt succeeded or failed.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { EventsRepository } from './events.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('EventsRepository: a redelivery during a run (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new EventsRepository();
  const t0 = new Date('2026-03-11T12:00:00Z');
  const at = (s: number) => new Date(t0.getTime() + s * 1000);

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('events_redelivery');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  /** An endpoint of `tenant` with `events` pending deliveries, relayed at t0. */
  async function endpointOwed(tenant: string, events: number) {
    const em = db.em();
    const endpoint = await repo.createEndpoint(em, { tenant, url: 'https://example.test/hook', events: ['review.created'], secret: 'whsec_x', createdBy: 'k', now: t0 });
    for (let i = 0; i < events; i++) {
      await em.execute(`insert into outbox_events (id, tenant, type, occurred_at, data) values (?, ?, 'review.created', ?, '{}')`, [randomUUID(), tenant, t0]);
    }
    await db.em().transactional((tx) => repo.relayBatch(tx, { limit: 10, nats: false, now: t0 }));
    return endpoint;
  }

  /** An endpoint with one event's pending delivery, claimed by a run at t0 + 1 s. */
  async function claimed(tenant: string) {
    const endpoint = await endpointOwed(tenant, 1);
    const runs = await db.em().transactional((tx) => repo.claimDue(tx, { now: at(1), leaseUntil: at(60), busy: [], limit: 10, run: 10 }));
    const run = runs.find((r) => r.endpointId === endpoint.id)!;
    expect(run.deliveries).toHaveLength(1);
    return { endpoint, delivery: run.deliveries[0]! };
  }

  const view = async (endpointId: string) => (await repo.listDeliveries(db.em(), endpointId, 10))[0]!;

  it('a run without a redelivery completes its delivery', async () => {
    const { endpoint, delivery } = await claimed('quiet');
    await db.em().transactional((tx) => repo.finishRun(tx, { delivered: [{ id: delivery.id, statusCode: 204, redeliveries: delivery.redeliveries }], released: [], now: at(2) }));
    expect(await view(endpoint.id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('a successful attempt overtaken by a redelivery leaves the delivery pending, due when the redelivery asked', async () => {
    const { endpoint, delivery } = await claimed('ok');
    await repo.redeliver(db.em(), endpoint.id, delivery.id, at(2));
    await db.em().transactional((tx) => repo.finishRun(tx, { delivered: [{ id: delivery.id, statusCode: 204, redeliveries: delivery.redeliveries }], released: [], now: at(3) }));
    expect(await view(endpoint.id)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 204, nextAttemptAt: at(2) });
    expect(await repo.anyDue(db.em(), at(3))).toBe(true);
  });

  it('a failed attempt overtaken by a redelivery is not pushed back to its backoff', async () => {
    const { endpoint, delivery } = await claimed('failed');
    await repo.redeliver(db.em(), endpoint.id, delivery.id, at(2));
    const failed = { id: delivery.id, statusCode: 500, error: 'HTTP 500', retryAt: at(600), redeliveries: delivery.redeliveries };
    await db.em().transactional((tx) => repo.finishRun(tx, { delivered: [], failed, released: [], now: at(3) }));
    expect(await view(endpoint.id)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, nextAttemptAt: at(2) });

    // Without a redelivery since its claim, a failure waits for its backoff.
    const again = (await db.em().transactional((tx) => repo.claimDue(tx, { now: at(4), leaseUntil: at(60), busy: [], limit: 10, run: 10 }))).find((r) => r.endpointId === endpoint.id)!;
    const d = again.deliveries[0]!;
    await db.em().transactional((tx) => repo.finishRun(tx, { delivered: [], failed: { ...failed, redeliveries: d.redeliveries }, released: [], now: at(5) }));
    expect(await view(endpoint.id)).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: at(600) });
  });

  it('leaves an endpoint alone while a run elsewhere holds deliveries after its redelivered head', async () => {
    const endpoint = await endpointOwed('twoinstances', 3);
    const claim = async (now: Date, run: number) =>
      (await db.em().transactional((tx) => repo.claimDue(tx, { now, leaseUntil: at(60), busy: [], limit: 10, run }))).find((r) => r.endpointId === endpoint.id);
    const first = (await claim(at(1), 1))!.deliveries[0]!;
    await db.em().transactional((tx) => repo.finishRun(tx, { delivered: [{ id: first.id, statusCode: 204, redeliveries: first.redeliveries }], released: [], now: at(2) }));
    // Instance A holds the other two; the first is redelivered meanwhile and becomes the endpoint's head.
    const held = (await claim(at(3), 10))!;
    expect(held.deliveries.map((d) => d.event.sequence)).toEqual([2, 3]);
    await repo.redeliver(db.em(), endpoint.id, first.id, at(4));
    // Instance B (nothing busy locally) must not send the head while A sends the rest.
    expect(await claim(at(5), 10)).toBeUndefined();
    await db.em().transactional((tx) =>
      repo.finishRun(tx, { delivered: held.deliveries.map((d) => ({ id: d.id, statusCode: 204, redeliveries: d.redeliveries })), released: [], now: at(6) }),
    );
    expect((await claim(at(7), 10))!.deliveries.map((d) => d.event.sequence)).toEqual([1]);
  });
});
