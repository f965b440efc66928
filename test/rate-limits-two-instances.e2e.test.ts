/**
 * Rate limits hold across instances: two services on one PostgreSQL database, one API key hammering both. The
 * per-key windows live in PostgreSQL (default) or Redis (REDIS_URL); either way the accepted requests of a window never
 * exceed its budget, and fall short of it by at most the leases the other instance holds (libs/rate-limits).
 */
import { earlyRefusalBound, leaseSize } from '../libs/rate-limits/index.js';
import type { AppConfig } from '../apps/decision-api/config.js';
import { newKey, TestService, type HttpResult } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
const redisUrl = process.env.TEST_REDIS_URL;
const withRedis = process.env.TEST_DATABASE_URL && redisUrl ? describe : describe.skip;
if (!process.env.TEST_DATABASE_URL) console.warn('two-instance rate limits skipped: set TEST_DATABASE_URL (an in-memory PGlite cannot be shared)');
if (!redisUrl) console.warn('rate limits in Redis skipped: set TEST_REDIS_URL (.ci/run sets redis://127.0.0.1:6379)');

/** 1 a second over a 240 s window: 240 requests per window, leased 10 % (24) at a time. */
const WINDOW_S = 240;
const limits: Partial<AppConfig> = { rateLimitPerKey: 1, rateLimitWindowS: WINDOW_S, rateLimitLeasePercent: 10 };
const POINTS = WINDOW_S;
const LEASE = leaseSize(POINTS, 10);

async function hammer(instances: TestService[], key: string, n: number, parallel: number, windowS = WINDOW_S): Promise<{ results: HttpResult[]; windows: number }> {
  const t0 = performance.now();
  const results: HttpResult[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, n - i) }, (_, j) =>
      instances[(i + j) % instances.length]!.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey('rl'), body: { case: refundCase() } }),
    );
    results.push(...(await Promise.all(batch)));
  }
  // Not a time limit: a slow run that spans more than one window is allowed one more window's budget per window.
  const windows = Math.floor((performance.now() - t0) / (windowS * 1000)) + 1;
  return { results, windows };
}

function expectSharedLimit({ results, windows }: { results: HttpResult[]; windows: number }, label: string): void {
  const accepted = results.filter((r) => r.status === 201).length;
  const refused = results.filter((r) => r.status === 429);
  console.log(`${label}: ${accepted} accepted, ${refused.length} refused (budget ${POINTS} per window, lease ${LEASE}, ${windows} window(s))`);
  expect(accepted + refused.length).toBe(results.length);
  expect(accepted).toBeLessThanOrEqual(POINTS * windows);
  expect(accepted).toBeGreaterThanOrEqual(POINTS - earlyRefusalBound(2, LEASE));
  for (const r of refused) {
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }
}

onPostgres('per-key rate limit across two instances, windows in PostgreSQL', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await TestService.start('rate_limits_pg', limits);
    b = await TestService.join(a, limits);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('one key on both instances: the accepted decisions stay within the one budget', async () => {
    const key = await a.issueKey('acme', ['service']);
    expectSharedLimit(await hammer([a, b], key, POINTS * 2 + 60, 20), 'PostgreSQL');
    // Another key has a budget of its own.
    const other = await b.issueKey('acme', ['service']);
    expect((await a.request('POST', '/v1/decisions/refund', { key: other, idempotencyKey: newKey(), body: { case: refundCase() } })).status).toBe(201);
  });
});

withRedis('per-key rate limit across two instances, windows in Redis (REDIS_URL)', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    // Keys of their own per run: a Redis shared with other runs (or an earlier one) has windows of its own.
    const redis = { ...limits, redisUrl, rateLimitRedisPrefix: `test-rl-${process.pid}-${Date.now().toString(36)}` };
    a = await TestService.start('rate_limits_redis', redis);
    b = await TestService.join(a, redis);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('one key on both instances: the accepted decisions stay within the one budget', async () => {
    const key = await a.issueKey('acme', ['service']);
    expectSharedLimit(await hammer([a, b], key, POINTS * 2 + 60, 20), 'Redis');
  });
});

onPostgres('Redis away: the limits fail open to each instance\'s own windows', () => {
  let a: TestService;
  beforeAll(async () => {
    // Nothing listens on port 1: every lease fails at once (no offline queue).
    a = await TestService.start('rate_limits_redis_away', { rateLimitPerKey: 1, rateLimitWindowS: 20, rateLimitLeasePercent: 10, rateLimitFallbackInstances: 1, redisUrl: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => {
    await a?.stop();
  });

  it('decisions are still answered, and the instance still holds the key to the window\'s budget on its own', async () => {
    const key = await a.issueKey('acme', ['service']);
    const { results, windows } = await hammer([a], key, 30, 10, 20);
    const accepted = results.filter((r) => r.status === 201).length;
    expect(results.filter((r) => r.status === 429)).toHaveLength(30 - accepted);
    // 20 per 20 s window (one instance: nothing held elsewhere, so exactly the budget).
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThanOrEqual(20 * windows);
  });
});

/**
 * Failed credentials per source address, shared by the instances: AUTH_BURST wrong keys from one address are 401, then
 * 429, whichever instance they reach and however many arrive at once. Each instance's own bucket alone would let
 * AUTH_BURST through on each (twice the budget here), so a limit that is not shared fails this.
 */
const AUTH_BURST = 5;
const failures: Partial<AppConfig> = { authFailuresPerMinute: 1, authFailureBurst: AUTH_BURST };

function failedCredentialsAcrossInstances(label: string, overrides: () => Partial<AppConfig>): void {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    const config = { ...failures, ...overrides() }; // one configuration (one Redis prefix) for both
    a = await TestService.start(`rate_limits_auth_${label}`, config);
    b = await TestService.join(a, config);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('wrong keys from one address, sent at once to both instances: the budget once, then 429 with Retry-After', async () => {
    // The window (AUTH_BURST per 5 minutes) starts with the first failure: the whole burst falls in it.
    const answers = await Promise.all(
      Array.from({ length: 4 * AUTH_BURST }, (_, i) => [a, b][i % 2]!.request('GET', '/v1/decisions', { key: `dk_${label}_wrong_${i}_${newKey('k')}` })),
    );
    const statuses = answers.map((r) => r.status);
    console.log(`failed credentials (${label}): ${statuses.filter((s) => s === 401).length} × 401, ${statuses.filter((s) => s === 429).length} × 429`);
    expect(statuses.filter((s) => s === 401)).toHaveLength(AUTH_BURST);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3 * AUTH_BURST);
    for (const r of answers.filter((x) => x.status === 429)) {
      expect(r.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // Spent on both: the next wrong key is refused whichever instance it reaches.
    for (const svc of [a, b]) expect((await svc.request('GET', '/v1/decisions', { key: `dk_${label}_after_${newKey('k')}` })).status).toBe(429);
  });
}

onPostgres('failed credentials per address across two instances, windows in PostgreSQL', () => failedCredentialsAcrossInstances('pg', () => ({})));

withRedis('failed credentials per address across two instances, windows in Redis (REDIS_URL)', () =>
  failedCredentialsAcrossInstances('redis', () => ({ redisUrl, rateLimitRedisPrefix: `test-auth-${process.pid}-${Date.now().toString(36)}` })),
);
