import { jsonBodyProblem, MAX_JSON_DEPTH, mayHaveProblem } from './json-body.js';

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe('jsonBodyProblem', () => {
  it('accepts ordinary bodies, surrogate pairs included', () => {
    expect(jsonBodyProblem({ case: { name: 'Zoë 😀', items: [1, 'x', null, { ok: true }] } })).toBeUndefined();
    expect(jsonBodyProblem(nested(MAX_JSON_DEPTH))).toBeUndefined();
  });

  it('refuses nesting past the limit, iteratively, naming where', () => {
    expect(jsonBodyProblem(nested(MAX_JSON_DEPTH + 1))).toMatchObject({ path: '/a'.repeat(MAX_JSON_DEPTH) });
    expect(jsonBodyProblem(nested(100_000))?.message).toContain('deeper');
  });

  it('refuses NUL characters and lone surrogates in values and in property names', () => {
    expect(jsonBodyProblem({ a: [{ b: 'x\u0000y' }] })).toMatchObject({ path: '/a/0/b' });
    expect(jsonBodyProblem({ a: 'x\ud800' })).toMatchObject({ path: '/a' });
    expect(jsonBodyProblem({ a: '\udc00x' })).toMatchObject({ path: '/a' });
    expect(jsonBodyProblem({ a: { 'k\u0000': 1 } })).toMatchObject({ path: '/a' });
  });

  it('refuses a property named like a member of every object, wherever it is', () => {
    // What JSON.parse makes of a body: own properties (an object literal would set the prototype instead).
    const parsed = (text: string) => JSON.parse(text) as unknown;
    expect(jsonBodyProblem(parsed('{"roles":["service",{"toString":0}]}'))).toMatchObject({ path: '/roles/1/toString' });
    expect(jsonBodyProblem(parsed('{"a":{"valueOf":1}}'))).toMatchObject({ path: '/a/valueOf' });
    expect(jsonBodyProblem(parsed('{"hasOwnProperty":1}'))).toMatchObject({ path: '/hasOwnProperty' });
    expect(jsonBodyProblem(parsed('{"a":"toString","toStrings":1}'))).toBeUndefined();
  });
});

describe('mayHaveProblem (the text pre-check that skips the walk)', () => {
  it('never misses what the walk would find', () => {
    for (const v of [nested(MAX_JSON_DEPTH + 1), { a: 'x\u0000y' }, { a: 'x\ud800' }, { a: '\udc00x' }, { 'k\u0000': 1 }, JSON.parse('{"a":{"valueOf":1}}')]) {
      expect(jsonBodyProblem(v)).toBeDefined();
      expect(mayHaveProblem(JSON.stringify(v))).toBe(true);
    }
    // A reserved name spelled with escapes is still that name once parsed.
    const escaped = '{"\\u0074oString":1}';
    expect(jsonBodyProblem(JSON.parse(escaped))).toBeDefined();
    expect(mayHaveProblem(escaped)).toBe(true);
  });

  it('lets an ordinary body through without the walk, surrogate pairs included', () => {
    expect(mayHaveProblem(JSON.stringify({ case: { name: 'Zoë 😀', items: [{ a: 1 }, { b: [2] }] } }))).toBe(false);
    expect(mayHaveProblem('{"a":"\\ud83d\\ude00"}')).toBe(true); // an escaped pair: walked, and then found fine
    expect(jsonBodyProblem(JSON.parse('{"a":"\\ud83d\\ude00"}'))).toBeUndefined();
  });
});
