/** Token buckets in memory, per instance: a burst guard per API key and per source address of failed logins. */
import { isIPv6 } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import type { AppConfig } from '../config.js';
import { Metrics } from '../metrics/metrics.js';
import { APP_CONFIG } from '../tokens.js';

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
 */
@Injectable()
export class FailedAuthLimiter {
  private readonly buckets: RateLimiter;

  /** By default 300 a minute (5 a second) in bursts of 20: a client with a typo is not locked out for long. */
  constructor(
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'authFailuresPerMinute' | 'authFailureBurst'>,
    private readonly metrics: Metrics,
  ) {
    this.buckets = new RateLimiter(config.authFailuresPerMinute / 60, config.authFailureBurst);
  }

  /** 429 RATE_LIMITED when `address` has used up its failures; call before checking a credential. */
  check(address: string): void {
    const key = addressKey(address);
    if (!this.buckets.allows(key)) throw this.refusal(key);
  }

  /**
   * Takes a failure from the budget before a credential is looked up (429 when none is left), so that requests sent at
   * once cannot all reach the database while the budget still looks untouched; give it back with refund() when the
   * credential was valid or the lookup never answered.
   */
  reserve(address: string): void {
    const key = addressKey(address);
    if (!this.buckets.take(key)) throw this.refusal(key);
  }

  refund(address: string): void {
    this.buckets.give(addressKey(address));
  }

  /** Records a failed credential: the answer is the caller's 401, or 429 once the budget is gone. */
  failed(address: string, unauthenticated: DomainError): DomainError {
    const key = addressKey(address);
    return this.buckets.take(key) ? unauthenticated : this.refusal(key);
  }

  private refusal(address: string): DomainError {
    this.metrics.rateLimitRefused('failed_auth');
    return new DomainError('RATE_LIMITED', 'Too many failed authentications from this address', 'rate_limited', [], {
      retryAfter: this.buckets.retryAfter(address),
    });
  }
}
