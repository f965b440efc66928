import { componentChanges, groupTableRows, isQuietTableRow, lineDiff, paramDiff, parameterRows, parseRef, prettyLines } from './diff.js';
import { buildMatrix, shade } from './matrix.js';

describe('release diff', () => {
  it('keeps common lines and marks the changed one as removed then added', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c'])).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'del', text: 'b' },
      { kind: 'add', text: 'x' },
      { kind: 'same', text: 'c' },
    ]);
    expect(lineDiff([], ['x'])).toEqual([{ kind: 'add', text: 'x' }]);
  });

  it('lines JSON up by sorted keys', () => {
    expect(prettyLines({ b: 1, a: 2 })).toEqual(prettyLines({ a: 2, b: 1 }));
  });

  it('tabulates parameters: changed, added, removed, same', () => {
    expect(paramDiff({ limit: 50000, days: 30, gone: 1 }, { limit: 20000, days: 30, added: true }).map((p) => [p.name, p.change])).toEqual([
      ['added', 'added'],
      ['days', 'same'],
      ['gone', 'removed'],
      ['limit', 'changed'],
    ]);
  });

  it('compares object parameters whatever their key order (a stored pack may reorder them)', () => {
    expect(paramDiff({ t: { a: 1, b: { c: 2, d: 3 } } }, { t: { b: { d: 3, c: 2 }, a: 1 } })).toEqual([{ name: 't', before: expect.anything(), after: expect.anything(), change: 'same' }]);
  });

  it('tabulates a parameter table entry by entry, leaving out the entries that did not change', () => {
    const table = (values: Record<string, number>, d = 10000) => ({ description: 'per currency', key: { fact: 'currency' }, values, default: d });
    const before = parameterRows({ parameters: { age: 86400 }, parameterTables: { amount: table({ JPY: 16000, GBP: 8700, BRL: 63000 }) } });
    const after = parameterRows({ parameters: { age: 86400 }, parameterTables: { amount: { ...table({ BRL: 63000, JPY: 17000, XYZ: 1 }, 12000), key: { fact: 'currency' } } } });
    const rows = paramDiff(before, after).filter((p) => !isQuietTableRow(p, ['amount']));
    expect(rows.map((p) => [p.name, p.change])).toEqual([
      ['age', 'same'],
      ['amount (default)', 'changed'],
      ['amount (key)', 'same'],
      ['amount[GBP]', 'removed'],
      ['amount[JPY]', 'changed'],
      ['amount[XYZ]', 'added'],
    ]);
    // Each table's rows together, after a parameter whose name sorts between them.
    const grouped = groupTableRows(paramDiff({ ...before, amountCap: 1 }, { ...after, amountCap: 2 }), ['amount']).map((p) => p.name);
    expect(grouped.indexOf('amountCap')).toBeGreaterThan(grouped.indexOf('amount[XYZ]'));
    // A number that became a table: the number removed, the table's rows added.
    const became = paramDiff(parameterRows({ parameters: { amount: 10000 } }), after).map((p) => [p.name, p.change]);
    expect(became).toEqual(expect.arrayContaining([['amount', 'removed'], ['amount[JPY]', 'added'], ['amount (default)', 'added']]));
  });

  it('lists components whose versions differ', () => {
    expect(componentChanges({ a: '1.0.0', b: '1.0.0' }, { a: '1.1.0', b: '1.0.0', c: '2.0.0' })).toEqual([
      { name: 'a', before: '1.0.0', after: '1.1.0' },
      { name: 'c', before: undefined, after: '2.0.0' },
    ]);
  });

  it('parses name@version', () => {
    expect(parseRef('default@1.3.0')).toEqual({ name: 'default', version: '1.3.0' });
    expect(parseRef('nope')).toBeUndefined();
  });
});

describe('transition matrix', () => {
  it('builds from the summary, in the declared outcome order, counting changes off the diagonal', () => {
    const m = buildMatrix({ 'APPROVE->REVIEW': 3, 'APPROVE->APPROVE': 10, 'DENY->DENY': 2, 'REVIEW->APPROVE': 1 }, ['APPROVE', 'DENY', 'REVIEW']);
    expect(m.outcomes).toEqual(['APPROVE', 'DENY', 'REVIEW']);
    expect(m.counts.APPROVE).toEqual({ REVIEW: 3, APPROVE: 10 });
    expect([m.total, m.changed, m.max]).toEqual([16, 4, 10]);
  });

  it('shades by log scale, zero for empty cells', () => {
    expect(shade(0, 10)).toBe(0);
    expect(shade(10, 10)).toBe(1);
    expect(shade(1, 10)).toBeGreaterThan(0.2);
  });
});
