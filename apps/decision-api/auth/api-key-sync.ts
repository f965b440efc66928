/**
 * How this instance learns that another one revoked or rotated a key: a LISTEN on API_KEY_CHANNEL (PostgreSQL, with
 * RELEASE_LISTEN on), each notification dropping that key from the cache. Without it (PGlite: one instance; or LISTEN
 * off) the cache's own lifetime, API_KEY_CACHE_MS ≤ 5 s, is what bounds the delay.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { API_KEY_CHANNEL, NotificationListener, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';
import { ApiKeyCache } from './key-cache.js';

@Injectable()
export class ApiKeySync implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ApiKeySync');
  private listener?: NotificationListener;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: ApiKeyCache,
    private readonly database: DatabaseAvailability,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.db.kind !== 'postgresql' || !this.config.releaseListen) return;
    this.listener = new NotificationListener({
      url: this.config.databaseUrl,
      channel: API_KEY_CHANNEL,
      applicationName: 'decision-api key listener',
      onNotification: (keyId) => this.cache.evict(keyId),
      // Revocations announced while disconnected are lost: start from an empty cache.
      onConnected: () => this.cache.clear(),
      log: { warn: (message, cause) => this.warn(message, cause) },
    });
    await this.listener.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.listener?.stop();
  }

  private warn(message: string, cause: unknown): void {
    if (!this.database.report(cause, false)) this.logger.warn(message);
  }
}
