/** Input guards: the ledger defends its own invariants (ids, positive integer amounts, ISO timestamps) whatever the caller validated. */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { isCurrencyCode, isInstantInRange } from '../names/index.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Collects every problem of one call's input, then throws them together. */
export class Guard {
  private readonly errors: ErrorDetail[] = [];

  constructor(private readonly what: string) {}

  /** A non-empty identifier of at most 255 printable characters. */
  id(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.length === 0 || value.length > 255 || hasControl(value)) {
      this.errors.push({ path, message: 'must be a non-empty string of at most 255 printable characters' });
      return '';
    }
    return value;
  }

  /** A positive safe integer amount in minor units. */
  amount(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      this.errors.push({ path, message: 'must be a positive integer amount in minor units' });
      return 0;
    }
    return value;
  }

  /** An ISO-8601 date-time with an explicit offset; returned canonical (UTC, millisecond precision). */
  timestamp(value: unknown, path: string): string {
    const canonical = typeof value === 'string' ? canonicalTimestamp(value) : undefined;
    if (canonical === undefined) {
      this.errors.push({ path, message: 'must be an ISO-8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z' });
      return '';
    }
    return canonical;
  }

  currency(value: unknown, path: string): string {
    if (typeof value !== 'string' || !isCurrencyCode(value)) {
      this.errors.push({ path, message: 'must be an ISO 4217 currency code (list one, e.g. EUR, USD)' });
      return '';
    }
    return value;
  }

  anchorDay(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 28) {
      this.errors.push({ path, message: 'must be an integer from 1 to 28 (every month has that day)' });
      return 1;
    }
    return value;
  }

  category(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.length === 0 || value.length > 64 || hasControl(value)) {
      this.errors.push({ path, message: 'must be a non-empty category label of at most 64 printable characters' });
      return '';
    }
    return value;
  }

  /** Throws VALIDATION_FAILED (invalid) naming every offending field, if any. */
  check(): void {
    if (this.errors.length === 0) return;
    const first = this.errors[0]!;
    throw new DomainError('VALIDATION_FAILED', `${this.what}: ${first.path} ${first.message}`, 'invalid', this.errors);
  }
}

/**
 * `value` as a canonical UTC ISO string (`YYYY-MM-DDTHH:MM:SS.sssZ`), or undefined when it is not
 * a real instant written as ISO-8601 with an offset (no rolled-over dates such as Feb 30, no leap seconds).
 * Digits beyond milliseconds are truncated.
 */
export function canonicalTimestamp(value: string): string | undefined {
  const m = ISO.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return undefined;
  let offsetMinutes = 0;
  const zone = m[8]!;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  const ms = date.getTime();
  // Years 0001–9999 once the offset is applied (libs/names): the store has no year 0 and cannot read year 10000.
  return isInstantInRange(ms) ? new Date(ms).toISOString() : undefined;
}
