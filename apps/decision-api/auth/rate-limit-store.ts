/**
 * Where the rate-limit windows every instance shares are kept: Redis when REDIS_URL is set (through
 * rate-limiter-flexible's RateLimiterRedis, one counter per key and window), PostgreSQL otherwise (libs/persistence
 * RateLimitWindowsStore). Either way a lease is one call (libs/rate-limits LeasedLimiter decides when). The Redis
 * store's module (redis-window-store.ts) is imported only when REDIS_URL is set.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Lease, WindowLimit, WindowStore } from '../../../libs/rate-limits/index.js';
import { RateLimitWindowsStore, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';

@Injectable()
export class SharedRateLimitStore implements WindowStore, OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('RateLimits');
  private store: WindowStore;
  private closeRedis?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) db: Database,
  ) {
    this.store = new RateLimitWindowsStore(db);
  }

  /** With REDIS_URL: the Redis store replaces PostgreSQL's before the first request (never failing start-up). */
  async onModuleInit(): Promise<void> {
    const url = this.config.redisUrl;
    if (!url) return;
    const { connectRedisStore, REDIS_CONNECT_MS } = await import('./redis-window-store.js');
    const redis = await connectRedisStore(url, this.config.rateLimitRedisPrefix);
    this.store = redis.store;
    this.closeRedis = redis.close;
    if (!redis.ready) this.log.warn(`Redis (REDIS_URL) not reachable within ${REDIS_CONNECT_MS} ms: rate limits are per instance until it is`);
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
    this.closeRedis?.();
  }
}
