/**
 * A flood of scrapes reads the stored state once: concurrent scrapes share the read under way, and a read's result
 * serves later scrapes for SNAPSHOT_REUSE_MS (on the injected clock), a failed read too.
 */
import type { Clock, Database, MetricsRepository, OperationalSnapshot } from '../../../libs/persistence/index.js';
import type { DatabaseAvailability } from '../health/database-availability.js';
import type { ReleaseRegistry } from '../releases/release.registry.js';
import { parsePrometheusText } from '../../../test/support/prometheus-text.js';
import { Metrics } from './metrics.js';
import { MetricsScrape, SNAPSHOT_REUSE_MS } from './metrics-scrape.js';

const snapshot = (open: number): OperationalSnapshot => ({
  reviews: [{ tenant: 'acme', open, overdue: 0, oldestCreatedAt: null }],
  webhooks: [],
  outbox: { unrelayed: 0, oldestUnrelayedAt: null, natsPending: 0 },
  integrityViolations: [],
});

function setup() {
  let t = Date.parse('2026-03-01T00:00:00Z');
  const clock: Clock = { now: () => new Date(t) };
  const reads: { resolve: (s: OperationalSnapshot) => void; reject: (e: Error) => void }[] = [];
  const repo = {
    snapshot: () => new Promise<OperationalSnapshot>((resolve, reject) => reads.push({ resolve, reject })),
  } as unknown as MetricsRepository;
  const db = { em: () => ({}), poolUsage: () => undefined } as unknown as Database;
  const releases = { builtinRelease: { ref: { name: 'default', version: '1.0.0' } }, tenantReleases: () => [] } as unknown as ReleaseRegistry;
  const availability = { report: () => undefined } as unknown as DatabaseAvailability;
  const metrics = new Metrics();
  const scrape = new MetricsScrape(metrics, db, clock, repo, releases, availability);
  const depth = (text: string) => parsePrometheusText(text).value('decision_platform_review_queue_depth', { tenant: 'acme' });
  return { scrape, reads, depth, advance: (ms: number) => (t += ms) };
}

describe('MetricsScrape', () => {
  it('concurrent scrapes await one read of the stored state', async () => {
    const { scrape, reads, depth } = setup();
    const scrapes = Array.from({ length: 20 }, () => scrape.render());
    await Promise.resolve();
    expect(reads).toHaveLength(1);
    reads[0]!.resolve(snapshot(3));
    const texts = await Promise.all(scrapes);
    expect(texts.map(depth)).toEqual(Array(20).fill(3));
  });

  it(`reuses a read for ${SNAPSHOT_REUSE_MS} ms, then reads again`, async () => {
    const { scrape, reads, depth, advance } = setup();
    const first = scrape.render();
    await Promise.resolve();
    reads[0]!.resolve(snapshot(1));
    expect(depth(await first)).toBe(1);
    advance(SNAPSHOT_REUSE_MS - 1);
    expect(depth(await scrape.render())).toBe(1);
    expect(reads).toHaveLength(1);
    advance(1);
    const later = scrape.render();
    await Promise.resolve();
    expect(reads).toHaveLength(2);
    reads[1]!.resolve(snapshot(5));
    expect(depth(await later)).toBe(5);
  });

  it('reuses a failed read too (metrics_database_up 0), so an outage does not cost every scrape a timeout', async () => {
    const { scrape, reads, advance } = setup();
    const first = scrape.render();
    await Promise.resolve();
    reads[0]!.reject(new Error('connection refused'));
    expect(parsePrometheusText(await first).value('decision_platform_metrics_database_up')).toBe(0);
    advance(SNAPSHOT_REUSE_MS / 2);
    expect(parsePrometheusText(await scrape.render()).value('decision_platform_metrics_database_up')).toBe(0);
    expect(reads).toHaveLength(1);
  });
});
