/**
 * What a scrape reads besides the counters: the releases loaded on this instance, the pool, and the stored state
 * (review queue, backlogs, integrity) in a few index reads, bounded in time so that a slow database leaves the
 * process's own metrics scrapeable (metrics_database_up then says 0).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetricsRepository, withTimeout, type Clock, type Database, type OperationalSnapshot } from '../../../libs/persistence/index.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { CLOCK, DATABASE } from '../tokens.js';
import { Metrics } from './metrics.js';

/** Well inside Prometheus's default scrape timeout (10 s). */
export const SCRAPE_DATABASE_TIMEOUT_MS = 3_000;

@Injectable()
export class MetricsScrape {
  private readonly logger = new Logger('Metrics');

  constructor(
    private readonly metrics: Metrics,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: MetricsRepository,
    private readonly releases: ReleaseRegistry,
    private readonly database: DatabaseAvailability,
  ) {}

  /** The Prometheus text of this instance's metrics, the scrape-time gauges brought up to date first. */
  async render(): Promise<string> {
    const now = this.clock.now();
    let snapshot: OperationalSnapshot | null = null;
    try {
      snapshot = await withTimeout(this.repo.snapshot(this.db.em(), now), SCRAPE_DATABASE_TIMEOUT_MS, 'the metrics reads');
    } catch (e) {
      // The database away: the outage monitor logs that once; a scrape every few seconds must not repeat it.
      if (!this.database.report(e, false)) this.logger.warn(`metrics: stored state not read: ${(e as Error).message}`);
    }
    const builtin = this.releases.builtinRelease.ref;
    this.metrics.scraped({ builtin, tenants: this.releases.tenantReleases(), pool: this.db.poolUsage(), snapshot, now });
    return this.metrics.registry.metrics();
  }
}
