/**
 * A provider in process, for development, tests and benchmarks: answers after `latencyMs`, fails a `failureRate`
 * share of calls (retryable), and de-duplicates by idempotency key as a real provider does (a key that succeeded
 * answers the same reference again). Which call fails is a function of (seed, key, how often that key was asked), so a
 * run is reproducible whatever order concurrent refunds happen to be executed in.
 */
import { createHash } from 'node:crypto';
import type { PaymentProvider, ProviderResult, RefundRequest } from './provider.js';

export interface SimulatedProviderOptions {
  latencyMs: number;
  /** 0 (never fails, the default) to 1 (always fails). */
  failureRate: number;
  seed: number;
}

/** A number in [0, 1) drawn from the text by SHA-256 (deterministic, evenly spread). */
function draw(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

export class SimulatedProvider implements PaymentProvider {
  readonly name = 'simulated';
  private readonly paid = new Map<string, string>();
  private readonly asked = new Map<string, number>();

  constructor(private readonly o: SimulatedProviderOptions) {
    if (!(o.failureRate >= 0 && o.failureRate <= 1)) throw new RangeError('failureRate must be from 0 to 1');
    if (!(o.latencyMs >= 0)) throw new RangeError('latencyMs must be >= 0');
  }

  async refund(req: RefundRequest): Promise<ProviderResult> {
    if (this.o.latencyMs > 0) await new Promise((r) => setTimeout(r, this.o.latencyMs));
    const done = this.paid.get(req.idempotencyKey);
    if (done !== undefined) return { status: 'succeeded', providerRef: done };
    const n = (this.asked.get(req.idempotencyKey) ?? 0) + 1;
    this.asked.set(req.idempotencyKey, n);
    if (draw(`${this.o.seed}/${req.idempotencyKey}/${n}`) < this.o.failureRate) {
      return { status: 'failed', reason: 'simulated provider failure', retryable: true };
    }
    const ref = `sim_${createHash('sha256').update(`${this.o.seed}/${req.idempotencyKey}`).digest('hex').slice(0, 24)}`;
    this.paid.set(req.idempotencyKey, ref);
    this.asked.delete(req.idempotencyKey);
    return { status: 'succeeded', providerRef: ref };
  }

  /** How many distinct keys were paid (tests, benchmarks). */
  get paidCount(): number {
    return this.paid.size;
  }
}
