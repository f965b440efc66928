/**
 * A Stripe-style refunds API on a loopback port for payout tests. Like Stripe it de-duplicates by Idempotency-Key: the
 * first request with a key that is answered `pay` moves the money (recorded at once, before the possibly slow answer,
 * so a client that dies waiting still paid) and every later request with that key gets the same refund object.
 * What each request gets is up to the test (`behave`, by refundId and how often that key was asked).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = 'pay' | 'error500' | 'decline' | 'garbage' | 'hang';

interface RefundObject {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  status: 'succeeded';
  metadata: { refundId: string };
}

export class FakeProvider {
  /** Idempotency-Key → the refund it paid (at most one per key). */
  readonly paid = new Map<string, RefundObject>();
  /** Idempotency-Key → requests received. */
  readonly requests = new Map<string, number>();
  /** refundId → the keys it was asked with. */
  readonly keysOf = new Map<string, Set<string>>();
  behave: (refundId: string, asked: number) => Behaviour = () => 'pay';
  latencyMs = 0;
  private server!: Server;
  url = '';

  static async start(): Promise<FakeProvider> {
    const f = new FakeProvider();
    f.server = createServer((req, res) => f.handle(req, res));
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => undefined); // the client may be gone (killed) before the answer
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      const form = new URLSearchParams(body);
      const refundId = form.get('metadata[refundId]') ?? '';
      const asked = (this.requests.get(key) ?? 0) + 1;
      this.requests.set(key, asked);
      (this.keysOf.get(refundId) ?? this.keysOf.set(refundId, new Set()).get(refundId)!).add(key);
      const send = (status: number, payload: unknown, raw?: string) =>
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': raw === undefined ? 'application/json' : 'text/plain' });
          res.end(raw ?? JSON.stringify(payload));
        }, this.latencyMs);
      const done = this.paid.get(key);
      if (done) return send(200, done);
      const b = key === '' ? 'decline' : this.behave(refundId, asked);
      switch (b) {
        case 'pay': {
          const refund: RefundObject = {
            id: `re_${this.paid.size + 1}`,
            object: 'refund',
            amount: Number(form.get('amount')),
            currency: form.get('currency') ?? '',
            status: 'succeeded',
            metadata: { refundId },
          };
          this.paid.set(key, refund);
          return send(200, refund);
        }
        case 'error500':
          return send(500, { error: { type: 'api_error', code: 'provider_down', message: 'try later' } });
        case 'decline':
          return send(402, { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'already refunded' } });
        case 'garbage':
          return send(200, undefined, '<html>Service Temporarily Unavailable</html>');
        case 'hang':
          return; // never answers
      }
    });
  }

  /** Distinct refunds whose money moved. */
  paidRefundIds(): Set<string> {
    return new Set([...this.paid.values()].map((r) => r.metadata.refundId));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
