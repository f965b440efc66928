/**
 * What a scrape reads besides the counters: the releases loaded on this instance, the pool, and the stored state
 * (review queue, backlogs, integrity) in a few index reads, bounded in time so that a slow database leaves the
 * process's own metrics scrapeable (metrics_database_up then says 0).
 *
 * /metrics may be open (no METRICS_TOKEN): a flood of scrapes must not take the request pool from decisions. So the
 * stored state is read by one scrape at a time (concurrent scrapes await the same read) and its result is reused for
 * SNAPSHOT_REUSE_MS: at most one set of reads per SNAPSHOT_REUSE_MS, however many scrapes arrive.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetricsRepository, withTimeout, type Clock, type Database, type OperationalSnapshot } from '../../../libs/persistence/index.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { CLOCK, DATABASE } from '../tokens.js';
import { Metrics } from './metrics.js';

/** Well inside Prometheus's default scrape timeout (10 s). */
export const SCRAPE_DATABASE_TIMEOUT_MS = 3_000;
/** How long one read of the stored state serves later scrapes (README "Metrics"); Prometheus scrapes every 15 s or so. */
export const SNAPSHOT_REUSE_MS = 2_000;

@Injectable()
export class MetricsScrape {
  private readonly logger = new Logger('Metrics');
  /** The read under way, if any: every scrape meanwhile awaits it (single flight). */
  private reading?: Promise<OperationalSnapshot | null>;
  /** The last read's result and when it was read (clock time), reused for SNAPSHOT_REUSE_MS. */
  private last?: { at: number; snapshot: OperationalSnapshot | null };

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
    const snapshot = await this.snapshot();
    const now = this.clock.now();
    const builtin = this.releases.builtinRelease.ref;
    this.metrics.scraped({ builtin, tenants: this.releases.tenantReleases(), pool: this.db.poolUsage(), snapshot, now });
    return this.metrics.registry.metrics();
  }

  /** The stored state: the last read if it is recent, else the read under way, else a new read. */
  private snapshot(): Promise<OperationalSnapshot | null> {
    const now = this.clock.now().getTime();
    if (this.last && now - this.last.at < SNAPSHOT_REUSE_MS && now >= this.last.at) return Promise.resolve(this.last.snapshot);
    this.reading ??= this.read(new Date(now)).finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(now: Date): Promise<OperationalSnapshot | null> {
    let snapshot: OperationalSnapshot | null = null;
    try {
      snapshot = await withTimeout(this.repo.snapshot(this.db.em(), now), SCRAPE_DATABASE_TIMEOUT_MS, 'the metrics reads');
    } catch (e) {
      // The database away: the outage monitor logs that once; a scrape every few seconds must not repeat it.
      if (!this.database.report(e, false)) this.logger.warn({ msg: 'metrics: stored state not read', err: e });
    }
    // A failed read is reused too: during an outage, scrapes must not each wait for the timeout.
    this.last = { at: now.getTime(), snapshot };
    return snapshot;
  }
}
