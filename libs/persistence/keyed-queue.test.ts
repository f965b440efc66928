import fc from 'fast-check';
import { databaseFault } from './database-faults.js';
import { KeyedQueue } from './keyed-queue.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('runs the work of one key one at a time, in call order, and forgets a key once nothing is queued on it', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const job = (name: string) =>
      q.run('k', async () => {
        most = Math.max(most, ++running);
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
        running--;
        return name;
      });
    expect(await Promise.all([job('a'), job('b'), job('c')])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(most).toBe(1);
    expect(q.size).toBe(0);
  });

  it('lets different keys run at once', async () => {
    const q = new KeyedQueue();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const a = q.run('a', () => held);
    const b = await q.run('b', () => Promise.resolve('b ran while a was held'));
    expect(b).toBe('b ran while a was held');
    release();
    await a;
    expect(q.size).toBe(0);
  });

  it('a failure passes the turn on: the next one runs, and the failure reaches only its own caller', async () => {
    const q = new KeyedQueue();
    const first = q.run('k', async () => {
      await tick();
      throw new Error('boom');
    });
    const second = q.run('k', () => Promise.resolve('ran'));
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ran');
    expect(q.size).toBe(0);
  });

  it('a wait longer than waitMs fails with the busy pool\'s error, runs nothing, and keeps the order of those behind it', async () => {
    const q = new KeyedQueue({ waitMs: 20 });
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = q.run('k', async () => {
      await held;
      log.push('first');
    });
    const second = q.run('k', () => Promise.resolve(log.push('second ran')));
    await expect(second).rejects.toMatchObject({ code: 'DB_POOL_BUSY' });
    expect(databaseFault(await second.catch((e: unknown) => e))?.kind).toBe('busy');
    // Queued after the one that gave up: it still waits for the first, and gets its turn in time once that is done.
    const third = q.run('k', () => Promise.resolve(log.push('third')));
    release();
    await first;
    await third;
    expect(log).toEqual(['first', 'third']);
    expect(q.size).toBe(0);
  });

  it('property: for any interleaving of keys and durations, at most one run per key at a time, each key in call order, every run once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(3)), { minLength: 1, maxLength: 30 }), async (calls) => {
        const q = new KeyedQueue();
        const active = new Map<string, number>();
        const started: Record<string, number[]> = {};
        let overlap = false;
        await Promise.all(
          calls.map(([key, ticks], i) =>
            q.run(key, async () => {
              const n = (active.get(key) ?? 0) + 1;
              active.set(key, n);
              if (n > 1) overlap = true;
              (started[key] ??= []).push(i);
              for (let t = 0; t < ticks; t++) await tick();
              active.set(key, n - 1);
            }),
          ),
        );
        expect(overlap).toBe(false);
        for (const [key, order] of Object.entries(started)) {
          expect(order).toEqual(calls.flatMap(([k], i) => (k === key ? [i] : [])));
        }
        expect(q.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
