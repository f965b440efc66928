/**
 * The request id (`x-request-id`): the caller's, when it is short and made of characters safe in a header and a log
 * line; otherwise a new UUID. Every answer echoes it (header, and `requestId` in problem+json), every access line logs it.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
export const MAX_REQUEST_ID_LENGTH = 128;

// Letters, digits and - _ . : ; = + / @ ~ (UUIDs, ULIDs, hex ids, AWS-style "Root=1-…;Parent=…"): no space, quote,
// backslash or control character, so the id cannot split a header or forge a log field.
const SAFE = /^[A-Za-z0-9\-_.:;=+/@~]{1,128}$/;

/** Whether a caller's request id is kept as sent. */
export function isAcceptableRequestId(value: unknown): value is string {
  return typeof value === 'string' && SAFE.test(value);
}

/** The id of a request with this `x-request-id` header value (a repeated header counts as unusable). */
export function requestIdFrom(header: string | string[] | undefined): string {
  return isAcceptableRequestId(header) ? header : randomUUID();
}
