import { DomainError } from '../../../libs/errors/index.js';
import { MemoryWindowStore, type WindowStore } from '../../../libs/rate-limits/index.js';
import { ApiKeyRateLimit, FailedAuthLimiter, RateLimiter } from './rate-limiter.js';
import { Metrics } from '../metrics/metrics.js';

/** decision_platform_rate_limited_total{limit} as the registry reports it. */
async function refusals(metrics: Metrics, limit: 'api_key' | 'failed_auth'): Promise<number> {
  const m = await metrics.registry.getSingleMetric('decision_platform_rate_limited_total')!.get();
  return m.values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

describe('RateLimiter', () => {
  it('allows() looks without taking; take() takes until the bucket is empty, then refills with time', () => {
    const r = new RateLimiter(5, 2);
    expect(r.allows('a', 0)).toBe(true);
    expect(r.allows('a', 0)).toBe(true);
    expect([r.take('a', 0), r.take('a', 0), r.take('a', 0)]).toEqual([true, true, false]);
    expect(r.allows('a', 0)).toBe(false);
    expect(r.allows('a', 200)).toBe(true); // 5 a second: one token after 200 ms
    expect(r.allows('b', 0)).toBe(true);
  });
});

describe('FailedAuthLimiter', () => {
  it('answers the 401 until the address has spent its failures, then 429 with Retry-After; check() refuses before any work', async () => {
    // One failure a minute: 20 per window of 20 minutes. A loaded machine cannot slip a token in between the spending and the check.
    const metrics = new Metrics();
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 20 }, new MemoryWindowStore(), metrics);
    const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');
    const answers: DomainError[] = [];
    for (let i = 0; i < 20; i++) {
      limiter.check('10.0.0.1');
      answers.push(await limiter.failed('10.0.0.1', denied));
    }
    expect(answers.every((a) => a === denied)).toBe(true);
    const refused = await limiter.failed('10.0.0.1', denied);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', kind: 'rate_limited' });
    // Until the shared window ends (20 minutes), not just until this instance's next token (60 s).
    expect(refused.extensions.retryAfter).toBeGreaterThan(1190);
    expect(refused.extensions.retryAfter).toBeLessThanOrEqual(1200);
    expect(() => limiter.check('10.0.0.1')).toThrow('Too many failed authentications from this address');
    expect(() => limiter.check('10.0.0.2')).not.toThrow();
    // Each 429 counted once: the one failed() answered and the one check() threw.
    expect(await refusals(metrics, 'failed_auth')).toBe(2);
  });
});

describe('FailedAuthLimiter keys', () => {
  const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');
  const spend = async (limiter: FailedAuthLimiter, address: string) => {
    for (let i = 0; i < 3; i++) await limiter.failed(address, denied);
  };

  it('one budget per IPv6 /64: a host that owns a /64 cannot take a fresh budget per address in it', async () => {
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 2 }, new MemoryWindowStore(), new Metrics());
    await spend(limiter, '2001:db8:1:2::1');
    expect(() => limiter.check('2001:db8:1:2:ffff:ffff:ffff:ffff')).toThrow('Too many failed authentications');
    expect(() => limiter.check('2001:0db8:0001:0002:0000:0000:0000:0042')).toThrow('Too many failed authentications');
    expect(() => limiter.check('2001:db8:1:3::1')).not.toThrow();
  });

  it('an IPv4 address seen as IPv4-mapped IPv6 is the same address', async () => {
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 2 }, new MemoryWindowStore(), new Metrics());
    await spend(limiter, '::ffff:10.0.0.1');
    expect(() => limiter.check('10.0.0.1')).toThrow('Too many failed authentications');
    expect(() => limiter.check('10.0.0.2')).not.toThrow();
  });

  it('a flood of other addresses does not give a limited address its budget back (memory stays bounded)', () => {
    const r = new RateLimiter(1 / 60, 2, 1_000);
    r.take('attacker', 0);
    r.take('attacker', 0);
    for (let i = 0; i < 5_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`, 1);
    expect(r.allows('attacker', 2)).toBe(false);
    expect(r.size).toBeLessThanOrEqual(1_000);
  });
});

describe('limits shared by instances (one store, two limiters as two instances would have)', () => {
  const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');

  it('failures from one address count once across instances: the second instance refuses when the first spent the budget', async () => {
    const store = new MemoryWindowStore();
    const a = new FailedAuthLimiter({ authFailuresPerMinute: 60, authFailureBurst: 5 }, store, new Metrics());
    const b = new FailedAuthLimiter({ authFailuresPerMinute: 60, authFailureBurst: 5 }, store, new Metrics());
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push((await (i % 2 ? a : b).failed('10.0.0.7', denied)).code);
    expect(answers.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(5);
    // Each instance now knows the address is out of failures: refused before any work, no store call.
    expect(() => a.check('10.0.0.7')).toThrow('Too many failed authentications');
    expect(() => b.check('10.0.0.7')).toThrow('Too many failed authentications');
  });

  it('an API key\'s requests count across instances; the 429 comes from the one refusal function with Retry-After', async () => {
    const store = new MemoryWindowStore();
    const config = { rateLimitPerKey: 50, rateLimitWindowS: 60, rateLimitLeasePercent: 10 };
    const metrics = new Metrics();
    const a = new ApiKeyRateLimit(config, store, metrics);
    const b = new ApiKeyRateLimit(config, store, new Metrics());
    let accepted = 0;
    for (let i = 0; i < 7_000; i++) {
      const on = i % 2 ? a : b;
      if (on.tryTake('k1') ?? (await on.take('k1'))) accepted++;
    }
    expect(accepted).toBe(3_000);
    expect(a.refusal('k1')).toMatchObject({ code: 'RATE_LIMITED', message: 'Rate limit for this API key exceeded', extensions: { retryAfter: 60 } });
    expect(await refusals(metrics, 'api_key')).toBe(1);
  });

  it('RATE_LIMIT_PER_KEY 0 turns the per-key limit off without any store call', async () => {
    const store: WindowStore = { lease: () => Promise.reject(new Error('not expected')) };
    const off = new ApiKeyRateLimit({ rateLimitPerKey: 0, rateLimitWindowS: 1, rateLimitLeasePercent: 10 }, store, new Metrics());
    expect(off.tryTake('k')).toBe(true);
    expect(await off.take('k')).toBe(true);
  });
});
