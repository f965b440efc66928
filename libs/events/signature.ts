/**
 * Webhook signatures, the Standard Webhooks scheme (https://www.standardwebhooks.com): the signed content is
 * `<webhook-id>.<webhook-timestamp>.<body>`, signed with HMAC-SHA256; the header is `v1,<base64 signature>`. A secret is
 * `whsec_<base64 of 32 random bytes>`; the HMAC key is the base64-decoded part (the bytes, not the text).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** 256 bits: as long as the HMAC-SHA256 output. */
export const SECRET_BYTES = 32;

/** `random(n)` returns n random bytes (crypto.randomBytes in the service; fixed bytes in tests). */
export const newSecret = (random: (n: number) => Uint8Array): string => SECRET_PREFIX + Buffer.from(random(SECRET_BYTES)).toString('base64');

/** The HMAC key of a `whsec_…` secret. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The headers of one delivery attempt; `at` is the attempt's time (a retry is signed afresh). */
export function signDelivery(secret: string, id: string, at: Date, body: string): SignedHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}

/**
 * What a receiver does: true when one of the space-separated `v1,` signatures matches and the timestamp is within
 * `toleranceS` of `now` (a replayed old delivery is refused).
 */
export function verifyDelivery(secret: string, headers: SignedHeaders, body: string, now: Date, toleranceS = 300): boolean {
  const ts = Number(headers['webhook-timestamp']);
  if (!Number.isInteger(ts) || Math.abs(now.getTime() / 1000 - ts) > toleranceS) return false;
  const expected = Buffer.from(signDelivery(secret, headers['webhook-id'], new Date(ts * 1000), body)['webhook-signature'].slice(3), 'base64');
  return headers['webhook-signature'].split(' ').some((s) => {
    if (!s.startsWith('v1,')) return false;
    const given = Buffer.from(s.slice(3), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
