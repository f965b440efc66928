/** The simple JSONPath subset. */
import { displayPath, parseSimplePath, pointer, resolveSegments } from './json-path.js';

describe('simple JSONPath', () => {
  it('parses $.a.b and $.a[0] forms, and nothing else', () => {
    expect(parseSimplePath('$.order.items[0].sku')).toEqual(['order', 'items', 0, 'sku']);
    expect(parseSimplePath('$[2]')).toEqual([2]);
    for (const bad of ['$', 'order.total', '$..total', '$.items[*]', '$.a[-1]', '$.a[01]', "$['a']", '$.a b', '$.items[?(@.x)]']) {
      expect(parseSimplePath(bad)).toBeUndefined();
    }
  });

  it('resolves own properties only; anything missing is undefined', () => {
    const value = { a: { b: [10, { c: 'x' }] }, n: null };
    expect(resolveSegments(value, ['a', 'b', 1, 'c'])).toBe('x');
    expect(resolveSegments(value, ['a', 'z'])).toBeUndefined();
    expect(resolveSegments(value, ['n', 'x'])).toBeUndefined();
    expect(resolveSegments(value, ['constructor'])).toBeUndefined();
    expect(resolveSegments(value, ['a', 'b', 'length'])).toBe(2); // arrays own `length`; the type check refuses such paths anyway
  });

  it('formats paths and pointers', () => {
    expect(displayPath('order', ['items', 0, 'sku'])).toBe('order.items[0].sku');
    expect(pointer('rules', 2, 'a/b~c')).toBe('/rules/2/a~1b~0c');
  });
});
