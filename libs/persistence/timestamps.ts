/**
 * A timestamptz as a query hands it back: a Date, or PostgreSQL's text (`0050-02-01 00:00:00.123+00`), which is what
 * MikroORM's connection leaves it as. `new Date(text)` reads that form loosely: a year below 100 comes back as 19xx
 * (0050 as 1950). Rewritten as RFC 3339 first, every year the platform accepts (0001–9999) reads as stored.
 */
export function pgTimestamp(v: unknown): Date {
  if (v instanceof Date) return v;
  const s = String(v);
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?|Z)?$/.exec(s);
  if (!m) return new Date(s);
  const zone = m[3] === undefined ? 'Z' : `${m[3]}:${m[4] ?? '00'}`;
  return new Date(`${m[1]}T${m[2]}${zone}`);
}

/** pgTimestamp, keeping null (and undefined) as null. */
export const pgTimestampOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : pgTimestamp(v));
