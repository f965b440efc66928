/** Service configuration: read once from the environment, validated, every bad variable named at boot. */
import { join } from 'node:path';
import { parseDatabaseUrl } from '../../libs/persistence/index.js';
import { DEFAULT_EVALUATION_BUDGET, EVALUATION_STEPS_RANGE, MEMORY_MIB_RANGE } from '../../libs/policies/index.js';
import { parseTenantRetention, RETENTION_DAYS_RANGE, retentionDays, type RetentionPolicy } from '../../libs/privacy/index.js';
import { isValidRedactPath } from './logging/logger.js';
import { tracingEnabled, tracingProblems } from './tracing/settings.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AppConfig {
  port: number;
  host: string;
  /** Give memory back while the service is quiet (idle-compaction.ts): a full collection after a quiet interval. */
  idleCompaction: boolean;
  databaseUrl: string;
  adminToken: string | undefined;
  /** Bearer token GET /metrics requires; unset: /metrics is open on the service port. */
  metricsToken: string | undefined;
  /**
   * The service's public origin (`https://decisions.example.com`, no trailing slash): the `$id`s of the schemas served
   * at /schemas/… name it. Unset: the origin each request came to (its Host header).
   */
  publicBaseUrl: string | undefined;
  /**
   * Master secret of the pseudonyms (HMAC-SHA256 keyed per tenant) that replace case fields marked x-pii. Unset: one
   * generated into the database on first start (a warning says so): a dump of the database then holds it too.
   */
  pseudonymSecret: string | undefined;
  logLevel: LogLevel;
  /** Extra pino redact paths (LOG_REDACT, comma separated), on top of the defaults (logging/logger.ts). */
  logRedact: readonly string[];
  /** Human-readable log lines instead of JSON (LOG_PRETTY); unset: only when stdout is a terminal. */
  logPretty: boolean | undefined;
  /** Repository root holding rule-packs/, policies/bundles/ and releases/. */
  contentRoot: string;
  /** The console's built files (CONSOLE_ROOT; default <contentRoot>/dist/console), served at /console; `off`: not served. */
  consoleRoot: string | undefined;
  /** Requests per second allowed per API key, on average over a window of rateLimitWindowS seconds. 0 disables. */
  rateLimitPerKey: number;
  /** The per-key limit's window (fixed, shared by every instance): rateLimitPerKey × this many requests per window. */
  rateLimitWindowS: number;
  /** Share of a window's budget an instance leases from the shared store at once (libs/rate-limits). */
  rateLimitLeasePercent: number;
  /** While the shared rate-limit store does not answer, each instance allows the budget ÷ this (libs/rate-limits). */
  rateLimitFallbackInstances: number;
  /** `redis://…`: the rate-limit windows live in Redis (rate-limiter-flexible); unset: in PostgreSQL. */
  redisUrl: string | undefined;
  /** Prefix of the Redis keys of the rate-limit windows (several deployments may share one Redis). */
  rateLimitRedisPrefix: string;
  /** Failed credentials (API keys and ADMIN_TOKEN together) allowed per source address: refill per minute, and burst. */
  authFailuresPerMinute: number;
  authFailureBurst: number;
  dbPoolSize: number;
  /** Repeated statements run as named prepared statements (off for a pooler in transaction mode). */
  dbPreparedStatements: boolean;
  dbPipelineBegin: boolean;
  /** Longest wait for a pooled PostgreSQL connection, opening one included; then 503 DATABASE_UNAVAILABLE. */
  dbAcquireTimeoutMs: number;
  /** PostgreSQL statement_timeout on every pooled connection (the client gives up 2 s later if the server is mute). */
  dbStatementTimeoutMs: number;
  /** PostgreSQL idle_in_transaction_session_timeout on every pooled connection. */
  dbIdleInTransactionTimeoutMs: number;
  /** Readiness (and outage recovery) check: `select 1` on a connection of its own, given up after this long. */
  dbProbeTimeoutMs: number;
  /** Retry-After (seconds) on 503 DATABASE_UNAVAILABLE. */
  dbRetryAfterS: number;
  /** How often each instance polls for release activations (the fallback to LISTEN/NOTIFY, the only way on PGlite). */
  releasePollMs: number;
  /** LISTEN for activations on PostgreSQL (off behind a pooler that cannot hold a LISTEN, e.g. PgBouncer in transaction mode). */
  releaseListen: boolean;
  /**
   * How long an instance trusts a key it looked up before asking the database again. The safety net under the
   * revocation LISTEN (RELEASE_LISTEN governs both): at most 5 s, so a revoked key is refused everywhere within 5 s.
   */
  apiKeyCacheMs: number;
  /** A rotation's default overlap (seconds the old key keeps working), and the most a caller may ask for. */
  apiKeyRotationOverlapS: number;
  apiKeyRotationMaxOverlapS: number;
  /** Steps (Wasm instructions) one policy evaluation may run before it fails with EVALUATION_BUDGET_EXCEEDED. */
  policyEvaluationSteps: number;
  /** The most memory, in MiB, a policy's Wasm may grow to. */
  policyMemoryMiB: number;
  /** How often each instance marks open reviews past their SLA deadline as overdue (one `review.overdue` event each). */
  reviewOverdueSweepMs: number;
  /** How often the outbox relay looks for new events, and the webhook dispatcher for due deliveries. */
  outboxPollMs: number;
  /** Events the relay numbers per transaction. */
  outboxBatchSize: number;
  /** A webhook attempt is abandoned (and retried) after this long. */
  webhookTimeoutMs: number;
  /** Delay after a webhook's first failed attempt; it doubles per failure up to webhookRetryMaxMs. */
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
  /** Each retry delay is drawn from [d·(1−p/100), d]. */
  webhookRetryJitterPercent: number;
  /** Endpoints one instance sends to at the same time (each endpoint has at most one delivery in flight). */
  webhookConcurrency: number;
  /** PostgreSQL: send webhooks from a worker thread of their own (off the decisions' event loop). */
  webhookWorker: boolean;
  /** That worker ends after this long with nothing to send, and is started again when something is due. */
  webhookWorkerIdleMs: number;
  /** `nats://…`: publish every event to JetStream too; unset: no NATS. */
  natsUrl: string | undefined;
  /** The JetStream stream created (if missing) over `<natsSubjectPrefix>.>`. */
  natsStream: string;
  natsSubjectPrefix: string;
  /** The stream's de-duplication window (Nats-Msg-Id = event id): a republish after a crash within it is dropped. */
  natsDuplicateWindowMs: number;
  /** How long a publish waits for JetStream's acknowledgement before the event is left for the next try. */
  natsAckTimeoutMs: number;
  /** Who pays approved refunds: the in-process simulator or a Stripe-style HTTP API. */
  paymentProvider: 'simulated' | 'http';
  /** Simulated provider: how long each call takes, what share of calls fails (retryable), and the seed deciding which. */
  simulatedProviderLatencyMs: number;
  simulatedProviderFailureRate: number;
  simulatedProviderSeed: number;
  /** HTTP provider: base URL (`/v1/refunds` is appended), optional bearer secret, and how long one call may take. */
  paymentProviderUrl: string | undefined;
  paymentProviderApiKey: string | undefined;
  paymentProviderTimeoutMs: number;
  /** How often the payout worker looks for due refunds when it has nothing in flight. */
  payoutPollMs: number;
  /** Refunds one instance executes at the same time; 0 runs no payout worker on this instance. */
  payoutConcurrency: number;
  /** Definite provider failures before a refund is FAILED (unreadable answers never fail it). */
  payoutMaxAttempts: number;
  /** First retry delay; doubled each attempt, jittered. */
  payoutBackoffMs: number;
  /** How long an attempt may be in flight before another worker takes the refund over (after a crash); longer than a call. */
  payoutLeaseMs: number;
  /** Days a decision's case and trace are kept (libs/privacy RetentionPolicy.defaultDays); then the purge removes them. */
  retentionDays: number;
  /** Per-tenant retention in days (`RETENTION_DAYS_TENANTS=acme=30,globex=90`), overriding retentionDays. */
  retentionDaysTenants: Readonly<Record<string, number>>;
  /** How often each instance purges what is past retention. */
  retentionSweepMs: number;
  /**
   * OpenTelemetry tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT set; telemetry.ts started the SDK): the service makes its
   * own spans. Off: no span is made and no OpenTelemetry call happens on a request.
   */
  tracing: boolean;
}

export class ConfigError extends Error {}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return def;
  }
  return n;
}

function rate(env: NodeJS.ProcessEnv, name: string, def: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    problems.push(`${name} must be a number from 0 to 1 (got "${raw}")`);
    return def;
  }
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean, problems: string[]): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  problems.push(`${name} must be true or false (got "${raw}")`);
  return def;
}

/** A URL for an error message: its password (`//user:secret@`) masked, since config errors reach the logs. */
export function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/\s]*):[^@/\s]*@/, '//$1:***@');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaults: Partial<AppConfig> = {}): AppConfig {
  const problems: string[] = [];
  const logLevel = (env.LOG_LEVEL ?? defaults.logLevel ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${String(logLevel)}")`);
  const databaseUrl = env.DATABASE_URL ?? defaults.databaseUrl ?? 'pglite://./data/pglite';
  try {
    parseDatabaseUrl(databaseUrl);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const adminToken = env.ADMIN_TOKEN ?? defaults.adminToken;
  if (adminToken !== undefined && adminToken.length > 0 && adminToken.length < 16) {
    problems.push('ADMIN_TOKEN must be at least 16 characters (or unset, which disables /v1/admin)');
  }
  const metricsToken = env.METRICS_TOKEN ?? defaults.metricsToken;
  if (metricsToken !== undefined && metricsToken.length > 0 && metricsToken.length < 16) {
    problems.push('METRICS_TOKEN must be at least 16 characters (or unset, which leaves /metrics open)');
  }
  const publicBaseUrl = publicOrigin(env.PUBLIC_BASE_URL ?? defaults.publicBaseUrl, problems);
  const pseudonymSecret = env.PSEUDONYM_SECRET ?? defaults.pseudonymSecret;
  if (pseudonymSecret !== undefined && pseudonymSecret.length > 0 && pseudonymSecret.length < 32) {
    problems.push('PSEUDONYM_SECRET must be at least 32 characters (or unset, which keeps a generated one in the database)');
  }
  const natsUrl = env.NATS_URL ?? defaults.natsUrl;
  if (natsUrl && !/^(nats|tls):\/\/[^\s]+$/.test(natsUrl)) problems.push(`NATS_URL must be nats://host:port or tls://host:port (got "${withoutPassword(natsUrl)}")`);
  const stream = env.NATS_STREAM ?? defaults.natsStream;
  if (stream !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(stream)) problems.push(`NATS_STREAM must be 1–64 of A-Z a-z 0-9 _ - (got "${stream}")`);
  const prefix = env.NATS_SUBJECT_PREFIX ?? defaults.natsSubjectPrefix;
  if (prefix !== undefined && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    problems.push(`NATS_SUBJECT_PREFIX must be dot-separated tokens of A-Z a-z 0-9 _ - (got "${prefix}")`);
  }
  const redisUrl = env.REDIS_URL || defaults.redisUrl || undefined;
  if (redisUrl && !(/^rediss?:\/\/[^\s]+$/.test(redisUrl) && URL.canParse(redisUrl))) problems.push(`REDIS_URL must be redis://host:port or rediss://host:port (got "${withoutPassword(redisUrl)}")`);
  const redisPrefix = env.RATE_LIMIT_REDIS_PREFIX || defaults.rateLimitRedisPrefix || 'decision-api:rate-limit';
  if (!/^[A-Za-z0-9:_.-]{1,100}$/.test(redisPrefix)) problems.push(`RATE_LIMIT_REDIS_PREFIX must be 1–100 of A-Z a-z 0-9 : _ . - (got "${redisPrefix}")`);
  const config: AppConfig = {
    port: int(env, 'PORT', defaults.port ?? 3000, 0, 65535, problems),
    host: env.HOST ?? defaults.host ?? '127.0.0.1',
    idleCompaction: bool(env, 'IDLE_COMPACTION', defaults.idleCompaction ?? true, problems),
    databaseUrl,
    adminToken: adminToken ? adminToken : undefined,
    metricsToken: metricsToken ? metricsToken : undefined,
    publicBaseUrl,
    pseudonymSecret: pseudonymSecret ? pseudonymSecret : undefined,
    logLevel,
    ...logConfig(env, defaults, problems),
    contentRoot: env.CONTENT_ROOT ?? defaults.contentRoot ?? process.cwd(),
    consoleRoot: consoleRoot(env, defaults),
    rateLimitPerKey: int(env, 'RATE_LIMIT_PER_KEY', defaults.rateLimitPerKey ?? 1000, 0, 1_000_000, problems),
    rateLimitWindowS: int(env, 'RATE_LIMIT_WINDOW_S', defaults.rateLimitWindowS ?? 10, 1, 3_600, problems),
    rateLimitLeasePercent: int(env, 'RATE_LIMIT_LEASE_PERCENT', defaults.rateLimitLeasePercent ?? 10, 1, 100, problems),
    rateLimitFallbackInstances: int(env, 'RATE_LIMIT_FALLBACK_INSTANCES', defaults.rateLimitFallbackInstances ?? 2, 1, 1_000, problems),
    redisUrl,
    rateLimitRedisPrefix: redisPrefix,
    authFailuresPerMinute: int(env, 'AUTH_FAILURES_PER_MINUTE', defaults.authFailuresPerMinute ?? 300, 1, 60_000, problems),
    authFailureBurst: int(env, 'AUTH_FAILURE_BURST', defaults.authFailureBurst ?? 20, 1, 10_000, problems),
    dbPoolSize: int(env, 'DB_POOL_SIZE', defaults.dbPoolSize ?? 8, 1, 500, problems),
    dbPreparedStatements: bool(env, 'DB_PREPARED_STATEMENTS', defaults.dbPreparedStatements ?? true, problems),
    dbPipelineBegin: bool(env, 'DB_PIPELINE_BEGIN', defaults.dbPipelineBegin ?? true, problems),
    dbAcquireTimeoutMs: int(env, 'DB_ACQUIRE_TIMEOUT_MS', defaults.dbAcquireTimeoutMs ?? 5_000, 100, 600_000, problems),
    dbStatementTimeoutMs: int(env, 'DB_STATEMENT_TIMEOUT_MS', defaults.dbStatementTimeoutMs ?? 10_000, 100, 3_600_000, problems),
    dbIdleInTransactionTimeoutMs: int(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', defaults.dbIdleInTransactionTimeoutMs ?? 10_000, 100, 3_600_000, problems),
    dbProbeTimeoutMs: int(env, 'DB_PROBE_TIMEOUT_MS', defaults.dbProbeTimeoutMs ?? 800, 50, 10_000, problems),
    dbRetryAfterS: int(env, 'DB_RETRY_AFTER_S', defaults.dbRetryAfterS ?? 2, 1, 3_600, problems),
    releasePollMs: int(env, 'RELEASE_POLL_MS', defaults.releasePollMs ?? 2000, 100, 60_000, problems),
    releaseListen: bool(env, 'RELEASE_LISTEN', defaults.releaseListen ?? true, problems),
    apiKeyCacheMs: int(env, 'API_KEY_CACHE_MS', defaults.apiKeyCacheMs ?? 2_000, 0, 5_000, problems),
    apiKeyRotationOverlapS: int(env, 'API_KEY_ROTATION_OVERLAP_S', defaults.apiKeyRotationOverlapS ?? 86_400, 0, 31_536_000, problems),
    apiKeyRotationMaxOverlapS: int(env, 'API_KEY_ROTATION_MAX_OVERLAP_S', defaults.apiKeyRotationMaxOverlapS ?? 604_800, 0, 31_536_000, problems),
    policyEvaluationSteps: int(
      env,
      'POLICY_EVALUATION_STEPS',
      defaults.policyEvaluationSteps ?? DEFAULT_EVALUATION_BUDGET.steps,
      EVALUATION_STEPS_RANGE.min,
      EVALUATION_STEPS_RANGE.max,
      problems,
    ),
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', defaults.outboxPollMs ?? 200, 10, 60_000, problems),
    outboxBatchSize: int(env, 'OUTBOX_BATCH_SIZE', defaults.outboxBatchSize ?? 500, 1, 10_000, problems),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', defaults.webhookTimeoutMs ?? 10_000, 100, 120_000, problems),
    webhookRetryBaseMs: int(env, 'WEBHOOK_RETRY_BASE_MS', defaults.webhookRetryBaseMs ?? 1_000, 10, 3_600_000, problems),
    webhookRetryMaxMs: int(env, 'WEBHOOK_RETRY_MAX_MS', defaults.webhookRetryMaxMs ?? 3_600_000, 10, 86_400_000, problems),
    webhookRetryJitterPercent: int(env, 'WEBHOOK_RETRY_JITTER_PERCENT', defaults.webhookRetryJitterPercent ?? 20, 0, 100, problems),
    webhookConcurrency: int(env, 'WEBHOOK_CONCURRENCY', defaults.webhookConcurrency ?? 16, 1, 1_000, problems),
    webhookWorker: bool(env, 'WEBHOOK_WORKER', defaults.webhookWorker ?? true, problems),
    webhookWorkerIdleMs: int(env, 'WEBHOOK_WORKER_IDLE_MS', defaults.webhookWorkerIdleMs ?? 60_000, 100, 86_400_000, problems),
    natsUrl: natsUrl ? natsUrl : undefined,
    natsStream: env.NATS_STREAM ?? defaults.natsStream ?? 'DECISIONS',
    natsSubjectPrefix: env.NATS_SUBJECT_PREFIX ?? defaults.natsSubjectPrefix ?? 'decisions',
    natsDuplicateWindowMs: int(env, 'NATS_DUPLICATE_WINDOW_MS', defaults.natsDuplicateWindowMs ?? 120_000, 1_000, 86_400_000, problems),
    natsAckTimeoutMs: int(env, 'NATS_ACK_TIMEOUT_MS', defaults.natsAckTimeoutMs ?? 5_000, 100, 120_000, problems),
    policyMemoryMiB: int(env, 'POLICY_MEMORY_MIB', defaults.policyMemoryMiB ?? DEFAULT_EVALUATION_BUDGET.memoryMiB, MEMORY_MIB_RANGE.min, MEMORY_MIB_RANGE.max, problems),
    reviewOverdueSweepMs: int(env, 'REVIEW_OVERDUE_SWEEP_MS', defaults.reviewOverdueSweepMs ?? 30_000, 10, 3_600_000, problems),
    ...payoutConfig(env, defaults, problems),
    ...retentionConfig(env, defaults, problems),
    ...tracingConfig(env, defaults, problems),
  };
  if (config.apiKeyRotationOverlapS > config.apiKeyRotationMaxOverlapS) {
    problems.push('API_KEY_ROTATION_OVERLAP_S must not exceed API_KEY_ROTATION_MAX_OVERLAP_S');
  }
  if (config.rateLimitPerKey * config.rateLimitWindowS > 1_000_000_000) problems.push('RATE_LIMIT_PER_KEY × RATE_LIMIT_WINDOW_S must not exceed 1,000,000,000 requests per window');
  if (config.webhookRetryMaxMs < config.webhookRetryBaseMs) problems.push('WEBHOOK_RETRY_MAX_MS must not be below WEBHOOK_RETRY_BASE_MS');
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}

/** Log redaction and format (README: Logs); every bad redact path is named. */
function logConfig(env: NodeJS.ProcessEnv, defaults: Partial<AppConfig>, problems: string[]) {
  let logRedact = defaults.logRedact ?? [];
  const raw = env.LOG_REDACT;
  if (raw !== undefined && raw.trim() !== '') {
    logRedact = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
    for (const p of logRedact) if (!isValidRedactPath(p)) problems.push(`LOG_REDACT: "${p}" is not a redact path (e.g. body.secret, *.token, headers["x-secret"])`);
  }
  const pretty = env.LOG_PRETTY;
  let logPretty = defaults.logPretty;
  if (pretty !== undefined && pretty !== '') {
    if (pretty === 'true' || pretty === 'false') logPretty = pretty === 'true';
    else problems.push(`LOG_PRETTY must be true or false, or unset for pretty lines only on a terminal (got "${pretty}")`);
  }
  return { logRedact, logPretty };
}

const PROVIDERS = ['simulated', 'http'] as const;

/** Payout execution settings (README: configuration); the provider's URL is required, and checked, only for `http`. */
function payoutConfig(env: NodeJS.ProcessEnv, defaults: Partial<AppConfig>, problems: string[]) {
  const paymentProvider = (env.PAYMENT_PROVIDER || defaults.paymentProvider || 'simulated') as AppConfig['paymentProvider'];
  if (!PROVIDERS.includes(paymentProvider)) problems.push(`PAYMENT_PROVIDER must be one of ${PROVIDERS.join(', ')} (got "${String(paymentProvider)}")`);
  const paymentProviderUrl = env.PAYMENT_PROVIDER_URL || defaults.paymentProviderUrl || undefined;
  if (paymentProvider === 'http') {
    if (paymentProviderUrl === undefined) problems.push('PAYMENT_PROVIDER_URL is required when PAYMENT_PROVIDER is http');
    else if (!/^https?:\/\/[^\s]+$/.test(paymentProviderUrl) || !URL.canParse(paymentProviderUrl)) {
      problems.push(`PAYMENT_PROVIDER_URL must be an http(s) URL (got "${paymentProviderUrl}")`);
    }
  }
  const c = {
    paymentProvider,
    simulatedProviderLatencyMs: int(env, 'SIMULATED_PROVIDER_LATENCY_MS', defaults.simulatedProviderLatencyMs ?? 0, 0, 600_000, problems),
    simulatedProviderFailureRate: rate(env, 'SIMULATED_PROVIDER_FAILURE_RATE', defaults.simulatedProviderFailureRate ?? 0, problems),
    simulatedProviderSeed: int(env, 'SIMULATED_PROVIDER_SEED', defaults.simulatedProviderSeed ?? 1, 0, 2 ** 31 - 1, problems),
    paymentProviderUrl,
    paymentProviderApiKey: env.PAYMENT_PROVIDER_API_KEY || defaults.paymentProviderApiKey || undefined,
    paymentProviderTimeoutMs: int(env, 'PAYMENT_PROVIDER_TIMEOUT_MS', defaults.paymentProviderTimeoutMs ?? 10_000, 100, 600_000, problems),
    payoutPollMs: int(env, 'PAYOUT_POLL_MS', defaults.payoutPollMs ?? 1000, 10, 600_000, problems),
    payoutConcurrency: int(env, 'PAYOUT_CONCURRENCY', defaults.payoutConcurrency ?? 16, 0, 1000, problems),
    payoutMaxAttempts: int(env, 'PAYOUT_MAX_ATTEMPTS', defaults.payoutMaxAttempts ?? 5, 1, 100, problems),
    payoutBackoffMs: int(env, 'PAYOUT_BACKOFF_MS', defaults.payoutBackoffMs ?? 2000, 1, 3_600_000, problems),
    payoutLeaseMs: int(env, 'PAYOUT_LEASE_MS', defaults.payoutLeaseMs ?? 60_000, 100, 3_600_000, problems),
  };
  // A lease shorter than a call would let a second worker take a refund whose first call is still running.
  const longestCall = paymentProvider === 'http' ? c.paymentProviderTimeoutMs : c.simulatedProviderLatencyMs;
  if (c.payoutLeaseMs <= longestCall) {
    problems.push(`PAYOUT_LEASE_MS (${c.payoutLeaseMs}) must be longer than one provider call (${paymentProvider === 'http' ? 'PAYMENT_PROVIDER_TIMEOUT_MS' : 'SIMULATED_PROVIDER_LATENCY_MS'}: ${longestCall})`);
  }
  return c;
}

/** The retention policy the configuration names (the sweeper purges by it; type uploads are checked against it). */
export function retentionPolicy(config: Pick<AppConfig, 'retentionDays' | 'retentionDaysTenants'>): RetentionPolicy {
  return { defaultDays: config.retentionDays, tenants: config.retentionDaysTenants };
}

/** The days this tenant keeps its history: what a feature window (a type's upload, a release's creation or activation) must fit. */
export function tenantRetentionDays(config: Pick<AppConfig, 'retentionDays' | 'retentionDaysTenants'>, tenant: string): number {
  return retentionDays(retentionPolicy(config), tenant);
}

/** Retention (libs/privacy): a default, per-tenant overrides (each bad entry named), and the purge interval. */
function retentionConfig(env: NodeJS.ProcessEnv, defaults: Partial<AppConfig>, problems: string[]) {
  const raw = env.RETENTION_DAYS_TENANTS;
  let retentionDaysTenants = defaults.retentionDaysTenants ?? {};
  if (raw !== undefined && raw !== '') {
    const parsed = parseTenantRetention(raw);
    for (const p of parsed.problems) problems.push(`RETENTION_DAYS_TENANTS: ${p}`);
    retentionDaysTenants = parsed.tenants;
  }
  return {
    retentionDays: int(env, 'RETENTION_DAYS', defaults.retentionDays ?? 400, RETENTION_DAYS_RANGE.min, RETENTION_DAYS_RANGE.max, problems),
    retentionDaysTenants,
    retentionSweepMs: int(env, 'RETENTION_SWEEP_MS', defaults.retentionSweepMs ?? 3_600_000, 1_000, 86_400_000, problems),
  };
}

/** Tracing (apps/decision-api/telemetry.ts): on when OTEL_EXPORTER_OTLP_ENDPOINT is set; the other OTEL_* are the SDK's. */
function tracingConfig(env: NodeJS.ProcessEnv, defaults: Partial<AppConfig>, problems: string[]) {
  const bad = tracingProblems(env);
  problems.push(...bad);
  return { tracing: (bad.length === 0 && tracingEnabled(env)) || (defaults.tracing ?? false) };
}

function consoleRoot(env: NodeJS.ProcessEnv, defaults: Partial<AppConfig>): string | undefined {
  const v = env.CONSOLE_ROOT || defaults.consoleRoot;
  if (v === 'off') return undefined;
  return v ?? join(env.CONTENT_ROOT ?? defaults.contentRoot ?? process.cwd(), 'dist', 'console');
}

/** PUBLIC_BASE_URL: an http(s) origin with an optional path prefix (a service behind a proxy at /decisions), no query or fragment. */
function publicOrigin(raw: string | undefined, problems: string[]): string | undefined {
  if (!raw) return undefined;
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || url.password || raw.includes('?') || raw.includes('#')) {
    problems.push(`PUBLIC_BASE_URL must be an http(s) URL without query, fragment or credentials, e.g. https://decisions.example.com (got "${raw}")`);
    return undefined;
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
