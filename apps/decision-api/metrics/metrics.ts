/**
 * Every metric the service exports, defined here and nowhere else (README "Metrics" lists them; docs/grafana and
 * docs/prometheus use only these names, metrics-docs.test.ts checks it). Each app owns a prom-client Registry of its
 * own, never the global one, so two apps in one process (tests, a second instance) do not collide.
 *
 * What a label may hold: tenant ids, decision type names, outcomes, release names and versions and reason codes (all
 * of them names a tenant or the operator chose, bounded by the releases uploaded), route templates (never raw paths),
 * status codes. Never a key id, a case field, an amount, an error message or anything a caller typed freely.
 */
import { Injectable } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OperationalSnapshot, PoolUsage } from '../../../libs/persistence/index.js';
import type { AuthedRequest } from '../auth/roles.js';

/**
 * Series one labelled metric may hold. Labels come from bounded sets (tenants, releases, reason codes), but a tenant
 * uploading release after release must not grow this process's memory without end: past the bound, new label sets
 * are counted under one series whose labels all read `_overflow`.
 */
export const MAX_SERIES_PER_METRIC = 10_000;
export const OVERFLOW = '_overflow';

/** Seconds: decisions take milliseconds; the slow tail (features over a large history, a policy at its budget) seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Label children by a key the caller builds, created once; later calls are one Map lookup (the decision hot path). */
class Children<C> {
  private readonly map = new Map<string, C>();
  private overflow?: C;

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Record<string, string>) => C,
  ) {}

  get(key: string, values: () => readonly string[]): C {
    let c = this.map.get(key);
    if (c) return c;
    if (this.map.size >= MAX_SERIES_PER_METRIC) {
      this.overflow ??= this.make(Object.fromEntries(this.labelNames.map((n) => [n, OVERFLOW])));
      return this.overflow;
    }
    const v = values();
    c = this.make(Object.fromEntries(this.labelNames.map((n, i) => [n, v[i]!])));
    this.map.set(key, c);
    return c;
  }
}

type CounterChild = { inc(n?: number): void };
type HistogramChild = { observe(v: number): void };

function counterChildren(c: Counter<string>, names: readonly string[]): Children<CounterChild> {
  return new Children(names, (labels) => c.labels(labels));
}

function histogramChildren(h: Histogram<string>, names: readonly string[]): Children<HistogramChild> {
  return new Children(names, (labels) => h.labels(labels));
}

/** Which limit refused a request (the per-key rate, or the per-address budget of failed credentials). */
export type RateLimit = 'api_key' | 'failed_auth';
export type ShadowResult = 'same' | 'changed' | 'error' | 'not_stored';
export type Job = 'payout' | 'webhook_delivery';

const P = 'decision_platform_';

@Injectable()
export class Metrics {
  readonly registry = new Registry();

  private readonly decisions = new Counter({
    name: `${P}decisions_total`,
    help: 'Decisions stored, by tenant, decision type, outcome and release (name@version)',
    labelNames: ['tenant', 'type', 'outcome', 'release'],
    registers: [this.registry],
  });
  private readonly decisionReasons = new Counter({
    name: `${P}decision_reasons_total`,
    help: 'Reason codes of stored decisions (one per reason of each decision)',
    labelNames: ['tenant', 'type', 'outcome', 'reason'],
    registers: [this.registry],
  });
  private readonly evaluation = new Histogram({
    name: `${P}decision_evaluation_seconds`,
    help: "Evaluating a case on the type's pipeline (policy, packs, features), without validation or storage",
    labelNames: ['tenant', 'type'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly decisionRequest = new Histogram({
    name: `${P}decision_request_seconds`,
    help: 'A decision request end to end (from its first byte to the answer sent), 2xx answers only, replays included',
    labelNames: ['tenant', 'type'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: `${P}http_requests_total`,
    help: 'HTTP answers, by method, route template (unmatched: no route) and status code',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: `${P}http_request_duration_seconds`,
    help: 'HTTP requests end to end, by method and route template',
    labelNames: ['method', 'route'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly replays = new Counter({
    name: `${P}idempotent_replays_total`,
    help: 'Requests answered with the stored answer of an earlier request under the same Idempotency-Key',
    labelNames: ['tenant', 'route'],
    registers: [this.registry],
  });
  private readonly rateLimited = new Counter({
    name: `${P}rate_limited_total`,
    help: 'Requests refused 429 RATE_LIMITED, by limit (api_key: the per-key rate; failed_auth: the per-address budget of failed credentials)',
    labelNames: ['limit'],
    registers: [this.registry],
  });
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

  // Computed when scraped (MetricsScrape): what is stored or loaded now, not counted by this instance.
  private readonly activeRelease = new Gauge({
    name: `${P}active_release_info`,
    help: 'The release deciding for each tenant that has activated one (1; release and version as labels)',
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

  private readonly decisionChildren = counterChildren(this.decisions, ['tenant', 'type', 'outcome', 'release']);
  private readonly reasonChildren = counterChildren(this.decisionReasons, ['tenant', 'type', 'outcome', 'reason']);
  private readonly evaluationChildren = histogramChildren(this.evaluation, ['tenant', 'type']);
  private readonly decisionRequestChildren = histogramChildren(this.decisionRequest, ['tenant', 'type']);
  private readonly httpChildren = counterChildren(this.httpRequests, ['method', 'route', 'status']);
  private readonly httpDurationChildren = histogramChildren(this.httpDuration, ['method', 'route']);
  private readonly replayChildren = counterChildren(this.replays, ['tenant', 'route']);
  private readonly rateLimitedChildren = {
    api_key: this.rateLimited.labels({ limit: 'api_key' }),
    failed_auth: this.rateLimited.labels({ limit: 'failed_auth' }),
  } satisfies Record<RateLimit, CounterChild>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Present from the start at 0: an alert on rate() sees the first refusal, not a series appearing.
    for (const c of Object.values(this.rateLimitedChildren)) c.inc(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A stored decision (counted once, when committed: a replay is counted by idempotentReplay instead). */
  decided(tenant: string, type: string, release: string, outcome: string, reasons: readonly { code: string }[]): void {
    const key = `${tenant}\n${type}\n${outcome}`;
    this.decisionChildren.get(`${key}\n${release}`, () => [tenant, type, outcome, release]).inc();
    for (const r of reasons) this.reasonChildren.get(`${key}\n${r.code}`, () => [tenant, type, outcome, r.code]).inc();
  }

  /** Seconds one pipeline evaluation took (performance.now() differences / 1000). */
  evaluated(tenant: string, type: string, seconds: number): void {
    this.evaluationChildren.get(`${tenant}\n${type}`, () => [tenant, type]).observe(seconds);
  }

  idempotentReplay(tenant: string, route: string): void {
    this.replayChildren.get(`${tenant}\n${route}`, () => [tenant, route]).inc();
  }

  /** One call at each refusal point (auth guard, failed-credential limiter): whichever limiter refuses. */
  rateLimitRefused(limit: RateLimit): void {
    this.rateLimitedChildren[limit].inc();
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
    this.httpChildren.get(`${key} ${status}`, () => [method, route, String(status)]).inc();
    this.httpDurationChildren.get(key, () => [method, route]).observe(seconds);
    // Only answered decisions: the type is then one of a release's (a 404's type is whatever the caller typed).
    if (method === 'POST' && status < 300 && (route === '/v1/decisions/:type' || route === '/v1/decisions/refund')) {
      const tenant = (req as FastifyRequest & AuthedRequest).principal?.tenant;
      if (tenant === undefined) return;
      const type = route === '/v1/decisions/refund' ? 'refund' : (req.params as { type: string }).type;
      this.decisionRequestChildren.get(`${tenant}\n${type}`, () => [tenant, type]).observe(seconds);
    }
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
