/**
 * One at a time per key, in this process, before a pooled connection is taken.
 *
 * Why: two requests for one row (the same Idempotency-Key, the same ledger account) serialize on its lock in
 * PostgreSQL anyway, and each waiter holds a pooled connection while it waits. With a pool of 8, eight retries of one
 * request, or eight writes to one hot account, took every connection, and every other tenant's request then waited
 * for one. Waiting here costs a promise instead, and the pool stays free for work that can proceed. Across processes
 * the row lock still decides; this only keeps one process's waiters off its pool.
 *
 * A wait is bounded as a wait for a pooled connection is (DB_ACQUIRE_TIMEOUT_MS): past it the request gives up with
 * the busy pool's error (POOL_BUSY, a 503 with Retry-After), instead of each waiter in a long line adding the
 * statement timeout of the one ahead of it to its own wait.
 */
import { POOL_BUSY } from './database-faults.js';

export class KeyedQueue {
  /** Per key, the turn of the last request queued: released when it is done. A key with nobody queued is absent. */
  private readonly tails = new Map<string, Promise<void>>();

  /** `waitMs`: the longest a request waits for its turn (unbounded when undefined). */
  constructor(private readonly o: { waitMs?: number } = {}) {}

  /**
   * Runs `work` once every earlier `run` of `key` has finished (fulfilled or not), in the order they were called; or
   * fails with POOL_BUSY, without running it, when that takes longer than `waitMs`.
   */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(key, mine);
    const passOn = () => {
      release();
      if (this.tails.get(key) === mine) this.tails.delete(key);
    };
    // Nobody ahead (the usual case): no wait at all, not even a microtask.
    if (before && !(await turnWithin(before, this.o.waitMs))) {
      // Given up: those queued behind this one still wait for the one ahead of it to finish.
      void before.then(passOn);
      throw Object.assign(new Error(`an earlier request on the same key or row kept it for over ${this.o.waitMs} ms`), { code: POOL_BUSY });
    }
    try {
      return await work();
    } finally {
      passOn();
    }
  }

  /** How many keys have a request running or queued (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

/** Whether `turn` came within `ms` (always, when undefined). `turn` never rejects. */
function turnWithin(turn: Promise<void>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) return turn.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([turn.then(() => true), late]).finally(() => clearTimeout(timer));
}
