/**
 * Which request bodies a route reads: JSON (`application/json` or any `application/*+json`, in UTF-8: no charset or
 * charset=utf-8) everywhere, raw bytes only where binary-body.ts says so. Any other body is 415 naming its type,
 * before a byte of it is read; a request without a body is not concerned.
 */
import { DomainError } from '../../../libs/errors/index.js';

/** `application/json` or a structured-syntax `+json` type (RFC 6839), as Fastify passes it (lower-cased, params kept). */
export const JSON_MEDIA_TYPE = /^application\/(?:[\w!#$%&'*.^`|~-]+\+)?json(?:\s*;|$)/i;

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/** Whether a JSON content type's charset (if any) is UTF-8, the only encoding JSON may be exchanged in (RFC 8259 §8.1). */
export function isUtf8(contentType: string | undefined): boolean {
  const m = CHARSET.exec(contentType ?? '');
  if (!m) return true;
  const charset = (m[1] ?? m[2] ?? '').toLowerCase();
  return charset === 'utf-8' || charset === 'utf8';
}

/** The 415 for a body of `contentType` (undefined: a body sent without one). */
export function unsupportedMediaType(contentType: string | undefined): DomainError {
  // Shown as sent, up to a sane length (the header is the caller's).
  const shown = contentType === undefined ? undefined : JSON.stringify(contentType.length > 200 ? `${contentType.slice(0, 200)}…` : contentType);
  const what = shown === undefined ? 'A body without Content-Type' : `Content-Type ${shown}`;
  return new DomainError(
    'UNSUPPORTED_MEDIA_TYPE',
    `${what} is not accepted: send the body as application/json in UTF-8 (a policy bundle as application/gzip)`,
    'unsupported_media_type',
    [{ path: 'header:Content-Type', message: shown === undefined ? 'is missing' : `${shown} is not application/json (or application/*+json) in UTF-8` }],
  );
}
