/**
 * The instants a request may carry: years 0001 to 9999 in UTC, once any offset is applied. PostgreSQL has no year 0,
 * and a year past 9999 serialises as `+010000-…`, which it does not read either; both were driver errors (500).
 */
export const FIRST_INSTANT_MS = Date.parse('0001-01-01T00:00:00.000Z');
export const LAST_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z');

export const isInstantInRange = (ms: number): boolean => ms >= FIRST_INSTANT_MS && ms <= LAST_INSTANT_MS;

/** Milliseconds of a date-time that Date reads (no leap second, no bare-hour offset) within that range, or undefined. */
export function instantOf(dateTime: string): number | undefined {
  const ms = Date.parse(dateTime);
  return isInstantInRange(ms) ? ms : undefined;
}
