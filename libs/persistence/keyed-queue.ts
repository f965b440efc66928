/**
 * One at a time per key, in this process, before a pooled connection is taken.
 *
 * Why: two requests for one row (the same Idempotency-Key, the same ledger account) serialize on its lock in
 * PostgreSQL anyway, and each waiter holds a pooled connection while it waits. With a pool of 8, eight retries of one
 * request, or eight writes to one hot account, took every connection, and every other tenant's request then waited
 * for one. Waiting here costs a promise instead, and the pool stays free for work that can proceed. Across processes
 * the row lock still decides; this only keeps one process's waiters off its pool.
 */
export class KeyedQueue {
  /** Per key, the turn of the last request queued: released when it is done. A key with nobody queued is absent. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier `run` of `key` has finished (fulfilled or not), in the order they were called. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(key, mine);
    try {
      // Nobody ahead (the usual case): no wait at all, not even a microtask.
      if (before) await before;
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === mine) this.tails.delete(key);
    }
  }

  /** How many keys have a request running or queued (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
