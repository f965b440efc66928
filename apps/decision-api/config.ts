/** Service configuration: read once from the environment, validated, every bad variable named at boot. */
import { parseDatabaseUrl } from '../../libs/persistence/index.js';
import { DEFAULT_EVALUATION_BUDGET, EVALUATION_STEPS_RANGE, MEMORY_MIB_RANGE } from '../../libs/policies/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AppConfig {
  port: number;
  host: string;
  databaseUrl: string;
  adminToken: string | undefined;
  logLevel: LogLevel;
  /** Repository root holding rule-packs/, policies/bundles/ and releases/. */
  contentRoot: string;
  /** Requests per second allowed per API key (token bucket; burst is twice this). 0 disables. */
  rateLimitPerKey: number;
  /** Failed credentials (API keys and ADMIN_TOKEN together) allowed per source address: refill per minute, and burst. */
  authFailuresPerMinute: number;
  authFailureBurst: number;
  dbPoolSize: number;
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

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean, problems: string[]): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  problems.push(`${name} must be true or false (got "${raw}")`);
  return def;
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
  const config: AppConfig = {
    port: int(env, 'PORT', defaults.port ?? 3000, 0, 65535, problems),
    host: env.HOST ?? defaults.host ?? '127.0.0.1',
    databaseUrl,
    adminToken: adminToken ? adminToken : undefined,
    logLevel,
    contentRoot: env.CONTENT_ROOT ?? defaults.contentRoot ?? process.cwd(),
    rateLimitPerKey: int(env, 'RATE_LIMIT_PER_KEY', defaults.rateLimitPerKey ?? 1000, 0, 1_000_000, problems),
    authFailuresPerMinute: int(env, 'AUTH_FAILURES_PER_MINUTE', defaults.authFailuresPerMinute ?? 300, 1, 60_000, problems),
    authFailureBurst: int(env, 'AUTH_FAILURE_BURST', defaults.authFailureBurst ?? 20, 1, 10_000, problems),
    dbPoolSize: int(env, 'DB_POOL_SIZE', defaults.dbPoolSize ?? 20, 1, 500, problems),
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
    policyMemoryMiB: int(env, 'POLICY_MEMORY_MIB', defaults.policyMemoryMiB ?? DEFAULT_EVALUATION_BUDGET.memoryMiB, MEMORY_MIB_RANGE.min, MEMORY_MIB_RANGE.max, problems),
    reviewOverdueSweepMs: int(env, 'REVIEW_OVERDUE_SWEEP_MS', defaults.reviewOverdueSweepMs ?? 30_000, 10, 3_600_000, problems),
  };
  if (config.apiKeyRotationOverlapS > config.apiKeyRotationMaxOverlapS) {
    problems.push('API_KEY_ROTATION_OVERLAP_S must not exceed API_KEY_ROTATION_MAX_OVERLAP_S');
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}
