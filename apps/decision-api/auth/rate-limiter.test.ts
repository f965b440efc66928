import { DomainError } from '../../../libs/errors/index.js';
import { FailedAuthLimiter, RateLimiter } from './rate-limiter.js';
import { Metrics } from '../metrics/metrics.js';

/** decision_platform_rate_limited_total{limit="failed_auth"} as the registry reports it. */
async function failedAuthRefusals(metrics: Metrics): Promise<number> {
  const m = await metrics.registry.getSingleMetric('decision_platform_rate_limited_total')!.get();
  return m.values.find((v) => v.labels.limit === 'failed_auth')?.value ?? 0;
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
    // One failure a minute refills: a loaded machine cannot slip a token in between the spending and the check.
    const metrics = new Metrics();
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 20 }, metrics);
    const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');
    const answers = Array.from({ length: 20 }, () => {
      limiter.check('10.0.0.1');
      return limiter.failed('10.0.0.1', denied);
    });
    expect(answers.every((a) => a === denied)).toBe(true);
    expect(limiter.failed('10.0.0.1', denied)).toMatchObject({ code: 'RATE_LIMITED', kind: 'rate_limited', extensions: { retryAfter: 60 } });
    expect(() => limiter.check('10.0.0.1')).toThrow('Too many failed authentications from this address');
    expect(() => limiter.check('10.0.0.2')).not.toThrow();
    // Each 429 counted once: the one failed() answered and the one check() threw.
    expect(await failedAuthRefusals(metrics)).toBe(2);
  });
});

describe('FailedAuthLimiter keys', () => {
  const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');
  const spend = (limiter: FailedAuthLimiter, address: string) => {
    for (let i = 0; i < 3; i++) limiter.failed(address, denied);
  };

  it('one budget per IPv6 /64: a host that owns a /64 cannot take a fresh budget per address in it', () => {
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 2 }, new Metrics());
    spend(limiter, '2001:db8:1:2::1');
    expect(() => limiter.check('2001:db8:1:2:ffff:ffff:ffff:ffff')).toThrow('Too many failed authentications');
    expect(() => limiter.check('2001:0db8:0001:0002:0000:0000:0000:0042')).toThrow('Too many failed authentications');
    expect(() => limiter.check('2001:db8:1:3::1')).not.toThrow();
  });

  it('an IPv4 address seen as IPv4-mapped IPv6 is the same address', () => {
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: 2 }, new Metrics());
    spend(limiter, '::ffff:10.0.0.1');
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
