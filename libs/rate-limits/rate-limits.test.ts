import fc from 'fast-check';
import { earlyRefusalBound, firstLeaseSize, grantOf, LeasedLimiter, leaseSize, shareOf, MemoryWindowStore, type Lease, type WindowLimit, type WindowStore } from './index.js';

/** A shared store on a clock the test moves, counting its calls. */
function sharedStore(clock: { t: number }) {
  const inner = new MemoryWindowStore(() => clock.t);
  let calls = 0;
  const store: WindowStore = {
    lease: (key, want, limit) => {
      calls += 1;
      return inner.lease(key, want, limit);
    },
  };
  return { store, calls: () => calls };
}

describe('lease arithmetic', () => {
  it('a shared store never grants more than half of what is left, except the last token', () => {
    expect(shareOf(0, 10, 100)).toBe(10);
    expect(shareOf(90, 10, 100)).toBe(5);
    expect(shareOf(97, 10, 100)).toBe(1);
    expect(shareOf(99, 10, 100)).toBe(1);
    expect(shareOf(100, 10, 100)).toBe(0);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (points, used, want) => {
      const left = Math.max(0, points - used);
      const g = shareOf(Math.min(used, points), want, points);
      return g <= want && (left <= 1 ? g === left : g <= left / 2 && g >= 1);
    }));
  });

  it('grants what is asked while the window has it, the rest of it at the end, then nothing', () => {
    expect(grantOf(0, 10, 100)).toBe(10);
    expect(grantOf(95, 10, 100)).toBe(5);
    expect(grantOf(100, 10, 100)).toBe(0);
    expect(grantOf(130, 10, 100)).toBe(0); // a store that counts refused leases too (Redis) never grants below zero
  });

  it('a lease is a percentage of the window, at least one token', () => {
    expect(leaseSize(1000, 10)).toBe(100);
    expect(leaseSize(25, 10)).toBe(3);
    expect(leaseSize(5, 10)).toBe(1);
    expect(earlyRefusalBound(2, 100)).toBe(100);
    expect(earlyRefusalBound(1, 100)).toBe(0);
  });

  it('property: whatever the leases asked, a window never grants more than its points', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 100 }), (points, wants) => {
        let used = 0;
        for (const want of wants) {
          const g = grantOf(used, want, points);
          expect(g).toBeGreaterThanOrEqual(0);
          expect(g).toBeLessThanOrEqual(want);
          used += g;
        }
        expect(used).toBeLessThanOrEqual(points);
        if (wants.reduce((a, b) => a + b, 0) >= points) expect(used).toBe(points);
      }),
    );
  });
});

describe('LeasedLimiter', () => {
  const limit: WindowLimit = { points: 100, windowMs: 1000 };

  it('adaptive leases: a quiet key seen by 11 instances (one request each) is refused by none of them', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const all = Array.from({ length: 11 }, () => new LeasedLimiter(s.store, limit, { lease: leaseSize(100, 10), firstLease: firstLeaseSize(100), now: () => clock.t }));
    const answers = [];
    for (const l of all) answers.push(await l.take('quiet'));
    expect(answers).toEqual(Array(11).fill(true));
  });

  it('adaptive leases: the first lease of a window is small and each further one in the window doubles, up to the largest', async () => {
    const clock = { t: 0 };
    const asked: number[] = [];
    const inner = new MemoryWindowStore(() => clock.t);
    const store: WindowStore = { lease: (k, want, l) => (asked.push(want), inner.lease(k, want, l)) };
    const a = new LeasedLimiter(store, { points: 1000, windowMs: 1000 }, { lease: leaseSize(1000, 10), firstLease: firstLeaseSize(1000), now: () => clock.t });
    for (let i = 0; i < 10 + 20 + 40 + 80 + 100 + 1; i++) expect(await a.take('busy')).toBe(true);
    expect(asked).toEqual([10, 20, 40, 80, 100, 100]);
    clock.t = 1000; // a new window starts small again
    expect(await a.take('busy')).toBe(true);
    expect(asked.at(-1)).toBe(10);
  });

  it('two instances on one store: at most the window\'s points accepted, one store call per lease, refusals known locally', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const a = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    const b = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    let accepted = 0;
    for (let i = 0; i < 500; i++) if (await (i % 2 ? a : b).take('key')) accepted++;
    expect(accepted).toBe(100);
    // 9 leases of 10, then never more than half of what is left (5, 2, 1, 1, 1: the last token whole), then one call
    // per instance that finds the window spent; the other 380 refusals asked nothing.
    expect(s.calls()).toBe(16);
    expect(a.tryTake('key')).toBe(false);
    expect(a.retryAfter('key')).toBe(1);
    // The next window: a new budget.
    clock.t = 1000;
    expect(await a.take('key')).toBe(true);
  });

  it('concurrent takes on one instance share one lease call', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const a = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    const answers = await Promise.all(Array.from({ length: 25 }, () => a.take('key')));
    expect(answers.filter(Boolean)).toHaveLength(25);
    expect(s.calls()).toBe(3);
  });

  it('a refusal may come early by at most the leases other instances hold, and those tokens stay spendable', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const a = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    const b = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    expect(await b.take('key')).toBe(true); // b holds 9 more
    let onA = 0;
    while (await a.take('key')) onA++;
    expect(onA).toBe(90);
    expect(onA + 1).toBeGreaterThanOrEqual(limit.points - earlyRefusalBound(2, 10));
    let onB = 0;
    while (await b.take('key')) onB++;
    expect(1 + onB + onA).toBe(100);
  });

  it('tokens leased in one window are not spent in the next (valid from before the lease was sent)', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const a = new LeasedLimiter(s.store, limit, { lease: 10, now: () => clock.t });
    expect(await a.take('key')).toBe(true);
    clock.t = 999;
    expect(a.tryTake('key')).toBe(true);
    clock.t = 1000;
    expect(a.tryTake('key')).toBeUndefined();
  });

  it('property: any interleaving of instances and time never accepts more than the points of each window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.tuple(fc.nat(4), fc.integer({ min: 0, max: 120 })), { maxLength: 300 }),
        async (instances, points, percent, steps) => {
          const clock = { t: 0 };
          const windowMs = 1000;
          const s = sharedStore(clock);
          const all = Array.from({ length: instances }, () => new LeasedLimiter(s.store, { points, windowMs }, { lease: leaseSize(points, percent), now: () => clock.t }));
          // The store's windows start at the first lease after the last one ended: record them by their start.
          const acceptedByWindow = new Map<number, number>();
          let windowStart = -Infinity;
          for (const [which, advance] of steps) {
            clock.t += advance;
            if (clock.t >= windowStart + windowMs) windowStart = -Infinity;
            if (await all[which % instances]!.take('k')) {
              if (windowStart === -Infinity) windowStart = clock.t;
              acceptedByWindow.set(windowStart, (acceptedByWindow.get(windowStart) ?? 0) + 1);
            }
          }
          for (const n of acceptedByWindow.values()) expect(n).toBeLessThanOrEqual(points);
        },
      ),
    );
  });

  it('store away: fails open to this instance\'s own window of the same limit, says so once, and goes back to the store', async () => {
    const clock = { t: 0 };
    let down = true;
    const inner = new MemoryWindowStore(() => clock.t);
    const store: WindowStore = { lease: (k, w, l): Promise<Lease> => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.lease(k, w, l)) };
    const events: string[] = [];
    const a = new LeasedLimiter(store, limit, { lease: 10, now: () => clock.t, retryStoreAfterMs: 500, onStoreDown: () => events.push('down'), onStoreBack: () => events.push('back') });
    let accepted = 0;
    for (let i = 0; i < 150; i++) if (await a.take('key')) accepted++;
    expect(accepted).toBe(100);
    expect(events).toEqual(['down']);
    down = false;
    clock.t = 1000;
    expect(await a.take('key')).toBe(true);
    expect(events).toEqual(['down', 'back']);
  });

  it('store away with fallbackInstances: each instance allows only its share of the budget, not the whole of it', async () => {
    const store: WindowStore = { lease: () => Promise.reject(new Error('ECONNREFUSED')) };
    const clock = { t: 0 };
    const all = Array.from({ length: 2 }, () => new LeasedLimiter(store, limit, { lease: 10, fallbackInstances: 2, now: () => clock.t }));
    let accepted = 0;
    for (let i = 0; i < 300; i++) if (await all[i % 2]!.take('key')) accepted++;
    expect(accepted).toBe(100); // two instances, 50 each: the budget holds while the store is away
  });

  it('a store that does not answer counts as away after the timeout', async () => {
    const store: WindowStore = { lease: () => new Promise<Lease>(() => undefined) };
    const a = new LeasedLimiter(store, limit, { lease: 10, storeTimeoutMs: 20 });
    expect(await a.take('key')).toBe(true);
  });

  it('memory stays bounded under a flood of keys, and a forgotten key costs a lease, never a token more', async () => {
    const clock = { t: 0 };
    const s = sharedStore(clock);
    const a = new LeasedLimiter(s.store, { points: 2, windowMs: 60_000 }, { lease: 1, now: () => clock.t, maxKeys: 100 });
    expect([await a.take('victim'), await a.take('victim'), await a.take('victim')]).toEqual([true, true, false]);
    for (let i = 0; i < 1000; i++) await a.take(`k${i}`);
    expect(a.size).toBeLessThanOrEqual(100);
    expect(await a.take('victim')).toBe(false);
  });
});
