import { jsonBodyProblem, MAX_JSON_DEPTH } from './json-body.js';

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
});
