/**
 * What the executor does with a provider's answer. Plain decisions over numbers that come from configuration.
 */
import type { ProviderResult } from './provider.js';

export interface RetryPolicy {
  /** Definite failures allowed before the refund is FAILED (attempts count every call, unknown answers included). */
  maxAttempts: number;
  /** The first retry waits about this long; each further one doubles it. */
  backoffMs: number;
}

export type NextStep =
  | { readonly kind: 'succeed'; readonly providerRef: string }
  /** `definite`: the provider answered a failure (not an unknown), so that call moved no money. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string; readonly definite: boolean }
  | { readonly kind: 'fail'; readonly reason: string };

/**
 * Exponential backoff with jitter after the `attempt`-th call (1-based): base × 2^(attempt−1), drawn uniformly from
 * its upper half so that refunds failing together do not come back together. The exponent stops growing at
 * maxAttempts, which bounds how long an `unknown` refund waits between questions.
 */
export function retryDelay(attempt: number, p: RetryPolicy, random: () => number): number {
  const exp = Math.min(Math.max(attempt, 1), Math.max(p.maxAttempts, 1)) - 1;
  const ceiling = p.backoffMs * 2 ** exp;
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * The step after the `attempt`-th call answered `result`:
 * - succeeded → SUCCEEDED;
 * - failed, not retryable, or retryable after the last attempt → FAILED with the provider's reason;
 * - failed, retryable, attempts left → ask again after a backoff;
 * - unknown → ask again after a backoff, whatever the attempt count: the money may have moved, and FAILED would hand
 *   the amount back to the order (a second refund could then pay it twice). It stays PROCESSING, with the reason shown.
 * - `inDoubt` (an earlier call of this execution had no definite answer: unknown, or never recorded because its worker
 *   died): a retryable failure never FAILS it either. A 5xx, 429 or 401 comes from a layer in front of the provider's
 *   idempotency record and says nothing about that earlier call, which may have paid. A non-retryable refusal is the
 *   provider's answer for the key itself (it would have answered the earlier payment instead) and still FAILS it.
 */
export function nextStep(result: ProviderResult, attempt: number, p: RetryPolicy, random: () => number = Math.random, inDoubt = false): NextStep {
  if (result.status === 'succeeded') return { kind: 'succeed', providerRef: result.providerRef };
  if (result.status === 'failed' && !result.retryable) return { kind: 'fail', reason: result.reason };
  if (result.status === 'failed' && attempt >= p.maxAttempts) {
    if (!inDoubt) return { kind: 'fail', reason: result.reason };
    const reason = `${result.reason} (not FAILED: an earlier attempt may have paid)`;
    return { kind: 'retry', delayMs: retryDelay(attempt, p, random), reason, definite: true };
  }
  return { kind: 'retry', delayMs: retryDelay(attempt, p, random), reason: result.reason, definite: result.status === 'failed' };
}
