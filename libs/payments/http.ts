/**
 * A Stripe-style provider over HTTP: `POST {url}/v1/refunds` (form-encoded: amount, currency, metadata[refundId]) with
 * the refund's `Idempotency-Key`. Only a well-formed refund object for this very refund (same amount, currency and
 * metadata refundId) whose status is `succeeded` counts as paid; anything unreadable is `unknown`, never a success.
 */
import type { PaymentProvider, ProviderResult, RefundRequest } from './provider.js';

export interface HttpProviderOptions {
  /** Base URL; `/v1/refunds` is appended. */
  url: string;
  /** The whole call (connect, send, read the answer) gives up after this long: an `unknown` answer. */
  timeoutMs: number;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  fetch?: typeof fetch;
}

/** Statuses that say "not now" rather than "no": asked again with the same key. */
const RETRYABLE_STATUS = new Set([401, 403, 408, 425, 429]);
const MAX_REASON = 300;

const clip = (s: string): string => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON)}…` : s);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function errorReason(status: number, body: unknown): string {
  const err = isObject(body) && isObject(body.error) ? body.error : undefined;
  const parts = [err && typeof err.code === 'string' ? err.code : undefined, err && typeof err.message === 'string' ? err.message : undefined].filter(
    (p): p is string => p !== undefined,
  );
  return clip(`HTTP ${status}${parts.length ? `: ${parts.join(': ')}` : ''}`);
}

export class HttpProvider implements PaymentProvider {
  readonly name = 'http';
  private readonly endpoint: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly o: HttpProviderOptions) {
    this.endpoint = `${o.url.replace(/\/+$/, '')}/v1/refunds`;
    this.fetch = o.fetch ?? globalThis.fetch;
  }

  async refund(req: RefundRequest): Promise<ProviderResult> {
    const form = new URLSearchParams({ amount: String(req.amount), currency: req.currency.toLowerCase(), 'metadata[refundId]': req.refundId });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': req.idempotencyKey };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    let status: number;
    let text: string;
    try {
      const signal = AbortSignal.timeout(this.o.timeoutMs);
      const res = await this.fetch(this.endpoint, { method: 'POST', headers, body: form.toString(), signal });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      const why = err?.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : `${err?.message ?? String(e)}`;
      return { status: 'unknown', reason: clip(`provider unreachable: ${why}`) };
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status >= 200 && status < 300) return this.readRefund(req, body);
    // 409: another request with this key is still being processed; its outcome is not known yet.
    if (status === 409) return { status: 'unknown', reason: errorReason(status, body) };
    if (status >= 500 || RETRYABLE_STATUS.has(status)) return { status: 'failed', reason: errorReason(status, body), retryable: true };
    if (status >= 400) return { status: 'failed', reason: errorReason(status, body), retryable: false };
    return { status: 'unknown', reason: `unexpected HTTP ${status}` };
  }

  private readRefund(req: RefundRequest, body: unknown): ProviderResult {
    if (!isObject(body)) return { status: 'unknown', reason: 'unreadable answer (not a refund object)' };
    const metadata = isObject(body.metadata) ? body.metadata : {};
    const wellFormed =
      typeof body.id === 'string' &&
      body.id.length > 0 &&
      body.amount === req.amount &&
      typeof body.currency === 'string' &&
      body.currency.toLowerCase() === req.currency.toLowerCase() &&
      metadata.refundId === req.refundId;
    if (!wellFormed) return { status: 'unknown', reason: 'unreadable answer (not this refund: id, amount, currency or metadata.refundId differ)' };
    const id = body.id as string;
    switch (body.status) {
      case 'succeeded':
        return { status: 'succeeded', providerRef: id };
      case 'failed':
      case 'canceled':
        return { status: 'failed', reason: clip(`refund ${id} ${body.status}${typeof body.failure_reason === 'string' ? `: ${body.failure_reason}` : ''}`), retryable: false };
      default:
        // pending, requires_action, or a status this adapter does not know: ask again later with the same key.
        return { status: 'unknown', reason: clip(`refund ${id} is ${typeof body.status === 'string' ? body.status : 'in an unknown status'}`) };
    }
  }
}
