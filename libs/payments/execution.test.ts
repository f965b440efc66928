import fc from 'fast-check';
import { nextStep, retryDelay, type RetryPolicy } from './execution.js';
import { payoutIdempotencyKey } from './provider.js';
import { SimulatedProvider } from './simulated.js';

const policy: RetryPolicy = { maxAttempts: 3, backoffMs: 1000 };

describe('nextStep', () => {
  it('succeeds on a success, whatever the attempt', () => {
    expect(nextStep({ status: 'succeeded', providerRef: 're_1' }, 7, policy)).toEqual({ kind: 'succeed', providerRef: 're_1' });
  });

  it('retries a retryable failure until the last attempt, then fails with the provider reason', () => {
    const failed = { status: 'failed', reason: 'HTTP 500', retryable: true } as const;
    expect(nextStep(failed, 1, policy, () => 0)).toEqual({ kind: 'retry', delayMs: 500, reason: 'HTTP 500', definite: true });
    expect(nextStep(failed, 2, policy, () => 0)).toEqual({ kind: 'retry', delayMs: 1000, reason: 'HTTP 500', definite: true });
    expect(nextStep(failed, 3, policy)).toEqual({ kind: 'fail', reason: 'HTTP 500' });
  });

  it('in doubt (an earlier call may have paid), a retryable failure after the last attempt is retried, never FAILED; a refusal still fails', () => {
    const failed = { status: 'failed', reason: 'HTTP 503', retryable: true } as const;
    expect(nextStep(failed, 3, policy, () => 0, true)).toMatchObject({ kind: 'retry', definite: true, reason: expect.stringContaining('HTTP 503') });
    expect(nextStep(failed, 30, policy, () => 0, true).kind).toBe('retry');
    expect(nextStep({ status: 'failed', reason: 'declined', retryable: false }, 3, policy, () => 0, true)).toEqual({ kind: 'fail', reason: 'declined' });
    expect(nextStep({ status: 'unknown', reason: 'garbage' }, 1, policy, () => 0)).toMatchObject({ kind: 'retry', definite: false });
  });

  it('fails a non-retryable failure at once', () => {
    expect(nextStep({ status: 'failed', reason: 'declined', retryable: false }, 1, policy)).toEqual({ kind: 'fail', reason: 'declined' });
  });

  it('never fails (nor succeeds) an unknown answer, however many attempts it took', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const step = nextStep({ status: 'unknown', reason: 'garbage' }, attempt, policy, () => r);
        expect(step.kind).toBe('retry');
      }),
    );
  });

  it('backs off exponentially with jitter in the upper half, the exponent capped at maxAttempts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const ceiling = 1000 * 2 ** (Math.min(attempt, 3) - 1);
        const d = retryDelay(attempt, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }),
    );
  });
});

describe('SimulatedProvider', () => {
  const req = (id: string) => ({ refundId: id, amount: 100, currency: 'EUR', idempotencyKey: payoutIdempotencyKey('t', id) });

  it('succeeds by default and pays a key once (the same reference again)', async () => {
    const p = new SimulatedProvider({ latencyMs: 0, failureRate: 0, seed: 1 });
    const a = await p.refund(req('a'));
    expect(a.status).toBe('succeeded');
    expect(await p.refund(req('a'))).toEqual(a);
    expect(p.paidCount).toBe(1);
  });

  it('fails the configured share of calls, the same calls for the same seed', async () => {
    const run = async (seed: number) => {
      const p = new SimulatedProvider({ latencyMs: 0, failureRate: 0.3, seed });
      const out: string[] = [];
      for (let i = 0; i < 400; i++) out.push((await p.refund(req(`r${i}`))).status);
      return out;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
    const failures = a.filter((s) => s === 'failed').length;
    expect(failures).toBeGreaterThan(80);
    expect(failures).toBeLessThan(160);
  });

  it('always fails at rate 1, with a retryable reason', async () => {
    const p = new SimulatedProvider({ latencyMs: 0, failureRate: 1, seed: 1 });
    expect(await p.refund(req('x'))).toEqual({ status: 'failed', reason: 'simulated provider failure', retryable: true });
    expect(p.paidCount).toBe(0);
  });
});
