import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the embedded store on 127.0.0.1:3000 with admin routes off', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', databaseUrl: 'pglite://./data/pglite', adminToken: undefined, logLevel: 'info' });
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', ADMIN_TOKEN: 'short' });
      throw new Error('expected ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const m = (e as Error).message;
      for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'ADMIN_TOKEN']) expect(m).toContain(name);
    }
  });

  it('reads the shared rate limits: window, lease, Redis (validated, every bad one named)', () => {
    expect(loadConfig({})).toMatchObject({ rateLimitPerKey: 1000, rateLimitWindowS: 10, rateLimitLeasePercent: 10, rateLimitFallbackInstances: 2, redisUrl: undefined, rateLimitRedisPrefix: 'decision-api:rate-limit' });
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379/2', RATE_LIMIT_REDIS_PREFIX: 'prod:rl', RATE_LIMIT_WINDOW_S: '60', RATE_LIMIT_LEASE_PERCENT: '5' })).toMatchObject({
      redisUrl: 'redis://cache:6379/2',
      rateLimitRedisPrefix: 'prod:rl',
      rateLimitWindowS: 60,
      rateLimitLeasePercent: 5,
    });
    expect(() => loadConfig({ REDIS_URL: 'http://cache', RATE_LIMIT_REDIS_PREFIX: 'has space', RATE_LIMIT_WINDOW_S: '0', RATE_LIMIT_LEASE_PERCENT: '101' })).toThrow(
      /REDIS_URL[\s\S]*RATE_LIMIT_REDIS_PREFIX[\s\S]*RATE_LIMIT_WINDOW_S[\s\S]*RATE_LIMIT_LEASE_PERCENT/,
    );
    expect(() => loadConfig({ RATE_LIMIT_PER_KEY: '1000000', RATE_LIMIT_WINDOW_S: '3600' })).toThrow(/RATE_LIMIT_PER_KEY × RATE_LIMIT_WINDOW_S/);
  });

  it('reads whether the service compacts its heap while idle (on unless told)', () => {
    expect(loadConfig({})).toMatchObject({ idleCompaction: true });
    expect(loadConfig({ IDLE_COMPACTION: 'false' })).toMatchObject({ idleCompaction: false });
    expect(() => loadConfig({ IDLE_COMPACTION: 'sometimes' })).toThrow(/IDLE_COMPACTION/);
  });

  it('reads how releases are followed: poll interval and LISTEN on or off', () => {
    expect(loadConfig({})).toMatchObject({ releasePollMs: 2000, releaseListen: true });
    expect(loadConfig({ RELEASE_POLL_MS: '500', RELEASE_LISTEN: 'false' })).toMatchObject({ releasePollMs: 500, releaseListen: false });
    expect(() => loadConfig({ RELEASE_POLL_MS: '5', RELEASE_LISTEN: 'maybe' })).toThrow(/RELEASE_POLL_MS[\s\S]*RELEASE_LISTEN/);
  });

  it('reads the key cache (at most 5 s, the revocation bound) and the rotation overlaps', () => {
    expect(loadConfig({})).toMatchObject({ apiKeyCacheMs: 2000, apiKeyRotationOverlapS: 86400, apiKeyRotationMaxOverlapS: 604800 });
    expect(loadConfig({ API_KEY_CACHE_MS: '0', API_KEY_ROTATION_OVERLAP_S: '60' })).toMatchObject({ apiKeyCacheMs: 0, apiKeyRotationOverlapS: 60 });
    expect(() => loadConfig({ API_KEY_CACHE_MS: '5001' })).toThrow(/API_KEY_CACHE_MS/);
    expect(() => loadConfig({ API_KEY_ROTATION_OVERLAP_S: '100', API_KEY_ROTATION_MAX_OVERLAP_S: '10' })).toThrow(/API_KEY_ROTATION_OVERLAP_S must not exceed/);
  });

  it('reads the database timeouts, bounded, every one named when wrong', () => {
    expect(loadConfig({})).toMatchObject({
      dbAcquireTimeoutMs: 5000,
      dbStatementTimeoutMs: 10000,
      dbIdleInTransactionTimeoutMs: 10000,
      dbProbeTimeoutMs: 800,
      dbRetryAfterS: 2,
    });
    expect(loadConfig({ DB_ACQUIRE_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '2500', DB_PROBE_TIMEOUT_MS: '300' })).toMatchObject({
      dbAcquireTimeoutMs: 1000,
      dbStatementTimeoutMs: 2500,
      dbProbeTimeoutMs: 300,
    });
    expect(() =>
      loadConfig({ DB_ACQUIRE_TIMEOUT_MS: '0', DB_STATEMENT_TIMEOUT_MS: 'never', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '-1', DB_PROBE_TIMEOUT_MS: '60000', DB_RETRY_AFTER_S: '0' }),
    ).toThrow(/DB_ACQUIRE_TIMEOUT_MS[\s\S]*DB_STATEMENT_TIMEOUT_MS[\s\S]*DB_IDLE_IN_TRANSACTION_TIMEOUT_MS[\s\S]*DB_PROBE_TIMEOUT_MS[\s\S]*DB_RETRY_AFTER_S/);
  });

  it('reads the budget of failed credentials per address', () => {
    expect(loadConfig({})).toMatchObject({ authFailuresPerMinute: 300, authFailureBurst: 20 });
    expect(loadConfig({ AUTH_FAILURES_PER_MINUTE: '60', AUTH_FAILURE_BURST: '5' })).toMatchObject({ authFailuresPerMinute: 60, authFailureBurst: 5 });
    expect(() => loadConfig({ AUTH_FAILURES_PER_MINUTE: '0', AUTH_FAILURE_BURST: 'x' })).toThrow(/AUTH_FAILURES_PER_MINUTE[\s\S]*AUTH_FAILURE_BURST/);
  });

  it('reads the metrics token: unset or empty leaves /metrics open, a short one is refused', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: '' }).metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(16) }).metricsToken).toBe('m'.repeat(16));
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
  });

  it('reads the public base URL the served schemas name: an http(s) origin, a path prefix kept, a trailing slash dropped', () => {
    expect(loadConfig({}).publicBaseUrl).toBeUndefined();
    expect(loadConfig({ PUBLIC_BASE_URL: '' }).publicBaseUrl).toBeUndefined();
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://decisions.example.com/' }).publicBaseUrl).toBe('https://decisions.example.com');
    expect(loadConfig({ PUBLIC_BASE_URL: 'http://10.0.0.5:8080/decisions//' }).publicBaseUrl).toBe('http://10.0.0.5:8080/decisions');
    for (const bad of ['decisions.example.com', 'ftp://example.com', 'https://example.com/?x=1', 'https://example.com/#top', 'https://u:p@example.com']) {
      expect(() => loadConfig({ PUBLIC_BASE_URL: bad })).toThrow(/PUBLIC_BASE_URL must be an http\(s\) URL/);
    }
  });

  it('reads the review overdue sweep interval, within its bounds', () => {
    expect(loadConfig({}).reviewOverdueSweepMs).toBe(30_000);
    expect(loadConfig({ REVIEW_OVERDUE_SWEEP_MS: '250' }).reviewOverdueSweepMs).toBe(250);
    expect(() => loadConfig({ REVIEW_OVERDUE_SWEEP_MS: '5' })).toThrow(/REVIEW_OVERDUE_SWEEP_MS/);
  });

  it('reads the policy evaluation budget: steps and memory, within their bounds', () => {
    expect(loadConfig({})).toMatchObject({ policyEvaluationSteps: 150_000_000, policyMemoryMiB: 64 });
    expect(loadConfig({ POLICY_EVALUATION_STEPS: '20000000', POLICY_MEMORY_MIB: '16' })).toMatchObject({ policyEvaluationSteps: 20_000_000, policyMemoryMiB: 16 });
    expect(() => loadConfig({ POLICY_EVALUATION_STEPS: '10', POLICY_MEMORY_MIB: '0' })).toThrow(/POLICY_EVALUATION_STEPS[\s\S]*POLICY_MEMORY_MIB/);
  });

  it('reads the payout settings: simulated provider by default, http needs a URL, the lease outlasts a call', () => {
    expect(loadConfig({})).toMatchObject({
      paymentProvider: 'simulated',
      simulatedProviderLatencyMs: 0,
      simulatedProviderFailureRate: 0,
      payoutPollMs: 1000,
      payoutConcurrency: 16,
      payoutMaxAttempts: 5,
      payoutBackoffMs: 2000,
      payoutLeaseMs: 60000,
    });
    expect(
      loadConfig({ PAYMENT_PROVIDER: 'http', PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9/x', PAYMENT_PROVIDER_TIMEOUT_MS: '500', PAYOUT_LEASE_MS: '1000', SIMULATED_PROVIDER_FAILURE_RATE: '0.25' }),
    ).toMatchObject({ paymentProvider: 'http', paymentProviderUrl: 'http://127.0.0.1:9/x', paymentProviderTimeoutMs: 500, payoutLeaseMs: 1000, simulatedProviderFailureRate: 0.25 });
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'paypal' })).toThrow(/PAYMENT_PROVIDER/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'http' })).toThrow(/PAYMENT_PROVIDER_URL is required/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'http', PAYMENT_PROVIDER_URL: 'ftp://x' })).toThrow(/PAYMENT_PROVIDER_URL must be/);
    expect(() => loadConfig({ SIMULATED_PROVIDER_FAILURE_RATE: '1.5', PAYOUT_MAX_ATTEMPTS: '0' })).toThrow(/SIMULATED_PROVIDER_FAILURE_RATE[\s\S]*PAYOUT_MAX_ATTEMPTS/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'http', PAYMENT_PROVIDER_URL: 'http://p', PAYMENT_PROVIDER_TIMEOUT_MS: '5000', PAYOUT_LEASE_MS: '5000' })).toThrow(/PAYOUT_LEASE_MS/);
  });

  it('reads the retention: a default, per-tenant overrides naming each bad entry, and the purge interval', () => {
    expect(loadConfig({})).toMatchObject({ retentionDays: 400, retentionDaysTenants: {}, retentionSweepMs: 3_600_000 });
    expect(loadConfig({ RETENTION_DAYS: '30', RETENTION_DAYS_TENANTS: 'acme=7, globex=3650', RETENTION_SWEEP_MS: '60000' })).toMatchObject({
      retentionDays: 30,
      retentionDaysTenants: { acme: 7, globex: 3650 },
      retentionSweepMs: 60_000,
    });
    expect(() => loadConfig({ RETENTION_DAYS: '0' })).toThrow(/RETENTION_DAYS must be an integer from 1 to 36500/);
    expect(() => loadConfig({ RETENTION_DAYS: '36501' })).toThrow(/RETENTION_DAYS must be/);
    try {
      loadConfig({ RETENTION_DAYS_TENANTS: 'acme=0,globex,ok=5,Initech=9', RETENTION_SWEEP_MS: '5' });
      throw new Error('expected ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const m = (e as Error).message;
      expect(m).toContain('RETENTION_DAYS_TENANTS: "acme=0": days must be an integer from 1 to 36500');
      expect(m).toContain('RETENTION_DAYS_TENANTS: "globex" is not tenant=days');
      expect(m).toContain('RETENTION_DAYS_TENANTS: "Initech=9": "Initech" is not a tenant name');
      expect(m).not.toContain('ok=5');
      expect(m).toContain('RETENTION_SWEEP_MS');
    }
  });

  it('turns tracing on with OTEL_EXPORTER_OTLP_ENDPOINT only, and names a bad endpoint or protocol', () => {
    expect(loadConfig({}).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toBe(true);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing).toBe(true);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'udp', OTEL_SDK_DISABLED: 'yes' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL[\s\S]*OTEL_EXPORTER_OTLP_PROTOCOL must be one of[\s\S]*OTEL_SDK_DISABLED must be true or false/,
    );
  });
});

describe('log settings', () => {
  it('reads LOG_REDACT paths and LOG_PRETTY (unset: decided by whether stdout is a terminal)', () => {
    expect(loadConfig({})).toMatchObject({ logRedact: [], logPretty: undefined });
    expect(loadConfig({ LOG_REDACT: ' order.note , *.token,', LOG_PRETTY: 'true' })).toMatchObject({ logRedact: ['order.note', '*.token'], logPretty: true });
    expect(loadConfig({ LOG_PRETTY: 'false' }).logPretty).toBe(false);
  });

  it('names every bad redact path, and a bad LOG_PRETTY', () => {
    expect(() => loadConfig({ LOG_REDACT: 'ok.path,a..b,c[', LOG_PRETTY: 'yes' })).toThrow(/LOG_REDACT: "a\.\.b"[\s\S]*LOG_REDACT: "c\["[\s\S]*LOG_PRETTY/);
  });
});

describe('config errors never print a password', () => {
  it('REDIS_URL and NATS_URL are shown with the password masked', () => {
    let message = '';
    try {
      loadConfig({ REDIS_URL: 'redis://:s3cretpw@cache 6379', NATS_URL: 'nats://user:n4tspw@bus 4222' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('redis://:***@cache 6379');
    expect(message).toContain('nats://user:***@bus 4222');
    expect(message).not.toContain('s3cretpw');
    expect(message).not.toContain('n4tspw');
  });
});
