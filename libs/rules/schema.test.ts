import { DomainError } from '../errors/index.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import fc from 'fast-check';
import { instantOf } from '../names/index.js';
import { ajvErrorsToDetails, commonDateTime, compileFactSchema, newAjv } from './schema.js';

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

describe('the currency format', () => {
  it('holds an ISO 4217 code of list one, in the platform\'s schemas and an author\'s alike, and says so by path', () => {
    for (const validate of [newAjv().compile({ type: 'object', properties: { currency: { type: 'string', format: 'currency' } } }), compileFactSchema({ type: 'object', properties: { currency: { type: 'string', format: 'currency' } } })]) {
      expect(validate({ currency: 'EUR' })).toBe(true);
      expect(validate({ currency: 'ZZZ' })).toBe(false);
      expect(ajvErrorsToDetails(validate.errors, '/case')).toEqual([{ path: '/case/currency', message: 'must be an ISO 4217 currency code (list one, e.g. EUR, USD)' }]);
    }
  });
});

describe('a value a schema refuses with not', () => {
  it('says the value is not allowed (not ajv\'s "must NOT be valid"), quoting a scalar when the validator is verbose, never a whole object', () => {
    for (const verbose of [false, true]) {
      const v = newAjv(verbose).compile({ type: 'object', properties: { currency: { type: 'string', not: { enum: ['XAU'] } } } });
      expect(v({ currency: 'XAU' })).toBe(false);
      const [detail] = ajvErrorsToDetails(v.errors, '/case');
      expect(detail).toEqual({ path: '/case/currency', message: `${verbose ? "'XAU' " : ''}is not allowed here` });
    }
    const validate = newAjv().compile({ type: 'object', properties: { currency: { type: 'string', not: { enum: ['XAU', 'XTS'] } }, shape: { not: { required: ['a'] } } } });
    expect(validate({ currency: 'XAU' })).toBe(false);
    expect(ajvErrorsToDetails(validate.errors, '/case')).toEqual([{ path: '/case/currency', message: 'is not allowed here' }]);
    expect(validate({ shape: { a: 1 } })).toBe(false);
    expect(ajvErrorsToDetails(validate.errors, '/case')).toEqual([{ path: '/case/shape', message: 'is not allowed here' }]);
  });
});

describe('compileFactSchema', () => {
  it('refuses an $async schema: its validator answers a promise, which passes every value and rejects unobserved (the process exits)', () => {
    const schema = { $async: true, type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] };
    expect(() => compileFactSchema(schema, '/factSchema')).toThrow(/\$async/);
    expect(() => compileFactSchema(schema, '/factSchema')).not.toThrow(DomainError); // reported as an invalid JSON Schema
  });

  it('checks the patterns under draft-07 `dependencies` like every other subschema (SCHEMA_PATTERN_UNSUPPORTED by pointer)', () => {
    const schema = { dependencies: { a: { properties: { b: { type: 'string', pattern: '(a)\\1' } } }, c: ['d'] } };
    expect(() => compileFactSchema(schema, '/factSchema')).toThrow(
      expect.objectContaining({ code: 'SCHEMA_PATTERN_UNSUPPORTED', errors: [expect.objectContaining({ path: '/factSchema/dependencies/a/properties/b/pattern' })] }),
    );
  });
});

describe('the date-time format', () => {
  const rfc3339 = fullFormats['date-time'] as { validate: (s: string) => boolean };
  const full = (s: string) => rfc3339.validate(s) && instantOf(s) !== undefined;
  const d = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((x) => String(x).padStart(n, '0'));
  const pad = (n: number) => (x: number) => String(x).padStart(n, '0');
  /** Mostly a valid value, else a boundary just outside it, else any digits: one bad field at a time is common. */
  const field = (n: number, min: number, max: number, edges: string[]) =>
    fc.oneof({ weight: 8, arbitrary: fc.integer({ min, max }).map(pad(n)) }, { weight: 2, arbitrary: fc.constantFrom(...edges) }, { weight: 1, arbitrary: d(n) });
  // The shape of a date-time with each field valid, on an edge or anything, and every variant of separators,
  // fraction and zone.
  const shaped = fc
    .tuple(
      field(4, 2, 9998, ['0000', '0001', '0002', '9998', '9999', '2000', '2100', '2024']),
      field(2, 1, 12, ['00', '13', '02']),
      field(2, 1, 28, ['00', '29', '30', '31', '32']),
      fc.oneof({ weight: 8, arbitrary: fc.constant('T') }, fc.constantFrom('t', ' ', 'X', '')),
      field(2, 0, 23, ['24', '25']),
      field(2, 0, 59, ['60']),
      field(2, 0, 59, ['59', '60', '61']),
      fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 20 }).chain((k) => fc.oneof(d(Math.min(Math.max(k, 1), 15)), fc.constant('9'.repeat(20))).map((x) => `.${x.padEnd(k, '9').slice(0, k)}`))),
      fc.oneof(
        { weight: 6, arbitrary: fc.constant('Z') },
        { weight: 6, arbitrary: fc.tuple(fc.constantFrom('+', '-'), field(2, 0, 23, ['24']), field(2, 0, 59, ['60'])).map(([sg, h, m]) => `${sg}${h}:${m}`) },
        fc.constantFrom('z', '', '+0530', '+05', '+05:3', 'Z ', '+05:300'),
      ),
    )
    .map(([y, mo, da, t, h, mi, se, frac, zone]) => `${y}-${mo}-${da}${t}${h}:${mi}:${se}${frac}${zone}`);

  it('answers true on its fast path only where the full check does (RFC 3339 by ajv-formats, an instant in 0001–9999)', () => {
    // The range's ends, where an offset carries a valid date out of 0001–9999.
    const ends = fc.constantFrom('2020-01-01T00:00:59.999999999999999Z', '2020-06-15T12:30:59.99999999999999999+02:00', '2020-01-01T00:00:59.999999999Z', '0001-01-01T00:00:00+01:00', '0001-01-01T00:30:00+00:31', '9999-12-31T23:59:59-01:00', '9999-12-31T23:00:00-00:59', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z');
    fc.assert(
      fc.property(fc.oneof(shaped, ends, fc.string(), shaped.chain((s) => fc.nat(s.length).map((i) => s.slice(0, i) + s.slice(i + 1)))), (s) => {
        if (commonDateTime(s)) expect(full(s)).toBe(true);
      }),
      { numRuns: 50_000 },
    );
  });

  it('takes the fast path for the instants Date writes and for offsets', () => {
    const ms = fc.integer({ min: Date.parse('0002-01-02T00:00:00Z'), max: Date.parse('9998-12-30T00:00:00Z') });
    fc.assert(fc.property(ms, (t) => expect(commonDateTime(new Date(t).toISOString())).toBe(true)));
    expect(['2026-03-11T12:00:00+05:30', '2024-02-29T23:59:59.123456-08:00', '2026-03-11T12:00:00.5Z'].map(commonDateTime)).toEqual([true, true, true]);
    expect(['2023-02-29T00:00:00Z', '2026-03-11T24:00:00Z', '2026-03-11t12:00:00Z', '2026-03-11T12:00:00', '9999-01-01T00:00:00Z'].map(commonDateTime)).toEqual([false, false, false, false, false]);
  });

  it('accepts and refuses as the full check does, through a schema', () => {
    const v = newAjv().compile({ type: 'string', format: 'date-time' });
    fc.assert(fc.property(fc.oneof(shaped, fc.string()), (s) => expect(v(s)).toBe(full(s))), { numRuns: 20_000 });
  });
});
