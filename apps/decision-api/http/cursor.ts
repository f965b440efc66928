/** Opaque list cursors (api-contract.md §2): base64url JSON of where the previous page stopped. */
import { DomainError } from '../../../libs/errors/index.js';
import { isUuid } from '../../../libs/names/index.js';


/**
 * An instant in a cursor, already of its list's ISO shape (milliseconds or microseconds, Z), is a real one PostgreSQL
 * can hold (no month 13, no 30 February, no year 0): the cursor is opaque, but a forged one is the client's mistake
 * (400), not the driver's cast error (500).
 */
export function isInstant(d: string): boolean {
  const t = new Date(`${d.slice(0, 23)}Z`);
  return !Number.isNaN(t.getTime()) && t.getUTCFullYear() >= 1 && t.toISOString().slice(0, 23) === d.slice(0, 23);
}

export function encodeCursor(position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** `read` returns the position, or undefined when the decoded object is not one this list issued (→ 400). */
export function decodeCursor<T>(cursor: string, read: (v: Record<string, unknown>) => T | undefined): T {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const position = v && typeof v === 'object' ? read(v as Record<string, unknown>) : undefined;
    if (position !== undefined) return position;
  } catch {
    // fall through to the 400 below
  }
  throw new DomainError('CURSOR_INVALID', 'cursor is not one this API issued', 'invalid', [{ path: 'query:cursor', message: 'is not valid' }]);
}

/** Lists keyed by time-ordered UUIDv7 ids: the cursor is the last id served. */
export const encodeIdCursor = (lastId: string): string => encodeCursor({ after: lastId });
export const decodeIdCursor = (cursor: string): string =>
  decodeCursor(cursor, (v) => (typeof v.after === 'string' && isUuid(v.after) ? v.after : undefined));
