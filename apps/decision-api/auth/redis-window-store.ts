/**
 * The rate-limit windows in Redis (REDIS_URL): rate-limiter-flexible's RateLimiterRedis, one counter per key and window.
 * Its own module, imported only when REDIS_URL is set: ioredis and rate-limiter-flexible are ~10 MB of an instance's
 * RSS that an instance without Redis does not load.
 */
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { grantOf, type Lease, type WindowLimit, type WindowStore } from '../../../libs/rate-limits/index.js';

/** How long start-up waits for Redis before going on without it (the limiters fail open meanwhile). */
export const REDIS_CONNECT_MS = 2_000;

/** A lease of `want` points is one `consume(key, want)`; a refused one still tells how much of the window was left. */
class RedisWindowStore implements WindowStore {
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  async lease(key: string, want: number, limit: WindowLimit): Promise<Lease> {
    const limiter = this.limiterFor(limit);
    try {
      const r = await limiter.consume(key, want);
      return { granted: want, msLeft: r.msBeforeNext };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      // The counter went up by `want` past the points: this lease gets what was left before it (grantOf).
      return { granted: grantOf(e.consumedPoints - want, want, limit.points), msLeft: e.msBeforeNext };
    }
  }

  private limiterFor(limit: WindowLimit): RateLimiterRedis {
    const id = `${limit.points}/${limit.windowMs}`;
    let l = this.limiters.get(id);
    if (!l) {
      // Whole seconds: rate-limiter-flexible's duration unit (the configured windows are whole seconds anyway).
      l = new RateLimiterRedis({ storeClient: this.client, keyPrefix: this.prefix, points: limit.points, duration: Math.max(1, Math.ceil(limit.windowMs / 1000)) });
      this.limiters.set(id, l);
    }
    return l;
  }
}

/**
 * A Redis client for `url` and the store over it. Start-up waits briefly for Redis, so the first requests find it
 * connected (`ready` false: it was not reachable in time); it never fails because of it.
 */
export async function connectRedisStore(url: string, prefix: string): Promise<{ store: WindowStore; ready: boolean; close: () => void }> {
  // No offline queue: while Redis is away a lease fails at once and the limiter falls back (LeasedLimiter).
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_CONNECT_MS });
  redis.on('error', () => undefined); // reconnects by itself; the limiter logs the outage once
  const ready =
    redis.status === 'ready' ||
    (await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), REDIS_CONNECT_MS);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    }));
  return { store: new RedisWindowStore(redis, prefix), ready, close: () => redis.disconnect() };
}
