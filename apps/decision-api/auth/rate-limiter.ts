/** Token buckets in memory, per instance: a burst guard per API key and per source address of failed logins. */
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
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear(); // bounded memory under a flood of distinct keys
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Seconds until one token is available, for Retry-After. */
  retryAfter(key: string): number {
    const b = this.buckets.get(key);
    if (!b || this.perSecond <= 0) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}
