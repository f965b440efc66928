/**
 * Rows written under a lock are stamped after the rows they waited for, even when their time was read before the
 * wait. A refund's history follows commit order when a state change waited for the refund's lock behind a
 * later-stamped one (a manual retry racing the payout worker), so the history (ordered by time) and the events' times
 * read as the lifecycle allows; a tenant's release activations read in the same order by time as by seq. PostgreSQL
 * only: it takes two connections holding transactions at once.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { SYSTEM } from '../refunds/index.js';
import { openDatabase, type Database } from './database.js';
import { ReleaseActivationsRepository } from './release-activations.repository.js';
import { RefundsRepository } from './refunds.repository.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

onPostgres('RefundsRepository.transition under a lock wait (PostgreSQL)', () => {
  let t: TestDatabase;
  let db: Database;
  const repo = new RefundsRepository();

  beforeAll(async () => {
    t = await createTestDatabase('stamped_after_lock');
    db = await openDatabase(t.url, { poolSize: 4 });
  });
  afterAll(async () => {
    await db?.close();
    await t?.drop();
  });

  it('a change stamped earlier that waited for the lock is stamped just after the one it waited for', async () => {
    const t0 = new Date('2026-03-11T12:00:00.000Z');
    await db.em().transactional((em) =>
      repo.create(em, {
        tenant: 'acme', refundId: 'rf_race', type: 'refund', orderId: 'ord_race', customerId: 'cus_1', state: 'APPROVED', requestedAmount: 100,
        approvedAmount: 100, capturedAmount: 1000, currency: 'EUR', reward: null, requestedBy: 'key_1', decisionId: '00000000-0000-7000-8000-0000000000d1', createdAt: t0, reason: 'decision approved', actor: SYSTEM,
      }),
    );
    const late = new Date(t0.getTime() + 10_000);
    const early = new Date(t0.getTime() + 5_000); // read by its caller first, then it waits for the lock
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const first = db.em().transactional(async (em) => {
      await repo.transition(em, { tenant: 'acme', refundId: 'rf_race', to: 'PROCESSING', actor: SYSTEM, at: late, reason: 'payout started' });
      locked();
      await held;
    });
    await lockTaken;
    const second = db.em().transactional((em) => repo.transition(em, { tenant: 'acme', refundId: 'rf_race', to: 'FAILED', actor: SYSTEM, at: early, reason: 'provider: declined' }));
    // The second is waiting for the row: let the first commit.
    await new Promise((r) => setTimeout(r, 200));
    release();
    await first;
    const moved = await second;
    expect(moved?.updatedAt.toISOString()).toBe('2026-03-11T12:00:10.001Z');

    const history = await db.em().transactional((em) => repo.history(em, 'acme', 'rf_race'));
    expect(history.map((h) => [h.from, h.to, h.at.toISOString()])).toEqual([
      [null, 'APPROVED', '2026-03-11T12:00:00.000Z'],
      ['APPROVED', 'PROCESSING', '2026-03-11T12:00:10.000Z'],
      ['PROCESSING', 'FAILED', '2026-03-11T12:00:10.001Z'],
    ]);
    const events = await db.em().execute<{ type: string; occurred_at: Date; data: { to: string } }[]>(
      "select type, occurred_at, data from outbox_events where tenant = 'acme' and data->>'refundId' = 'rf_race' order by position",
    );
    expect(events.map((e) => [e.data.to, new Date(e.occurred_at).toISOString()])).toEqual([
      ['APPROVED', '2026-03-11T12:00:00.000Z'],
      ['PROCESSING', '2026-03-11T12:00:10.000Z'],
      ['FAILED', '2026-03-11T12:00:10.001Z'],
    ]);
  });

  it('a change stamped after the last keeps its own time', async () => {
    const t0 = new Date('2026-03-12T12:00:00.000Z');
    await db.em().transactional((em) =>
      repo.create(em, {
        tenant: 'acme', refundId: 'rf_calm', type: 'refund', orderId: 'ord_calm', customerId: 'cus_1', state: 'APPROVED', requestedAmount: 100,
        approvedAmount: 100, capturedAmount: 1000, currency: 'EUR', reward: null, requestedBy: 'key_1', decisionId: '00000000-0000-7000-8000-0000000000d2', createdAt: t0, reason: 'decision approved', actor: SYSTEM,
      }),
    );
    const at = new Date(t0.getTime() + 3);
    const moved = await db.em().transactional((em) => repo.transition(em, { tenant: 'acme', refundId: 'rf_calm', to: 'PROCESSING', actor: SYSTEM, at, reason: 'payout started' }));
    expect(moved?.updatedAt).toEqual(at);
  });
});

onPostgres('ReleaseActivationsRepository.insert under the tenant lock (PostgreSQL)', () => {
  let t: TestDatabase;
  let db: Database;
  const repo = new ReleaseActivationsRepository();

  beforeAll(async () => {
    t = await createTestDatabase('activation_stamps');
    db = await openDatabase(t.url, { poolSize: 4 });
  });
  afterAll(async () => {
    await db?.close();
    await t?.drop();
  });

  const activation = (version: string, at: Date) => ({
    tenant: 'acme', slot: 'active' as const, action: 'activate' as const, release: { name: 'r', version }, previousSeq: null, previous: null, actor: { keyId: 'k', name: 'n' }, at,
  });

  it('an activation stamped before it waited for the lock is stamped just after the one it waited for', async () => {
    const t0 = new Date('2026-03-11T12:00:00.000Z');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const first = db.em().transactional(async (em) => {
      await repo.lockTenant(em, 'acme');
      const row = await repo.insert(em, activation('1.0.0', new Date(t0.getTime() + 10_000)));
      locked();
      await held;
      return row;
    });
    await lockTaken;
    const second = db.em().transactional(async (em) => {
      await repo.lockTenant(em, 'acme');
      return repo.insert(em, activation('1.1.0', new Date(t0.getTime() + 5_000)));
    });
    await new Promise((r) => setTimeout(r, 200));
    release();
    const a = await first;
    const b = await second;
    expect(b.seq).toBeGreaterThan(a.seq);
    expect(a.at.toISOString()).toBe('2026-03-11T12:00:10.000Z');
    expect(b.at.toISOString()).toBe('2026-03-11T12:00:10.001Z');
    // Another tenant's rows do not move this one's time.
    const other = await db.em().transactional((em) => repo.insert(em, { ...activation('1.0.0', t0), tenant: 'globex' }));
    expect(other.at).toEqual(t0);
    // Later than the last: its own time.
    const later = new Date(t0.getTime() + 60_000);
    expect((await db.em().transactional((em) => repo.insert(em, activation('1.2.0', later)))).at).toEqual(later);
  });
});
