import fc from 'fast-check';
import { FIRST_INSTANT_MS, LAST_INSTANT_MS } from '../names/index.js';
import { pgTimestamp, pgTimestampOrNull } from './timestamps.js';

describe('pgTimestamp', () => {
  it("reads PostgreSQL's text form in every year 0001–9999 (new Date reads 0050 as 1950)", () => {
    expect(pgTimestamp('0050-02-01 00:00:00+00').toISOString()).toBe('0050-02-01T00:00:00.000Z');
    expect(pgTimestamp('0001-01-01 00:00:00+00').toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(pgTimestamp('2026-12-07 10:00:00.123456+00').toISOString()).toBe('2026-12-07T10:00:00.123Z');
    expect(pgTimestamp('2026-12-07 15:30:00+05:30').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(pgTimestamp('2026-12-07 05:00:00-05').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    // Local mean time, as a session in Europe/Berlin prints year 0050.
    expect(pgTimestamp('0050-02-01 00:53:28+00:53:28').toISOString()).toBe('0050-02-01T00:00:00.000Z');
    expect(pgTimestamp('0050-01-31 19:03:58-04:56:02').toISOString()).toBe('0050-02-01T00:00:00.000Z');
    for (const bad of ['0050-02-01 00:00:00+00 BC', 'infinity', '-infinity', '', '2026-12-07']) expect(() => pgTimestamp(bad)).toThrow(/not a timestamp/);
    const d = new Date('0099-12-31T23:59:59.999Z');
    expect(pgTimestamp(d)).toBe(d);
    expect(pgTimestampOrNull(null)).toBeNull();
  });

  it('round-trips any instant PostgreSQL prints in UTC', () => {
    fc.assert(
      fc.property(fc.integer({ min: FIRST_INSTANT_MS, max: LAST_INSTANT_MS }), (ms) => {
        // PostgreSQL's output with TimeZone UTC: `YYYY-MM-DD HH:MM:SS[.fff]+00`.
        const iso = new Date(ms).toISOString();
        const text = `${iso.slice(0, 10)} ${iso.slice(11, 23).replace(/\.000$/, '')}+00`;
        expect(pgTimestamp(text).getTime()).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });
});
