/**
 * How this instance learns that another one activated, rolled back or shadowed a release: a LISTEN connection
 * (PostgreSQL; reconnected with backoff, with a catch-up after every reconnect) and a poll every `releasePollMs` (the
 * fallback, and the only way on PGlite). It only decides when; ReleaseRegistry loads what moved.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { NotificationListener, RELEASE_CHANNEL, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';
import { ReleaseRegistry } from './release.registry.js';
import { PollLoop } from '../background/poll-loop.js';

@Injectable()
export class ReleaseSync implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ReleaseSync');
  private listener?: NotificationListener;
  private readonly poll: PollLoop;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ReleaseRegistry,
    private readonly database: DatabaseAvailability,
  ) {
    this.poll = new PollLoop({
      run: () => this.registry.catchUp(),
      intervalMs: config.releasePollMs,
      onError: (e) => this.warn(`release poll failed: ${(e as Error).message}`, e),
    });
  }

  /** After every module is initialised (the registry has loaded the built-in release and caught up once). */
  async onApplicationBootstrap(): Promise<void> {
    if (this.db.kind === 'postgresql' && this.config.releaseListen) {
      this.listener = new NotificationListener({
        url: this.config.databaseUrl,
        channel: RELEASE_CHANNEL,
        onNotification: (tenant) => this.follow(this.registry.refreshTenant(tenant)),
        // Anything announced while the listener was down is caught up at once instead of at the next poll.
        onConnected: () => this.follow(this.registry.catchUp()),
        log: { warn: (message, cause) => this.warn(message, cause) },
      });
      await this.listener.start();
    }
    this.poll.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.poll.stop();
    await this.listener?.stop();
  }

  /** Runs a background refresh, logging its failure (the next poll retries). */
  private follow(p: Promise<void>): void {
    p.catch((e: unknown) => this.warn(`release refresh failed: ${(e as Error).message}`, e));
  }

  /** A database outage is the monitor's to log (once per outage); anything else is logged here. */
  private warn(message: string, cause: unknown): void {
    if (!this.database.report(cause, false)) this.logger.warn(message);
  }
}
