/**
 * The payment provider port: how an approved refund's money is moved. Every adapter answers one of three things, and
 * the executor treats them very differently:
 * - `succeeded`: the provider confirmed the refund (its reference is kept);
 * - `failed`: the provider refused it (retryable or not), so no money moved under this key;
 * - `unknown`: no trustworthy answer (timeout, connection lost, garbage, still pending). Money may or may not have
 *   moved, so the refund stays PROCESSING and is asked again later with the same idempotency key, which the provider
 *   de-duplicates. An unknown answer is never taken for a success or a definite failure.
 */
import { createHash } from 'node:crypto';

export interface RefundRequest {
  /** The platform's refund id (sent as metadata, checked in the answer). */
  refundId: string;
  /** Minor units, > 0. */
  amount: number;
  currency: string;
  /** The same for every attempt at this refund: see `payoutIdempotencyKey`. */
  idempotencyKey: string;
}

export type ProviderResult =
  | { readonly status: 'succeeded'; readonly providerRef: string }
  | { readonly status: 'failed'; readonly reason: string; readonly retryable: boolean }
  | { readonly status: 'unknown'; readonly reason: string };

export interface PaymentProvider {
  /** Which adapter (`simulated`, `http`), for logs and events. */
  readonly name: string;
  /** Never rejects: whatever goes wrong on the way is an `unknown` answer. */
  refund(req: RefundRequest): Promise<ProviderResult>;
}

/**
 * The idempotency key of a refund's payout: a digest of (tenant, refundId) alone, so every attempt — a scheduled
 * retry, a retry after a crash, a manual retry — sends the same key and the provider pays it at most once.
 */
export function payoutIdempotencyKey(tenant: string, refundId: string): string {
  return `refund-${createHash('sha256').update(JSON.stringify([tenant, refundId])).digest('hex').slice(0, 48)}`;
}

/** Any rejection of an adapter as an `unknown` answer (the port promises never to reject). */
export async function settled(p: Promise<ProviderResult>): Promise<ProviderResult> {
  try {
    return await p;
  } catch (e) {
    return { status: 'unknown', reason: `provider call failed: ${(e as Error)?.message ?? String(e)}` };
  }
}
