import { DomainError } from '../../../libs/errors/index.js';
import { FailedAuthLimiter, RateLimiter } from './rate-limiter.js';

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
  it('answers the 401 until the address has spent its failures, then 429 with Retry-After; check() refuses before any work', () => {
    const limiter = new FailedAuthLimiter({ authFailuresPerMinute: 300, authFailureBurst: 20 });
    const denied = new DomainError('UNAUTHENTICATED', 'no', 'unauthenticated');
    const answers = Array.from({ length: 20 }, () => {
      limiter.check('10.0.0.1');
      return limiter.failed('10.0.0.1', denied);
    });
    expect(answers.every((a) => a === denied)).toBe(true);
    expect(limiter.failed('10.0.0.1', denied)).toMatchObject({ code: 'RATE_LIMITED', kind: 'rate_limited', extensions: { retryAfter: 1 } });
    expect(() => limiter.check('10.0.0.1')).toThrow('Too many failed authentications from this address');
    expect(() => limiter.check('10.0.0.2')).not.toThrow();
  });
});
