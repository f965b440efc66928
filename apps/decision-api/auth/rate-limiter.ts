/** Token buckets in memory, per instance: a burst guard per API key and per source address of failed logins. */
import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import type { AppConfig } from '../config.js';
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

  /** Whether a token is there to take, taking none (to refuse before doing any work). */
  allows(key: string, now = performance.now()): boolean {
    return this.perSecond <= 0 || this.refilled(key, now).tokens >= 1;
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear(); // bounded memory under a flood of distinct keys
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    return b;
  }

  /** Seconds until one token is available, for Retry-After. */
  retryAfter(key: string): number {
    const b = this.buckets.get(key);
    if (!b || this.perSecond <= 0) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}

/**
 * Guesses at credentials (API keys and ADMIN_TOKEN alike, one budget per source address): an address out of failures
 * is refused before its credential is even looked at, so guessing costs neither a database query nor a comparison.
 */
@Injectable()
export class FailedAuthLimiter {
  private readonly buckets: RateLimiter;

  /** By default 300 a minute (5 a second) in bursts of 20: a client with a typo is not locked out for long. */
  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'authFailuresPerMinute' | 'authFailureBurst'>) {
    this.buckets = new RateLimiter(config.authFailuresPerMinute / 60, config.authFailureBurst);
  }

  /** 429 RATE_LIMITED when `address` has used up its failures; call before checking a credential. */
  check(address: string): void {
    if (!this.buckets.allows(address)) throw this.refusal(address);
  }

  /** Records a failed credential: the answer is the caller's 401, or 429 once the budget is gone. */
  failed(address: string, unauthenticated: DomainError): DomainError {
    return this.buckets.take(address) ? unauthenticated : this.refusal(address);
  }

  private refusal(address: string): DomainError {
    return new DomainError('RATE_LIMITED', 'Too many failed authentications from this address', 'rate_limited', [], {
      retryAfter: this.buckets.retryAfter(address),
    });
  }
}
