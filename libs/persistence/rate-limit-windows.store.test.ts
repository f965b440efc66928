/** The PostgreSQL rate-limit store under parallel leases from several pools (instances); PGlite when no server is set. */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { RateLimitWindowsStore } from './rate-limit-windows.store.js';

describe('RateLimitWindowsStore', () => {
  let target: TestDatabase;
  const dbs: Database[] = [];
  beforeAll(async () => {
    target = await createTestDatabase('rate_limit_windows');
    dbs.push(await openDatabase(target.url, { poolSize: 8 }));
    if (target.kind === 'postgresql') dbs.push(await openDatabase(target.url, { migrate: false, poolSize: 8 }));
  });
  afterAll(async () => {
    for (const db of dbs) await db.close();
    await target?.drop();
  });

  it('parallel leases from every pool grant exactly the window\'s points between them, then nothing until it ends', async () => {
    const stores = dbs.map((db) => new RateLimitWindowsStore(db));
    const limit = { points: 100, windowMs: 60_000 };
    const leases = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % stores.length]!.lease('key:parallel', 7, limit)));
    expect(leases.reduce((n, l) => n + l.granted, 0)).toBe(100);
    for (const l of leases) {
      expect(l.granted).toBeGreaterThanOrEqual(0);
      expect(l.granted).toBeLessThanOrEqual(7);
      expect(l.msLeft).toBeGreaterThan(0);
      expect(l.msLeft).toBeLessThanOrEqual(60_000);
    }
    expect((await stores[0]!.lease('key:parallel', 7, limit)).granted).toBe(0);
    expect((await stores[0]!.lease('key:other', 7, limit)).granted).toBe(7);
  });

  it('grants at most half of what is left (the last token whole), and a window that ended starts again', async () => {
    const store = new RateLimitWindowsStore(dbs[0]!);
    const limit = { points: 3, windowMs: 500 };
    const granted = async (want: number) => (await store.lease('key:short', want, limit)).granted;
    // 3 left: half is 1; 2 left: 1; the last token whole; then nothing until the window ends.
    expect([await granted(5), await granted(5), await granted(5), await granted(5)]).toEqual([1, 1, 1, 0]);
    await new Promise((r) => setTimeout(r, 600));
    expect(await granted(5)).toBe(1);
  });
});
