/**
 * Where the rate-limit windows every instance shares are kept: Redis when REDIS_URL is set (through
 * rate-limiter-flexible's RateLimiterRedis, one counter per key and window), PostgreSQL otherwise (libs/persistence
 * RateLimitWindowsStore). Either way a lease is one call (libs/rate-limits LeasedLimiter decides when).
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { grantOf, type Lease, type WindowLimit, type WindowStore } from '../../../libs/rate-limits/index.js';
import { RateLimitWindowsStore, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';

/** How long start-up waits for Redis before going on without it (the limiters fail open meanwhile). */
const REDIS_CONNECT_MS = 2_000;

/** A lease of `want` points is one `consume(key, want)`; a refused one still tells how much of the window was left. */
export class RedisWindowStore implements WindowStore {
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

@Injectable()
export class SharedRateLimitStore implements WindowStore, OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('RateLimits');
  private readonly store: WindowStore;
  private readonly redis: Redis | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(DATABASE) db: Database) {
    if (config.redisUrl) {
      // No offline queue: while Redis is away a lease fails at once and the limiter falls back (LeasedLimiter).
      this.redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_CONNECT_MS });
      this.redis.on('error', () => undefined); // reconnects by itself; the limiter logs the outage once
      this.store = new RedisWindowStore(this.redis, config.rateLimitRedisPrefix);
    } else {
      this.store = new RateLimitWindowsStore(db);
    }
  }

  /** Start-up waits briefly for Redis, so the first requests find it connected; it never fails because of it. */
  async onModuleInit(): Promise<void> {
    const redis = this.redis;
    if (!redis || redis.status === 'ready') return;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), REDIS_CONNECT_MS);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!ready) this.log.warn(`Redis (REDIS_URL) not reachable within ${REDIS_CONNECT_MS} ms: rate limits are per instance until it is`);
  }

  lease(key: string, want: number, limit: WindowLimit): Promise<Lease> {
    return this.store.lease(key, want, limit);
  }

  /** Whether the last limiter to hear from the store found it down: the limiters share one outage, and one log line. */
  private down = false;

  /**
   * Log hooks for the LeasedLimiters over this store (per key, failed credentials): one line when it stops answering,
   * one when it is back, however many limiters notice.
   */
  readonly hooks = {
    onStoreDown: (e: unknown) => {
      if (this.down) return;
      this.down = true;
      this.log.warn(`Rate-limit store not answering (${e instanceof Error ? e.message : String(e)}): each instance limits on its own until it does`);
    },
    onStoreBack: () => {
      if (!this.down) return;
      this.down = false;
      this.log.log('Rate-limit store answering again: limits are shared across instances');
    },
  };

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}
