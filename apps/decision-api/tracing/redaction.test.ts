/** What spans keep of statements and URLs: the shape, never a value. */
import fc from 'fast-check';
import { maskSqlLiterals, pathOnly, queryNamesOnly, sqlCommand } from './redaction.js';

describe('maskSqlLiterals', () => {
  it.each([
    ["select * from api_keys where key_hash = '59c7dd' and revoked_at is null", 'select * from api_keys where key_hash = ? and revoked_at is null'],
    ["insert into t (a, b) values ('it''s', E'a\\'b')", 'insert into t (a, b) values (?, ?)'],
    ["select timestamptz '2026-01-01T00:00:00Z', $$x ' y$$, $q$z$q$", 'select timestamptz ?, ?, ?'],
    ["select 1 -- don't\n, 'secret'", 'select 1 \n, ?'],
    ["select /* it's */ 'secret'", 'select  ?'],
    ['select * from t where a = $1 and b = $2', 'select * from t where a = $1 and b = $2'],
    ["select 'unterminated secret", 'select ?'],
  ])('%j → %j', (sql, masked) => {
    expect(maskSqlLiterals(sql)).toBe(masked);
  });

  it('leaves no inlined value, whatever the value holds', () => {
    // A value as MikroORM inlines it: quotes doubled inside '…'.
    const value = fc.string({ minLength: 1, unit: 'grapheme' }).filter((v) => v.trim().length > 2);
    fc.assert(
      fc.property(value, value, (a, b) => {
        const sql = `insert into audit_log (actor, details) values ('${a.replaceAll("'", "''")}', '${b.replaceAll("'", "''")}') -- ${a.replaceAll('\n', ' ').replaceAll('\r', ' ')}`;
        const masked = maskSqlLiterals(sql);
        expect(masked).toBe('insert into audit_log (actor, details) values (?, ?) ');
      }),
    );
  });
});

describe('query strings and paths', () => {
  it('keeps parameter names, drops their values', () => {
    expect(queryNamesOnly('customer=cus_3001&limit=5&flag')).toBe('customer=&limit=&flag');
    expect(queryNamesOnly('')).toBe('');
  });

  it('cuts the query off a request URL', () => {
    expect(pathOnly('/v1/decisions?customer=cus_3001')).toBe('/v1/decisions');
    expect(pathOnly('/v1/decisions')).toBe('/v1/decisions');
  });
});

describe('sqlCommand', () => {
  it("names a statement by its command past the pool's leading marks", () => {
    expect(sqlCommand('/* generic plan */ \n      with claim as (insert into t values ($1)) select 1')).toBe('WITH');
    expect(sqlCommand('/* then commit */ /* generic index plan */ select 1')).toBe('SELECT');
    expect(sqlCommand('commit;')).toBe('COMMIT');
    expect(sqlCommand('insert(x)')).toBe('INSERT');
  });

  it('has none for a text of comments alone, or an unterminated one', () => {
    expect(sqlCommand('/* only a comment */')).toBeUndefined();
    expect(sqlCommand('/* never closed select 1')).toBeUndefined();
    expect(sqlCommand('   ')).toBeUndefined();
  });
});
