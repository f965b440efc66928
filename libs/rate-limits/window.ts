/**
 * Fixed-window budgets kept in a store that every instance shares, taken in leases (batches) so that a request seldom
 * waits for the store: see leased-limiter.ts for the bound, README "Rate limits" for the numbers.
 */

/** `points` per window of `windowMs`; a window starts with the first lease after the previous one ended. */
export interface WindowLimit {
  points: number;
  windowMs: number;
}

/** A store's answer to a lease: tokens granted (0 to what was asked) and how long the current window still runs. */
export interface Lease {
  granted: number;
  msLeft: number;
}

/** A budget store shared by every instance (PostgreSQL, Redis), or one instance's own (MemoryWindowStore). */
export interface WindowStore {
  /** Takes up to `want` of what is left of `key`'s current window, atomically with every other instance's leases. */
  lease(key: string, want: number, limit: WindowLimit): Promise<Lease>;
}

/** What a lease of `want` gets when `usedBefore` of the window's `points` are already taken: never more than is left. */
export function grantOf(usedBefore: number, want: number, points: number): number {
  return Math.max(0, Math.min(want, points - usedBefore));
}

/**
 * What a lease gets from a store that can decide atomically (PostgreSQL, memory): what grantOf gives, but never more
 * than half of what is left (the last token excepted), so however many instances lease at once, each later one still
 * finds some: a window is not handed out whole to the first few.
 */
export function shareOf(usedBefore: number, want: number, points: number): number {
  const left = points - usedBefore;
  return grantOf(usedBefore, Math.min(want, left <= 1 ? left : Math.floor(left / 2)), points);
}

/** The largest lease: `percent` of a window's points, at least one. */
export function leaseSize(points: number, percent: number): number {
  return Math.max(1, Math.ceil((points * percent) / 100));
}

/** The first lease of a window: 1 % of its points, at least one (doubled per further lease in the window). */
export function firstLeaseSize(points: number): number {
  return Math.max(1, Math.ceil(points / 100));
}

/**
 * How many of a window's points may sit unused in other instances when one instance is refused: each of the other
 * `instances - 1` holds at most one lease. Accepted requests never exceed `points` per window; this is how much
 * earlier than that a refusal may come (the holders still spend their tokens if the key's requests reach them).
 */
export function earlyRefusalBound(instances: number, lease: number): number {
  return Math.max(0, instances - 1) * lease;
}

/**
 * One instance's own windows (tests, and the fallback while a shared store is unreachable). Memory is bounded: past
 * `maxKeys` the windows that ended are dropped first, then those with the most points left (the ones doing the
 * limiting are kept).
 */
export class MemoryWindowStore implements WindowStore {
  private readonly windows = new Map<string, { used: number; endsAt: number }>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {}

  lease(key: string, want: number, limit: WindowLimit): Promise<Lease> {
    return Promise.resolve(this.leaseNow(key, want, limit));
  }

  leaseNow(key: string, want: number, limit: WindowLimit): Lease {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.endsAt <= now) {
      if (!w && this.windows.size >= this.maxKeys) this.evict(now);
      w = { used: 0, endsAt: now + limit.windowMs };
      this.windows.set(key, w);
    }
    const granted = shareOf(w.used, want, limit.points);
    w.used += granted;
    return { granted, msLeft: w.endsAt - now };
  }

  get size(): number {
    return this.windows.size;
  }

  private evict(now: number): void {
    for (const [k, w] of this.windows) if (w.endsAt <= now) this.windows.delete(k);
    if (this.windows.size < this.maxKeys) return;
    const byUse = [...this.windows].sort((a, b) => a[1].used - b[1].used);
    for (const [k] of byUse.slice(0, Math.ceil(byUse.length / 2))) this.windows.delete(k);
  }
}
