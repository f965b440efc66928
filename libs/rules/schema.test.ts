import { newAjv } from './schema.js';

describe('newAjv', () => {
  it("date-time: RFC 3339 that Date reads, in years 0001–9999 once the offset is applied (fact schemas, request bodies)", () => {
    const valid = newAjv().compile({ type: 'string', format: 'date-time' });
    for (const ok of ['2026-03-11T12:00:00Z', '2026-03-11T12:00:00.123456789+05:30', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z']) {
      expect([ok, valid(ok)]).toEqual([ok, true]);
    }
    // Each of these once passed the format and failed later: a driver error or a RangeError (500).
    for (const bad of ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00', '2025-12-31T23:59:60Z', '2020-01-01T00:00:00+01', '2026-02-30T00:00:00Z']) {
      expect([bad, valid(bad)]).toEqual([bad, false]);
    }
  });
});
