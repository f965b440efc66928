/** The service's view of whether its database answers: one outage monitor shared by requests and background work. */
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { DomainError } from '../../../libs/errors/index.js';
import { OutageMonitor, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';

/** While the database is away it is probed this often (bounded by DB_PROBE_TIMEOUT_MS) to notice its return. */
const PROBE_EVERY_MS = 1_000;

@Injectable()
export class DatabaseAvailability implements OnModuleDestroy {
  private readonly monitor: OutageMonitor;

  constructor(@Inject(DATABASE) db: Database, @Inject(APP_CONFIG) config: AppConfig) {
    this.monitor = new OutageMonitor({
      probe: () => db.check(config.dbProbeTimeoutMs),
      log: new Logger('Database'),
      probeEveryMs: PROBE_EVERY_MS,
      retryAfterSeconds: config.dbRetryAfterS,
    });
  }

  /**
   * The 503 DATABASE_UNAVAILABLE for `e` when it is a database fault, else undefined. `request` false for background
   * work (polls, listeners): it only signals an outage, it refuses no answer.
   */
  report(e: unknown, request = true): DomainError | undefined {
    return this.monitor.report(e, request);
  }

  get down(): boolean {
    return this.monitor.down;
  }

  onModuleDestroy(): void {
    this.monitor.stop();
  }
}
