import fc from 'fast-check';
import { canonicalJson } from './content-hash.js';

/** The first implementation, whose output is stored in request and content hashes: the fast one must match it exactly. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

describe('canonicalJson', () => {
  it('spells every JSON value exactly as the original implementation did', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => canonicalJson(v) === reference(v)), { numRuns: 2_000 });
  });

  it('also with undefined members, nested arrays of them, and keys that sort by code unit', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(undefined, null, true, 0, -0, 1.5, 'é', '\u0000', '\ud83d\ude00'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 3 }), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(fc.property(value, (v) => canonicalJson(v) === reference(v)), { numRuns: 2_000 });
  });

  it('sorts keys and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, undefined], c: undefined } })).toBe('{"a":{"d":[2,null]},"b":1}');
  });
});
