import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { EVENT_TYPES, envelopeOf, isEventType, serialiseEnvelope, subjectOf } from './events.js';
import { retryDelayMs } from './backoff.js';
import { newSecret, secretKey, signDelivery, verifyDelivery } from './signature.js';

describe('webhook signatures (Standard Webhooks)', () => {
  // The specification's published example (standard-webhooks/standard-webhooks, and Svix's libraries' tests).
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const body = '{"test": 2432232314}';
  const at = new Date(1614265330 * 1000);

  it('match the specification example', () => {
    expect(signDelivery(secret, id, at, body)).toEqual({
      'webhook-id': id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('verify, and refuse another body, another secret, a stale timestamp', () => {
    const h = signDelivery(secret, id, at, body);
    expect(verifyDelivery(secret, h, body, at)).toBe(true);
    expect(verifyDelivery(secret, { ...h, 'webhook-signature': `v1,bogus v0,x ${h['webhook-signature']}` }, body, at)).toBe(true);
    expect(verifyDelivery(secret, h, body + ' ', at)).toBe(false);
    expect(verifyDelivery(newSecret(() => new Uint8Array(32)), h, body, at)).toBe(false);
    expect(verifyDelivery(secret, h, body, new Date(at.getTime() + 301_000))).toBe(false);
  });

  it('key the HMAC with the decoded secret bytes, for any secret, id and body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string(), fc.string(), (bytes, eventId, text) => {
        const s = newSecret(() => bytes);
        expect(s).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
        expect(secretKey(s).equals(Buffer.from(bytes))).toBe(true);
        const h = signDelivery(s, eventId, at, text);
        const independent = createHmac('sha256', Buffer.from(bytes)).update(`${eventId}.1614265330.${text}`).digest('base64');
        expect(h['webhook-signature']).toBe(`v1,${independent}`);
      }),
    );
  });
});

describe('retry schedule', () => {
  const p = { baseMs: 1000, maxMs: 60_000, jitter: 0.2 };
  it('doubles from the base up to the cap, without jitter at random() = 0', () => {
    expect([1, 2, 3, 4, 7, 8, 100].map((n) => retryDelayMs(n, p, () => 0))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  });
  it('stays within [d·(1−jitter), d] and never exceeds the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const d = retryDelayMs(n, p, () => r);
        const full = retryDelayMs(n, p, () => 0);
        expect(d).toBeLessThanOrEqual(full);
        expect(d).toBeGreaterThanOrEqual(Math.floor(full * (1 - p.jitter)));
        expect(full).toBeLessThanOrEqual(p.maxMs);
      }),
    );
  });
});

describe('envelope', () => {
  it('has the contract fields in order, and names a NATS subject per tenant and type', () => {
    const e = envelopeOf({ id: 'e1', type: 'release.activated', tenant: 'acme', sequence: 3, occurredAt: new Date(0), data: { a: 1 } });
    expect(serialiseEnvelope(e)).toBe('{"id":"e1","type":"release.activated","tenant":"acme","sequence":3,"occurredAt":"1970-01-01T00:00:00.000Z","data":{"a":1}}');
    expect(subjectOf('decisions', 'acme', 'refund.state_changed')).toBe('decisions.acme.refund.state_changed');
    expect(EVENT_TYPES.every(isEventType)).toBe(true);
    expect(isEventType('nope')).toBe(false);
  });
});
