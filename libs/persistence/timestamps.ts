/**
 * A timestamptz as a query hands it back: a Date, or PostgreSQL's text (`0050-02-01 00:00:00.123+00`), which is what
 * MikroORM's connection leaves it as. `new Date(text)` reads that form loosely: a year below 100 comes back as 19xx
 * (0050 as 1950). Read here field by field, every year the platform accepts (0001–9999) reads as stored, in any
 * offset PostgreSQL prints (`+05:30`, or `+00:53:28`: a session in a zone other than UTC prints instants before ~1890
 * in local mean time).
 */
const TEXT = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?$/;

export function pgTimestamp(v: unknown): Date {
  if (v instanceof Date) return v;
  const s = String(v);
  const m = TEXT.exec(s);
  // BC, infinity or anything else: not an instant the platform ever stored.
  if (!m) throw new Error(`not a timestamp the platform stores: ${JSON.stringify(s.slice(0, 40))}`);
  const utc = new Date(`${m[1]}T${m[2]}Z`);
  if (m[3] === undefined) return utc;
  const offsetMs = (Number(m[4]) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0)) * 1000;
  return new Date(utc.getTime() - (m[3] === '-' ? -offsetMs : offsetMs));
}

/** pgTimestamp, keeping null (and undefined) as null. */
export const pgTimestampOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : pgTimestamp(v));
