/**
 * Purges what is past each tenant's retention (RETENTION_DAYS, RETENTION_DAYS_TENANTS), every `retentionSweepMs`:
 * decisions lose their case and trace and keep outcome, reasons, release and outputs; the platform's history (feature
 * events) recorded before the cutoff is deleted. Every instance sweeps; SKIP
 * LOCKED makes a second sweeper take other rows than the first, and a purged row is never purged again.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { SYSTEM_ACTOR } from '../../../libs/audit/index.js';
import { AuditRepository, RetentionRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import { retentionCutoff, type RetentionPolicy } from '../../../libs/privacy/index.js';
import { retentionPolicy, type AppConfig } from '../config.js';
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
    private readonly audit: AuditRepository,
    database: DatabaseAvailability,
  ) {
    this.policy = retentionPolicy(config);
    this.loop = new PollLoop({
      run: async () => {
        const counts = { events: 0 };
        const purged = await this.sweep(undefined, counts);
        if (purged > 0 || counts.events > 0) this.logger.log(`retention purge: ${purged} decision(s) purged, ${counts.events} history event(s) deleted`);
      },
      intervalMs: config.retentionSweepMs,
      // An outage is the monitor's to log (once); the next sweep retries.
      onError: (e) => {
        if (!database.report(e, false)) this.logger.warn({ msg: 'retention purge failed', err: e });
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

  /**
   * One sweep at `now`: every tenant, batch by batch until nothing past its retention is left: decisions, then the
   * history's events. Returns how many decisions it purged (`events`: how many events it deleted).
   */
  async sweep(now: Date = this.clock.now(), counts: { events: number } = { events: 0 }): Promise<number> {
    let total = 0;
    const em = this.db.em();
    const withDecisions = await this.retention.tenantsWithUnpurged(em);
    const withEvents = await this.retention.tenantsWithFeatureEvents(em);
    const tenants = [...new Set([...withDecisions, ...withEvents])].sort();
    for (const tenant of tenants) {
      const cutoff = retentionCutoff(this.policy, tenant, now);
      // Each batch that changed something leaves one audit row in its transaction, the platform its actor (`system`).
      const recorded = (tx: SqlEntityManager, action: string, n: number, details: Record<string, unknown>) =>
        n > 0 ? this.audit.append(tx, { tenant, actor: SYSTEM_ACTOR, action, subjectType: 'tenant', subjectId: tenant, details: { ...details, cutoff: cutoff.toISOString() }, at: now }) : undefined;
      total += await this.batches(() =>
        this.db.em().transactional(async (tx) => {
          const n = await this.retention.purgeDecisions(tx, tenant, cutoff, now, BATCH);
          await recorded(tx, 'retention.decisions_purged', n, { decisions: n });
          return n;
        }),
      );
      counts.events += await this.batches(() =>
        this.db.em().transactional(async (tx) => {
          const n = await this.retention.purgeFeatureEvents(tx, tenant, cutoff, BATCH);
          await recorded(tx, 'retention.history_deleted', n, { historyEvents: n });
          return n;
        }),
      );
      if (this.closed) break;
    }
    return total;
  }

  /** Runs `batch` until it does less than a full batch (or the module closes); returns the sum. */
  private async batches(batch: () => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.closed) return total;
      const n = await batch();
      total += n;
      if (n < BATCH) return total;
    }
  }
}
