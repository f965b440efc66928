/**
 * Rate limits per API key and per source address (failed credentials), shared by every instance through the windows
 * of a shared store (libs/rate-limits, rate-limit-store.ts), and the per-instance token bucket that holds back
 * lookups in flight. Every refusal is made by rateLimited().
 */
import { isIPv6 } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import { firstLeaseSize, LeasedLimiter, leaseSize, type LeasedLimiterOptions, type WindowStore } from '../../../libs/rate-limits/index.js';
import type { AppConfig } from '../config.js';
import { Metrics, type RateLimit } from '../metrics/metrics.js';
import { APP_CONFIG } from '../tokens.js';
import { SharedRateLimitStore } from './rate-limit-store.js';

/**
 * The one place a rate-limit refusal is made, and counted (decision_platform_rate_limited_total{limit}): 429
 * RATE_LIMITED with Retry-After (seconds). `limit`: the API key's requests, or the source address's failed credentials.
 */
export function rateLimited(metrics: Metrics, limit: RateLimit, retryAfter: number): DomainError {
  metrics.rateLimitRefused(limit);
  const message = limit === 'api_key' ? 'Rate limit for this API key exceeded' : 'Too many failed authentications from this address';
  return new DomainError('RATE_LIMITED', message, 'rate_limited', [], { retryAfter });
}

type StoreHooks = Pick<LeasedLimiterOptions, 'onStoreDown' | 'onStoreBack'>;
const hooksOf = (store: WindowStore): StoreHooks => (store as { hooks?: StoreHooks }).hooks ?? {};

/**
 * RATE_LIMIT_PER_KEY × RATE_LIMIT_WINDOW_S requests per window per API key, across every instance. Leased in batches
 * from 1 % of the window, doubling with demand up to RATE_LIMIT_LEASE_PERCENT: a request takes a held token without waiting, and only one in a batch
 * waits for the store (see libs/rate-limits/leased-limiter.ts for the bound).
 */
@Injectable()
export class ApiKeyRateLimit {
  private readonly limiter: LeasedLimiter | undefined;

  constructor(
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'rateLimitPerKey' | 'rateLimitWindowS' | 'rateLimitLeasePercent'> & Partial<Pick<AppConfig, 'rateLimitFallbackInstances'>>,
    @Inject(SharedRateLimitStore) store: WindowStore,
    private readonly metrics: Metrics,
  ) {
    if (config.rateLimitPerKey <= 0) return;
    const points = config.rateLimitPerKey * config.rateLimitWindowS;
    this.limiter = new LeasedLimiter(store, { points, windowMs: config.rateLimitWindowS * 1000 }, { lease: leaseSize(points, config.rateLimitLeasePercent), firstLease: firstLeaseSize(points), fallbackInstances: config.rateLimitFallbackInstances, namespace: 'key:', ...hooksOf(store) });
  }

  /** One request of the key's window without waiting: true or false, undefined when a lease must be waited for (take). */
  tryTake(keyId: string): boolean | undefined {
    return this.limiter ? this.limiter.tryTake(keyId) : true;
  }

  take(keyId: string): Promise<boolean> {
    return this.limiter ? this.limiter.take(keyId) : Promise.resolve(true);
  }

  refusal(keyId: string): DomainError {
    return rateLimited(this.metrics, 'api_key', this.limiter?.retryAfter(keyId) ?? 1);
  }
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number = perSecond * 2,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token; false when the bucket is empty. A limit of 0 disables the limiter. */
  take(key: string, now = performance.now()): boolean {
    if (this.perSecond <= 0) return true;
    const b = this.refilled(key, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Gives back a token taken for work that turned out not to need it (never above the burst). */
  give(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  /** Whether a token is there to take, taking none (to refuse before doing any work). */
  allows(key: string, now = performance.now()): boolean {
    return this.perSecond <= 0 || this.refilled(key, now).tokens >= 1;
  }

  /** How many buckets are kept (bounded by maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    return b;
  }

  /**
   * Bounded memory under a flood of distinct keys: forgets the half with the most tokens left. Clearing everything
   * would hand a limited key its full burst back as soon as someone sent enough other keys; the emptiest buckets (the
   * ones doing the limiting) are kept.
   */
  private evict(now: number): void {
    const byTokens = [...this.buckets].map(([k, b]) => [k, Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond)] as const);
    byTokens.sort((x, y) => y[1] - x[1]);
    for (const [k] of byTokens.slice(0, Math.ceil(byTokens.length / 2))) this.buckets.delete(k);
  }

  /** Seconds until one token is available, for Retry-After. */
  retryAfter(key: string): number {
    const b = this.buckets.get(key);
    if (!b || this.perSecond <= 0) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}

/**
 * The key of a source address for the failed-credential budget: an IPv4 address as itself (IPv4-mapped IPv6 too), an
 * IPv6 address by its /64, the smallest network a host is given: keyed per address, one host would have 2^64 budgets.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Guesses at credentials (API keys and ADMIN_TOKEN alike, one budget per source address): an address out of failures
 * is refused before its credential is even looked at, so guessing costs neither a database query nor a comparison.
 *
 * The budget is shared by every instance: AUTH_FAILURE_BURST failures per window of BURST / (AUTH_FAILURES_PER_MINUTE
 * / 60) seconds (the same long-run rate), each failure taken from the shared store (leases of one, so no instance holds
 * failures back). A key lookup takes its failure from the shared window BEFORE the query (reserve()) and gives it back
 * when the key is valid: requests sent at once, to any number of instances, cannot outnumber the budget in queries.
 * Each instance also keeps its own token bucket of the same size. A request with no credential at all has nothing to
 * guess and costs no query: it is counted in this instance's bucket only (missing()), never with a store call.
 */
@Injectable()
export class FailedAuthLimiter {
  private readonly buckets: RateLimiter;
  private readonly shared: LeasedLimiter;

  /** By default 300 a minute (5 a second) in bursts of 20: a client with a typo is not locked out for long. */
  constructor(
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'authFailuresPerMinute' | 'authFailureBurst'> & Partial<Pick<AppConfig, 'rateLimitFallbackInstances'>>,
    @Inject(SharedRateLimitStore) store: WindowStore,
    private readonly metrics: Metrics,
  ) {
    this.buckets = new RateLimiter(config.authFailuresPerMinute / 60, config.authFailureBurst);
    const windowS = Math.max(1, Math.ceil((60 * config.authFailureBurst) / config.authFailuresPerMinute));
    this.shared = new LeasedLimiter(store, { points: config.authFailureBurst, windowMs: windowS * 1000 }, { lease: 1, fallbackInstances: config.rateLimitFallbackInstances, namespace: 'address:', ...hooksOf(store) });
  }

  /** 429 RATE_LIMITED when `address` has used up its failures; call before checking a credential. */
  check(address: string): void {
    const key = addressKey(address);
    if (!this.buckets.allows(key) || this.shared.refused(key)) throw this.refusal(key);
  }

  /**
   * Takes a failure from this instance's bucket and from the shared window before a credential is looked up (429 when
   * either is spent), so that requests sent at once to any instance cannot all reach the database while the budget
   * still looks untouched; give it back with refund() when the credential was valid or the lookup never answered, or
   * count it with failed(…, {reserved: true}).
   */
  async reserve(address: string): Promise<void> {
    const key = addressKey(address);
    if (this.shared.refused(key) || !this.buckets.take(key)) throw this.refusal(key);
    if (!(this.shared.tryTake(key) ?? (await this.shared.take(key)))) {
      this.buckets.give(key);
      throw this.refusal(key);
    }
  }

  /**
   * Gives a reserved failure back. The shared one stays with this instance (for this address's next failure, while
   * its window lasts): the store only grants, so it is not returned there, and the budget is never exceeded by it.
   */
  refund(address: string): void {
    const key = addressKey(address);
    this.buckets.give(key);
    this.shared.give(key);
  }

  /** A request that sent no credential: the caller's 401, or 429 once this instance's bucket is empty. No store call. */
  missing(address: string, unauthenticated: DomainError): DomainError {
    const key = addressKey(address);
    return this.buckets.take(key) ? unauthenticated : this.refusal(key);
  }

  /** Records a failed credential: the answer is the caller's 401, or 429 once the budget is gone. */
  async failed(address: string, unauthenticated: DomainError, o: { reserved?: boolean } = {}): Promise<DomainError> {
    const key = addressKey(address);
    if (o.reserved === true) return unauthenticated; // counted by reserve(), here and in the shared window
    const local = this.buckets.take(key);
    // The credential was checked and failed: it counts in the shared budget even when this instance's bucket is empty.
    const shared = this.shared.tryTake(key) ?? (await this.shared.take(key));
    return local && shared ? unauthenticated : this.refusal(key);
  }

  private refusal(key: string): DomainError {
    // Whichever refill comes last: the shared window's end, or this instance's next token.
    const shared = this.shared.refused(key) ? this.shared.retryAfter(key) : 0;
    return rateLimited(this.metrics, 'failed_auth', Math.max(this.buckets.retryAfter(key), shared));
  }
}
