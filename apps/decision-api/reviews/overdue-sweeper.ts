/**
 * Marks open reviews past their SLA deadline as overdue, every `reviewOverdueSweepMs`, each with one `review.overdue`
 * event. Every instance sweeps; the repository's update makes a second sweeper skip what the first marked.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ReviewsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';

/** Items marked per transaction: keeps each transaction (and its row locks) short when many fall due at once. */
const BATCH = 500;

@Injectable()
export class ReviewOverdueSweeper implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ReviewOverdueSweeper');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reviews: ReviewsRepository,
    private readonly database: DatabaseAvailability,
  ) {}

  onModuleInit(): void {
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One sweep: batches until nothing due is left. Returns how many items it marked. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.closed) return total;
      const now = this.clock.now();
      const marked = await this.db.em().transactional((em) => this.reviews.markOverdue(em, now, BATCH));
      total += marked;
      if (marked < BATCH) return total;
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .then(() => undefined)
        .catch((e: unknown) => {
          // An outage is the monitor's to log (once); the next sweep retries.
          if (!this.database.report(e, false)) this.logger.warn(`overdue sweep failed: ${(e as Error).message}`);
        })
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.config.reviewOverdueSweepMs);
    this.timer.unref();
  }
}
