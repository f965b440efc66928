/**
 * Purges what is past each tenant's retention (RETENTION_DAYS, RETENTION_DAYS_TENANTS), every `retentionSweepMs`:
 * decisions lose their case and trace and keep outcome, reasons, release and outputs. Every instance sweeps; SKIP
 * LOCKED makes a second sweeper take other rows than the first, and a purged row is never purged again.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RetentionRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import { retentionCutoff, type RetentionPolicy } from '../../../libs/privacy/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { PollLoop } from '../background/poll-loop.js';

/** Decisions purged per transaction: keeps each transaction (and its row locks) short after a long pause. */
const BATCH = 500;

@Injectable()
export class RetentionSweeper implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RetentionSweeper');
  private readonly loop: PollLoop;
  private readonly policy: RetentionPolicy;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly retention: RetentionRepository,
    database: DatabaseAvailability,
  ) {
    this.policy = { defaultDays: config.retentionDays, tenants: config.retentionDaysTenants };
    this.loop = new PollLoop({
      run: async () => {
        const purged = await this.sweep();
        if (purged > 0) this.logger.log(`retention purge: ${purged} decision(s) purged`);
      },
      intervalMs: config.retentionSweepMs,
      // An outage is the monitor's to log (once); the next sweep retries.
      onError: (e) => {
        if (!database.report(e, false)) this.logger.warn(`retention purge failed: ${(e as Error).message}`);
      },
    });
  }

  onModuleInit(): void {
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.loop.stop();
  }

  /** One sweep at `now`: every tenant, batch by batch until nothing past its retention is left. Returns how many it purged. */
  async sweep(now: Date = this.clock.now()): Promise<number> {
    let total = 0;
    const tenants = await this.db.em().transactional((em) => this.retention.tenantsWithUnpurged(em));
    for (const tenant of tenants) {
      const cutoff = retentionCutoff(this.policy, tenant, now);
      for (;;) {
        if (this.closed) return total;
        const purged = await this.db.em().transactional((em) => this.retention.purgeDecisions(em, tenant, cutoff, now, BATCH));
        total += purged;
        if (purged < BATCH) break;
      }
    }
    return total;
  }
}
