/**
 * Every metric the service exports, defined here and nowhere else (README "Metrics" lists them; docs/grafana and
 * docs/prometheus use only these names, metrics-docs.test.ts checks it). Each app owns a prom-client Registry of its
 * own, never the global one, so two apps in one process (tests, a second instance) do not collide.
 *
 * What a label may hold: tenant ids, decision type names, outcomes, release names and versions and reason codes (all
 * of them names a tenant or the operator chose, bounded by the releases uploaded; a reason code only when it looks
 * like one, else `_other`), route templates (never raw paths),
 * status codes. Never a key id, a case field, an amount, an error message or anything a caller typed freely.
 */
import { METHODS } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { OperationalSnapshot, PoolUsage } from '../../../libs/persistence/index.js';
import type { AuthedRequest } from '../auth/roles.js';

/**
 * Series one labelled metric may hold. Labels come from bounded sets (tenants, releases, reason codes), but a tenant
 * uploading release after release must not grow this process's memory without end: past the bound, new label sets
 * are counted under one series whose labels all read `_overflow`.
 */
export const MAX_SERIES_PER_METRIC = 10_000;
/**
 * Series one tenant may hold in a metric labelled by tenant: one tenant's many releases or reason codes must not push
 * the others into `_overflow`. Past it, that tenant's new label sets share one series per tenant (the tenant kept,
 * every other label `_overflow`).
 */
export const MAX_SERIES_PER_TENANT = 1_000;
export const OVERFLOW = '_overflow';
/** A reason code a policy returned that is not an upper-case code (REASON_LABEL) is counted under this label. */
export const OTHER_REASON = '_other';
/** What a reason code must look like to be a label of its own: a policy may return any string as a code. */
const REASON_LABEL = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Seconds: decisions take milliseconds; the slow tail (features over a large history, a policy at its budget) seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Label children by a key the caller builds, created once; later calls are one Map lookup (the decision hot path).
 * Past MAX_SERIES_PER_METRIC distinct keys, new ones share one child whose labels all read `_overflow`.
 */
class Children<C> {
  private readonly map = new Map<string, C>();
  private overflow?: C;
  /** The `tenant` label's position (-1: none), series per tenant, and each full tenant's overflow series. */
  private readonly tenantIndex: number;
  private readonly perTenant = new Map<string, number>();
  private readonly tenantOverflow = new Map<string, C>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Record<string, string>) => C,
  ) {
    this.tenantIndex = labelNames.indexOf('tenant');
  }

  get(key: string, values: () => readonly string[]): C {
    let c = this.map.get(key);
    if (c) return c;
    if (this.map.size >= MAX_SERIES_PER_METRIC) {
      this.overflow ??= this.make(Object.fromEntries(this.labelNames.map((n) => [n, OVERFLOW])));
      return this.overflow;
    }
    const v = values();
    if (this.tenantIndex >= 0) {
      const tenant = v[this.tenantIndex]!;
      const n = this.perTenant.get(tenant) ?? 0;
      if (n >= MAX_SERIES_PER_TENANT) {
        let o = this.tenantOverflow.get(tenant);
        if (!o) {
          o = this.make(Object.fromEntries(this.labelNames.map((name) => [name, name === 'tenant' ? tenant : OVERFLOW])));
          this.tenantOverflow.set(tenant, o);
        }
        return o;
      }
      this.perTenant.set(tenant, n + 1);
    }
    c = this.make(Object.fromEntries(this.labelNames.map((n, i) => [n, v[i]!])));
    this.map.set(key, c);
    return c;
  }

  *all(): Generator<C> {
    yield* this.map.values();
    yield* this.tenantOverflow.values();
    if (this.overflow) yield this.overflow;
  }
}

/** What prom-client's Registry asks of a metric: its name, and its samples when scraped. */
interface Exported {
  readonly name: string;
  get(): Promise<{ name: string; help: string; type: string; values: { labels: Record<string, string>; value: number; metricName?: string }[]; aggregator: string }>;
  reset(): void;
}

function register(registry: Registry, metric: Exported): void {
  registry.registerMetric(metric as unknown as Metric);
}

/**
 * A counter whose children are plain numbers. prom-client's own children hash and validate their labels on every
 * inc() (microseconds, per decision several times); these add to a number, and the text is made when scraped.
 */
class HotCounter implements Exported {
  private readonly children: Children<{ labels: Record<string, string>; value: number }>;

  constructor(
    registry: Registry,
    readonly name: string,
    private readonly help: string,
    labelNames: readonly string[],
  ) {
    this.children = new Children(labelNames, (labels) => ({ labels, value: 0 }));
    register(registry, this);
  }

  /** The child for `key` (the label values joined), made from `values()` the first time. */
  child(key: string, values: () => readonly string[]): { value: number } {
    return this.children.get(key, values);
  }

  get() {
    const values = [...this.children.all()].map((c) => ({ labels: c.labels, value: c.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' });
  }

  reset(): void {
    for (const c of this.children.all()) c.value = 0;
  }
}

class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]!) i++;
    if (i < this.bounds.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** A histogram kept as per-bucket numbers (see HotCounter); cumulative buckets, _sum and _count made when scraped. */
class HotHistogram implements Exported {
  private readonly children: Children<HistogramSeries>;

  constructor(
    registry: Registry,
    readonly name: string,
    private readonly help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    this.children = new Children(labelNames, (labels) => new HistogramSeries(labels, bounds));
    register(registry, this);
  }

  child(key: string, values: () => readonly string[]): HistogramSeries {
    return this.children.get(key, values);
  }

  get() {
    const values: { labels: Record<string, string>; value: number; metricName: string }[] = [];
    for (const s of this.children.all()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: String(le) }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }

  reset(): void {
    for (const s of this.children.all()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** Which limit refused a request (the per-key rate, or the per-address budget of failed credentials). */
export type RateLimit = 'api_key' | 'failed_auth';
export type ShadowResult = 'same' | 'changed' | 'error' | 'not_stored';
export type Job = 'payout' | 'webhook_delivery';

const P = 'decision_platform_';
const KNOWN_METHODS = new Set(METHODS);

@Injectable()
export class Metrics {
  readonly registry = new Registry();

  // Counted on the request path: plain numbers (HotCounter, HotHistogram), turned into text when scraped.
  private readonly decisions = new HotCounter(
    this.registry,
    `${P}decisions_total`,
    'Decisions stored, by tenant, decision type, outcome and release (name@version)',
    ['tenant', 'type', 'outcome', 'release'],
  );
  private readonly decisionReasons = new HotCounter(
    this.registry,
    `${P}decision_reasons_total`,
    'Reason codes of stored decisions (one per reason of each decision)',
    ['tenant', 'type', 'outcome', 'reason'],
  );
  private readonly evaluation = new HotHistogram(
    this.registry,
    `${P}decision_evaluation_seconds`,
    "Evaluating a case on the type's pipeline (policy, packs, features), without validation or storage",
    ['tenant', 'type'],
    LATENCY_BUCKETS,
  );
  private readonly decisionRequest = new HotHistogram(
    this.registry,
    `${P}decision_request_seconds`,
    'A decision request from when Fastify has it (its headers parsed) to the answer sent, 2xx answers only, replays included',
    ['tenant', 'type'],
    LATENCY_BUCKETS,
  );
  private readonly httpRequests = new HotCounter(
    this.registry,
    `${P}http_requests_total`,
    'HTTP answers, by method, route template (unmatched: no route) and status code',
    ['method', 'route', 'status'],
  );
  private readonly httpDuration = new HotHistogram(this.registry, `${P}http_request_duration_seconds`, 'HTTP requests end to end, by method and route template', ['method', 'route'], LATENCY_BUCKETS);
  private readonly replays = new HotCounter(
    this.registry,
    `${P}idempotent_replays_total`,
    'Requests answered with the stored answer of an earlier request under the same Idempotency-Key',
    ['tenant', 'route'],
  );
  private readonly rateLimited = new HotCounter(
    this.registry,
    `${P}rate_limited_total`,
    'Requests refused 429 RATE_LIMITED, by limit (api_key: the per-key rate; failed_auth: the per-address budget of failed credentials)',
    ['limit'],
  );
  private readonly shadowEvaluations = new Counter({
    name: `${P}shadow_evaluations_total`,
    help: 'Shadow evaluations of live decisions: same or changed decision, error (the shadow release failed to decide), not_stored',
    labelNames: ['tenant', 'result'],
    registers: [this.registry],
  });
  private readonly shadowDropped = new Counter({
    name: `${P}shadow_dropped_total`,
    help: 'Decisions not shadow-evaluated because the shadow queue was full',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly activations = new Counter({
    name: `${P}release_activations_total`,
    help: 'Release activations made through this instance (action: activate or rollback)',
    labelNames: ['tenant', 'action'],
    registers: [this.registry],
  });
  private readonly jobRetries = new Counter({
    name: `${P}job_retries_total`,
    help: 'Background work that failed and was scheduled again (payout: a provider call; webhook_delivery: an attempt)',
    labelNames: ['job'],
    registers: [this.registry],
  });
  private readonly jobFailures = new Counter({
    name: `${P}job_failures_total`,
    help: 'Background work given up for good (payout: a refund FAILED after its last attempt)',
    labelNames: ['job'],
    registers: [this.registry],
  });
  private readonly webhookDelivered = new Counter({
    name: `${P}webhook_deliveries_total`,
    help: 'Webhook attempts, by result (delivered: a 2xx; failed: anything else, retried)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  private readonly webhookWorker = new Gauge({
    name: `${P}webhook_worker_running`,
    help: 'PostgreSQL with WEBHOOK_WORKER: 1 while the webhook worker thread runs (started when a delivery is due, ended after WEBHOOK_WORKER_IDLE_MS idle)',
    registers: [this.registry],
  });
  private readonly webhookWorkerStarts = new Counter({
    name: `${P}webhook_worker_starts_total`,
    help: 'Webhook worker threads started (a fast-rising count: WEBHOOK_WORKER_IDLE_MS is shorter than the gaps between deliveries)',
    registers: [this.registry],
  });

  // Computed when scraped (MetricsScrape): what is stored or loaded now, not counted by this instance.
  private readonly activeRelease = new Gauge({
    name: `${P}active_release_info`,
    help: 'The release deciding for each tenant this instance holds activation state for (1; release and version as labels)',
    labelNames: ['tenant', 'release', 'version'],
    registers: [this.registry],
  });
  private readonly releaseUnavailable = new Gauge({
    name: `${P}active_release_unavailable`,
    help: "1 for a tenant whose activated release this instance cannot load (its decisions are refused 503)",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly builtinRelease = new Gauge({
    name: `${P}builtin_release_info`,
    help: 'The built-in release, deciding for every tenant that never activated one (1)',
    labelNames: ['release', 'version'],
    registers: [this.registry],
  });
  private readonly reviewDepth = new Gauge({ name: `${P}review_queue_depth`, help: 'Open review items', labelNames: ['tenant'], registers: [this.registry] });
  private readonly reviewOverdue = new Gauge({
    name: `${P}review_queue_overdue`,
    help: 'Open review items past their SLA deadline',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly reviewOldest = new Gauge({
    name: `${P}review_queue_oldest_age_seconds`,
    help: 'Age of the oldest open review item',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly outboxUnrelayed = new Gauge({
    name: `${P}outbox_unrelayed_events`,
    help: 'Events committed but not yet numbered by the outbox relay (not yet handed to webhooks or NATS)',
    registers: [this.registry],
  });
  private readonly outboxLag = new Gauge({
    name: `${P}outbox_lag_seconds`,
    help: 'Age of the oldest event the relay has not numbered yet (0: none)',
    registers: [this.registry],
  });
  private readonly natsPending = new Gauge({
    name: `${P}outbox_nats_pending_events`,
    help: 'Events not yet acknowledged by NATS JetStream (NATS_URL only)',
    registers: [this.registry],
  });
  private readonly webhookPending = new Gauge({
    name: `${P}webhook_pending_deliveries`,
    help: 'Webhook deliveries still to send',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly webhookFailing = new Gauge({
    name: `${P}webhook_failing_deliveries`,
    help: 'Pending webhook deliveries that failed at least once (retried with backoff)',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly webhookLag = new Gauge({
    name: `${P}webhook_lag_seconds`,
    help: 'Age of the oldest pending webhook delivery',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly integrityViolated = new Gauge({
    name: `${P}ledger_integrity_violated_accounts`,
    help: 'Ledger accounts whose Reward Integrity is false now',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly pool = new Gauge({
    name: `${P}db_pool_connections`,
    help: 'PostgreSQL pool connections by state (total open, idle, in_use) and its size (max)',
    labelNames: ['state'],
    registers: [this.registry],
  });
  private readonly poolWaiting = new Gauge({
    name: `${P}db_pool_waiting_requests`,
    help: 'Requests waiting for a pooled PostgreSQL connection',
    registers: [this.registry],
  });
  private readonly scrapeDatabase = new Gauge({
    name: `${P}metrics_database_up`,
    help: "1 when this scrape's database reads (review queue, backlogs, integrity) answered; 0: those gauges are absent",
    registers: [this.registry],
  });

  private readonly rateLimitedChildren = {
    // Present from the start at 0: an alert on rate() sees the first refusal, not a series appearing.
    api_key: this.rateLimited.child('api_key', () => ['api_key']),
    failed_auth: this.rateLimited.child('failed_auth', () => ['failed_auth']),
  } satisfies Record<RateLimit, { value: number }>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A stored decision (counted once, when committed: a replay is counted by idempotentReplay instead). */
  decided(tenant: string, type: string, release: string, outcome: string, reasons: readonly { code: string }[]): void {
    const key = `${tenant}\n${type}\n${outcome}`;
    this.decisions.child(`${key}\n${release}`, () => [tenant, type, outcome, release]).value++;
    for (const r of reasons) {
      const reason = REASON_LABEL.test(r.code) ? r.code : OTHER_REASON;
      this.decisionReasons.child(`${key}\n${reason}`, () => [tenant, type, outcome, reason]).value++;
    }
  }

  /** Seconds one pipeline evaluation took (performance.now() differences / 1000). */
  evaluated(tenant: string, type: string, seconds: number): void {
    this.evaluation.child(`${tenant}\n${type}`, () => [tenant, type]).observe(seconds);
  }

  idempotentReplay(tenant: string, route: string): void {
    this.replays.child(`${tenant}\n${route}`, () => [tenant, route]).value++;
  }

  /** One call at each refusal point (auth guard, failed-credential limiter): whichever limiter refuses. */
  rateLimitRefused(limit: RateLimit): void {
    this.rateLimitedChildren[limit].value++;
  }

  shadowEvaluated(tenant: string, result: ShadowResult): void {
    this.shadowEvaluations.labels({ tenant, result }).inc();
  }

  shadowDrop(tenant: string): void {
    this.shadowDropped.labels({ tenant }).inc();
  }

  releaseActivated(tenant: string, action: 'activate' | 'rollback'): void {
    this.activations.labels({ tenant, action }).inc();
  }

  jobRetried(job: Job): void {
    this.jobRetries.labels({ job }).inc();
  }

  jobFailed(job: Job): void {
    this.jobFailures.labels({ job }).inc();
  }

  /** Webhook attempts finished by the dispatcher (in this thread or its worker's). */
  webhookAttempts(delivered: number, failed: number): void {
    if (delivered > 0) this.webhookDelivered.labels({ result: 'delivered' }).inc(delivered);
    if (failed > 0) {
      this.webhookDelivered.labels({ result: 'failed' }).inc(failed);
      this.jobRetries.labels({ job: 'webhook_delivery' }).inc(failed);
    }
  }

  webhookWorkerRunning(running: boolean): void {
    this.webhookWorker.set(running ? 1 : 0);
  }

  webhookWorkerStarted(): void {
    this.webhookWorkerStarts.inc();
    this.webhookWorker.set(1);
  }

  /** Counts every HTTP answer, and times decision requests by type (the onResponse hook of the app's Fastify). */
  instrument(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', (req, reply, done) => {
      this.answered(req, reply);
      done();
    });
  }

  private answered(req: FastifyRequest, reply: FastifyReply): void {
    // The route template, never the raw path (ids in paths would be a series each).
    const route = req.routeOptions.url ?? 'unmatched';
    const method = req.method;
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    const key = `${method} ${route}`;
    this.httpRequests.child(`${key} ${status}`, () => [method, route, String(status)]).value++;
    this.httpDuration.child(key, () => [method, route]).observe(seconds);
    // Only answered decisions: the type is then one of a release's (a 404's type is whatever the caller typed).
    if (method === 'POST' && status < 300 && (route === '/v1/decisions/:type' || route === '/v1/decisions/refund')) {
      const tenant = (req as FastifyRequest & AuthedRequest).principal?.tenant;
      if (tenant === undefined) return;
      const type = route === '/v1/decisions/refund' ? 'refund' : (req.params as { type: string }).type;
      this.decisionRequest.child(`${tenant}\n${type}`, () => [tenant, type]).observe(seconds);
    }
  }

  /**
   * An answer made below the routes (app.factory.ts): the router's (400 MALFORMED_URL, 414) or Node's parser's (400,
   * 408, 414, 431, written on the bare socket), which no onResponse hook sees. Route `unmatched`; a method Node does
   * not know (the parser's raw bytes) is counted as `other`, so a caller cannot mint series.
   */
  unrouted(method: string | undefined, status: number, seconds = 0): void {
    const m = method !== undefined && KNOWN_METHODS.has(method) ? method : 'other';
    const key = `${m} unmatched`;
    this.httpRequests.child(`${key} ${status}`, () => [m, 'unmatched', String(status)]).value++;
    this.httpDuration.child(key, () => [m, 'unmatched']).observe(seconds);
  }

  /** Sets the gauges computed at scrape time from what is loaded (releases) and stored (snapshot; null: not readable). */
  scraped(s: {
    builtin: { name: string; version: string };
    tenants: Iterable<{ tenant: string; release: { ref: { name: string; version: string } } | null }>;
    pool: PoolUsage | undefined;
    snapshot: OperationalSnapshot | null;
    now: Date;
  }): void {
    this.builtinRelease.reset();
    this.builtinRelease.set({ release: s.builtin.name, version: s.builtin.version }, 1);
    this.activeRelease.reset();
    this.releaseUnavailable.reset();
    for (const t of s.tenants) {
      if (t.release) this.activeRelease.set({ tenant: t.tenant, release: t.release.ref.name, version: t.release.ref.version }, 1);
      else this.releaseUnavailable.set({ tenant: t.tenant }, 1);
    }
    this.pool.reset();
    this.poolWaiting.reset();
    if (s.pool) {
      this.pool.set({ state: 'total' }, s.pool.total);
      this.pool.set({ state: 'idle' }, s.pool.idle);
      this.pool.set({ state: 'in_use' }, s.pool.total - s.pool.idle);
      this.pool.set({ state: 'max' }, s.pool.max);
      this.poolWaiting.set(s.pool.waiting);
    }
    for (const g of [this.reviewDepth, this.reviewOverdue, this.reviewOldest, this.webhookPending, this.webhookFailing, this.webhookLag, this.integrityViolated]) g.reset();
    for (const g of [this.outboxUnrelayed, this.outboxLag, this.natsPending]) g.reset();
    this.scrapeDatabase.set(s.snapshot ? 1 : 0);
    if (!s.snapshot) return;
    const age = (d: Date | null) => (d ? Math.max(0, (s.now.getTime() - d.getTime()) / 1000) : 0);
    for (const r of s.snapshot.reviews) {
      this.reviewDepth.set({ tenant: r.tenant }, r.open);
      this.reviewOverdue.set({ tenant: r.tenant }, r.overdue);
      this.reviewOldest.set({ tenant: r.tenant }, age(r.oldestCreatedAt));
    }
    for (const w of s.snapshot.webhooks) {
      this.webhookPending.set({ tenant: w.tenant }, w.pending);
      this.webhookFailing.set({ tenant: w.tenant }, w.failing);
      this.webhookLag.set({ tenant: w.tenant }, age(w.oldestCreatedAt));
    }
    this.outboxUnrelayed.set(s.snapshot.outbox.unrelayed);
    this.outboxLag.set(age(s.snapshot.outbox.oldestUnrelayedAt));
    this.natsPending.set(s.snapshot.outbox.natsPending);
    for (const v of s.snapshot.integrityViolations) this.integrityViolated.set({ tenant: v.tenant }, v.accounts);
  }

  /** Every metric name this service registers (the docs test checks dashboards and alerts against it). */
  names(): string[] {
    return this.registry.getMetricsAsArray().map((m) => m.name);
  }
}
