/**
 * A limit that holds across instances without a store round trip per request. Each instance leases tokens from the
 * shared store in batches and spends them locally (a window's first lease asks for `firstLease` tokens, each further
 * one in the same window twice the last, up to `lease`: busy keys call the store seldom, quiet keys hold little); a
 * token is valid only until the window it was leased from ends, counted from before the lease was sent, so it is never
 * spent in a later window.
 *
 * Bound: every accepted request spent a token the store granted, and the store grants at most `points` per window, so
 * the accepted requests of a window never exceed `points`, however many instances there are. A refusal may come early:
 * when one instance is refused, each other instance may still hold up to one lease (earlyRefusalBound). A store call
 * happens once per lease, and once per window for a key that is refused (the refusal is then known locally until the
 * window ends).
 *
 * Store away (error or no answer within `storeTimeoutMs`): fail open to this instance's own windows (MemoryWindowStore)
 * of the budget ÷ `fallbackInstances` (at least one) for `retryStoreAfterMs`, then try the store again. Every instance
 * then enforces its share alone: across N instances up to N ÷ fallbackInstances × points per window while the store is
 * away (set it to the number of instances to keep the budget; a slow store must not become N budgets). Refusing everything instead would turn a
 * Redis outage into an outage of every route, and a PostgreSQL error already answers 503 on the routes that need it.
 */
import { MemoryWindowStore, type Lease, type WindowLimit, type WindowStore } from './window.js';

interface Held {
  tokens: number;
  /** Tokens are spendable before this instant (local clock), the end of the window they came from. */
  until: number;
  /** The store said the window is spent: refused without asking until then. */
  refusedUntil: number;
  /** What the last lease asked for: the next one in the same window asks for twice as much (up to `lease`). */
  asked: number;
  pending: Promise<void> | undefined;
}

export interface LeasedLimiterOptions {
  /** The most tokens asked for per store call (window.ts leaseSize). */
  lease: number;
  /** The first lease of a window (window.ts firstLeaseSize; at most `lease`); each further one doubles. Default `lease`. */
  firstLease?: number;
  /** Prepended to a key in the store only (`key:`, `address:`): one store holds several limits. */
  namespace?: string;
  now?: () => number;
  storeTimeoutMs?: number;
  /** While the store is away each instance allows points ÷ this (default 1: the whole budget). */
  fallbackInstances?: number;
  retryStoreAfterMs?: number;
  /** Called once when the store stops answering, and once when it answers again (for one log line each). */
  onStoreDown?: (e: unknown) => void;
  onStoreBack?: () => void;
  maxKeys?: number;
}

export class LeasedLimiter {
  private readonly held = new Map<string, Held>();
  private readonly fallback: MemoryWindowStore;
  private readonly fallbackLimit: WindowLimit;
  private readonly now: () => number;
  private readonly maxTries: number;
  private readonly first: number;
  private storeRetryAt = -Infinity;
  private storeDown = false;

  constructor(
    private readonly store: WindowStore,
    readonly limit: WindowLimit,
    private readonly o: LeasedLimiterOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.fallback = new MemoryWindowStore(this.now, o.maxKeys);
    this.fallbackLimit = { points: Math.max(1, Math.floor(limit.points / Math.max(1, o.fallbackInstances ?? 1))), windowMs: limit.windowMs };
    // A take waits for at most as many leases as the window has, plus the one that finds it spent.
    this.first = Math.max(1, Math.min(o.lease, o.firstLease ?? o.lease));
    this.maxTries = Math.ceil(limit.points / this.first) + 2;
  }

  /** Takes a held token without waiting: true when taken, false when the window is known spent, undefined: call take(). */
  tryTake(key: string): boolean | undefined {
    const h = this.held.get(key);
    if (h === undefined) return undefined;
    const now = this.now();
    if (h.tokens > 0 && now < h.until) {
      h.tokens -= 1;
      return true;
    }
    if (now < h.refusedUntil) return false;
    return undefined;
  }

  /** Takes one token, leasing a batch from the store when none is held; false when the window is spent. */
  async take(key: string): Promise<boolean> {
    for (let i = 0; i < this.maxTries; i++) {
      const taken = this.tryTake(key);
      if (taken !== undefined) return taken;
      await this.refill(key);
    }
    return false;
  }

  /** Whether `key` is known to be refused now (no store call). */
  refused(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    const now = this.now();
    return now < h.refusedUntil && !(h.tokens > 0 && now < h.until);
  }

  /** Gives back a token taken for work that turned out not to need it (kept only while its window lasts). */
  give(key: string): void {
    const h = this.held.get(key);
    if (h && this.now() < h.until) h.tokens += 1;
  }

  /** Whole seconds until the refused window ends (at least 1), for Retry-After. */
  retryAfter(key: string): number {
    const h = this.held.get(key);
    const ms = h ? h.refusedUntil - this.now() : 0;
    return Math.max(1, Math.ceil(ms / 1000));
  }

  /** Keys with local state (bounded by maxKeys). */
  get size(): number {
    return this.held.size;
  }

  private refill(key: string): Promise<void> {
    let h = this.held.get(key);
    if (!h) {
      if (this.held.size >= (this.o.maxKeys ?? 100_000)) this.evict();
      h = { tokens: 0, until: 0, refusedUntil: 0, asked: 0, pending: undefined };
      this.held.set(key, h);
    }
    const held = h;
    held.pending ??= this.leaseInto(key, held).finally(() => {
      held.pending = undefined;
    });
    return held.pending;
  }

  private async leaseInto(key: string, h: Held): Promise<void> {
    const sentAt = this.now();
    // Demand within a window grows the lease (a busy key calls the store seldom); a quiet key asks for little, so many
    // instances that each see it now and then do not take the window from one another.
    const want = sentAt < h.until ? Math.min(this.o.lease, Math.max(this.first, h.asked * 2)) : this.first;
    h.asked = want;
    const l = await this.leaseFromStore(key, sentAt, want);
    if (l.granted > 0) {
      h.tokens = l.granted;
      h.until = sentAt + l.msLeft;
      h.refusedUntil = 0;
    } else {
      h.tokens = 0;
      h.refusedUntil = sentAt + Math.max(1, l.msLeft);
    }
  }

  private async leaseFromStore(key: string, now: number, want: number): Promise<Lease> {
    if (now < this.storeRetryAt) return this.fallback.leaseNow(key, want, this.fallbackLimit);
    try {
      const l = await withTimeout(this.store.lease((this.o.namespace ?? '') + key, want, this.limit), this.o.storeTimeoutMs ?? 500);
      if (this.storeDown) {
        this.storeDown = false;
        this.o.onStoreBack?.();
      }
      return l;
    } catch (e) {
      this.storeRetryAt = this.now() + (this.o.retryStoreAfterMs ?? 1_000);
      if (!this.storeDown) {
        this.storeDown = true;
        this.o.onStoreDown?.(e);
      }
      return this.fallback.leaseNow(key, want, this.fallbackLimit);
    }
  }

  /** The store holds the truth: forgetting a key costs one lease, never a token more. */
  private evict(): void {
    const now = this.now();
    for (const [k, h] of this.held) if (!h.pending && now >= h.until && now >= h.refusedUntil) this.held.delete(k);
    let drop = this.held.size - Math.floor((this.o.maxKeys ?? 100_000) / 2);
    for (const [k, h] of this.held) {
      if (drop <= 0) break;
      if (!h.pending) {
        this.held.delete(k);
        drop -= 1;
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
