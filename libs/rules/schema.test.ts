import { DomainError } from '../errors/index.js';
import { compileFactSchema, newAjv } from './schema.js';

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
