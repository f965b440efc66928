/**
 * Marks open reviews past their SLA deadline as overdue, every `reviewOverdueSweepMs`, each with one `review.overdue`
 * event. Every instance sweeps; the repository's update makes a second sweeper skip what the first marked.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SYSTEM_ACTOR } from '../../../libs/audit/index.js';
import { AuditRepository, ReviewsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { PollLoop } from '../background/poll-loop.js';

/** Items marked per transaction: keeps each transaction (and its row locks) short when many fall due at once. */
const BATCH = 500;

@Injectable()
export class ReviewOverdueSweeper implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ReviewOverdueSweeper');
  private readonly loop: PollLoop;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reviews: ReviewsRepository,
    private readonly audit: AuditRepository,
    database: DatabaseAvailability,
  ) {
    this.loop = new PollLoop({
      run: async () => {
        await this.sweep();
      },
      intervalMs: config.reviewOverdueSweepMs,
      // An outage is the monitor's to log (once); the next sweep retries.
      onError: (e) => {
        if (!database.report(e, false)) this.logger.warn({ msg: 'overdue sweep failed', err: e });
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

  /** One sweep: batches until nothing due is left. Returns how many items it marked. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.closed) return total;
      const now = this.clock.now();
      const marked = await this.db.em().transactional(async (em) => {
        const reviews = await this.reviews.markOverdueReviews(em, now, BATCH);
        // The platform's own change: one audit row per tenant and batch, naming the items (actor `system`).
        const byTenant = new Map<string, string[]>();
        for (const r of reviews) (byTenant.get(r.tenant) ?? byTenant.set(r.tenant, []).get(r.tenant)!).push(r.id);
        // Tenants in one order on every instance: each append locks its tenant's chain head until commit.
        for (const [tenant, ids] of [...byTenant].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          await this.audit.append(em, { tenant, actor: SYSTEM_ACTOR, action: 'review.marked_overdue', subjectType: 'review', subjectId: ids[0]!, details: { reviewIds: ids }, at: now });
        }
        return reviews.length;
      });
      total += marked;
      if (marked < BATCH) return total;
    }
  }
}
