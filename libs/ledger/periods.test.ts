/** Billing periods by anchor day: month lengths, year ends, leap years, anchor 28, and timestamp canonicalisation. */
import { canonicalTimestamp } from './guards.js';
import { addDays, isPeriodBoundary, periodOf } from './periods.js';

describe('periodOf', () => {
  it('anchor 1 gives calendar months, end exclusive', () => {
    expect(periodOf('2024-05-15T10:00:00Z', 1)).toEqual({ start: '2024-05-01T00:00:00.000Z', end: '2024-06-01T00:00:00.000Z' });
    expect(periodOf('2024-05-01T00:00:00Z', 1).start).toBe('2024-05-01T00:00:00.000Z');
    expect(periodOf('2024-05-31T23:59:59.999Z', 1).end).toBe('2024-06-01T00:00:00.000Z');
  });

  it('before the anchor day belongs to the previous month’s period', () => {
    expect(periodOf('2024-05-14T23:59:59.999Z', 15)).toEqual({ start: '2024-04-15T00:00:00.000Z', end: '2024-05-15T00:00:00.000Z' });
    expect(periodOf('2024-05-15T00:00:00Z', 15)).toEqual({ start: '2024-05-15T00:00:00.000Z', end: '2024-06-15T00:00:00.000Z' });
  });

  it('crosses year ends both ways', () => {
    expect(periodOf('2024-01-10T00:00:00Z', 20)).toEqual({ start: '2023-12-20T00:00:00.000Z', end: '2024-01-20T00:00:00.000Z' });
    expect(periodOf('2024-12-25T00:00:00Z', 20)).toEqual({ start: '2024-12-20T00:00:00.000Z', end: '2025-01-20T00:00:00.000Z' });
  });

  it('anchor 28 exists in every month, February included, leap year or not', () => {
    expect(periodOf('2024-02-29T12:00:00Z', 28)).toEqual({ start: '2024-02-28T00:00:00.000Z', end: '2024-03-28T00:00:00.000Z' });
    expect(periodOf('2023-03-01T00:00:00Z', 28)).toEqual({ start: '2023-02-28T00:00:00.000Z', end: '2023-03-28T00:00:00.000Z' });
    expect(periodOf('2024-02-27T23:59:59Z', 28)).toEqual({ start: '2024-01-28T00:00:00.000Z', end: '2024-02-28T00:00:00.000Z' });
  });

  it('period lengths follow month lengths (28, 29, 30, 31 days)', () => {
    const days = (ts: string, anchor: number) => {
      const p = periodOf(ts, anchor);
      return (Date.parse(p.end) - Date.parse(p.start)) / 86_400_000;
    };
    expect(days('2023-02-10T00:00:00Z', 1)).toBe(28);
    expect(days('2024-02-10T00:00:00Z', 1)).toBe(29);
    expect(days('2024-04-10T00:00:00Z', 1)).toBe(30);
    expect(days('2024-01-10T00:00:00Z', 1)).toBe(31);
    expect(days('2024-02-10T00:00:00Z', 5)).toBe(29); // Feb 5 → Mar 5 in a leap year
    expect(days('2100-02-10T00:00:00Z', 1)).toBe(28); // 2100 is not a leap year
    expect(days('2000-02-10T00:00:00Z', 1)).toBe(29); // 2000 is
  });

  it('consecutive periods tile time: each end is the next start', () => {
    let start = '2023-11-28T00:00:00.000Z';
    for (let i = 0; i < 30; i++) {
      const p = periodOf(start, 28);
      expect(p.start).toBe(start);
      expect(periodOf(Date.parse(p.end) - 1, 28).start).toBe(start);
      start = p.end;
    }
    expect(start).toBe('2026-05-28T00:00:00.000Z');
  });

  it('works on offsets, epoch ms and Dates alike', () => {
    expect(periodOf('2024-06-01T01:00:00+02:00', 1).start).toBe('2024-05-01T00:00:00.000Z'); // 23:00 UTC on May 31
    expect(periodOf(Date.parse('2024-06-01T00:00:00Z'), 1).start).toBe('2024-06-01T00:00:00.000Z');
    expect(periodOf(new Date('2024-06-01T00:00:00Z'), 1).start).toBe('2024-06-01T00:00:00.000Z');
  });

  it('refuses anchor days outside 1–28 and invalid timestamps', () => {
    expect(() => periodOf('2024-06-01T00:00:00Z', 29)).toThrow(RangeError);
    expect(() => periodOf('2024-06-01T00:00:00Z', 0)).toThrow(RangeError);
    expect(() => periodOf('2024-06-01T00:00:00Z', 1.5)).toThrow(RangeError);
    expect(() => periodOf('yesterday', 1)).toThrow(RangeError);
  });
});

describe('isPeriodBoundary / addDays', () => {
  it('only UTC midnight of the anchor day is a boundary', () => {
    expect(isPeriodBoundary('2024-06-15T00:00:00Z', 15)).toBe(true);
    expect(isPeriodBoundary('2024-06-15T00:00:00.001Z', 15)).toBe(false);
    expect(isPeriodBoundary('2024-06-16T00:00:00Z', 15)).toBe(false);
    expect(isPeriodBoundary('2024-06-15T02:00:00+02:00', 15)).toBe(true);
  });

  it('adds whole UTC days', () => {
    expect(addDays('2024-02-28T00:00:00.000Z', 1)).toBe('2024-02-29T00:00:00.000Z');
    expect(addDays('2024-06-01T00:00:00.000Z', 14)).toBe('2024-06-15T00:00:00.000Z');
    expect(addDays('2024-06-01T00:00:00.000Z', 0)).toBe('2024-06-01T00:00:00.000Z');
  });
});

describe('canonicalTimestamp', () => {
  it('normalises to UTC with milliseconds', () => {
    expect(canonicalTimestamp('2024-06-01T12:00:00Z')).toBe('2024-06-01T12:00:00.000Z');
    expect(canonicalTimestamp('2024-06-01T12:00Z')).toBe('2024-06-01T12:00:00.000Z');
    expect(canonicalTimestamp('2024-06-01T14:30:00+02:30')).toBe('2024-06-01T12:00:00.000Z');
    expect(canonicalTimestamp('2024-06-01T00:00:00-05:00')).toBe('2024-06-01T05:00:00.000Z');
    expect(canonicalTimestamp('2024-06-01T12:00:00.123456789Z')).toBe('2024-06-01T12:00:00.123Z');
    expect(canonicalTimestamp('2024-06-01T12:00:00.5Z')).toBe('2024-06-01T12:00:00.500Z');
  });

  it.each([
    '2024-02-30T00:00:00Z', // no such day
    '2023-02-29T00:00:00Z', // not a leap year
    '2024-06-01T24:00:00Z',
    '2024-06-01T12:60:00Z',
    '2024-06-01T12:00:60Z', // no leap seconds
    '2024-06-01T12:00:00', // no zone
    '2024-06-01',
    '2024-13-01T00:00:00Z',
    '2024-06-01T12:00:00+24:00',
    ' 2024-06-01T12:00:00Z',
    'not a date',
    '0000-01-01T00:00:00Z', // no year 0 in the store
    '0001-01-01T00:00:00+01:00', // year 0 once the offset is applied
    '9999-12-31T23:59:59-01:00', // year 10000
  ])('refuses %s', (s) => {
    expect(canonicalTimestamp(s)).toBeUndefined();
  });
});
