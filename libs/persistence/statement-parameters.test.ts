/**
 * Statements that number their `?` placeholders themselves (withParameters): the text and parameters
 * must be exactly those Kysely compiles from the same parts, which is what the store sent before.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { compilingKysely } from './compiling-kysely.test-support.js';
import { withParameters } from './statement-parameters.js';

const db = compilingKysely();

/** The text and parameters as Kysely builds them from the parts between the placeholders. */
function kyselyBuilt(text: string, params: readonly unknown[]) {
  const parts = text.split('?');
  return sql.join(parts.map((part, i) => (i < params.length ? sql`${sql.raw(part)}${params[i]}` : sql.raw(part))), sql``).compile(db);
}

describe('withParameters', () => {
  it('numbers each placeholder in order, as Kysely compiles the same statement', () => {
    const part = fc.string({ maxLength: 30 }).map((s) => s.replaceAll('?', ''));
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean());
    fc.assert(
      fc.property(fc.array(fc.tuple(part, value), { maxLength: 60 }), part, (pairs, last) => {
        const text = pairs.map(([p]) => `${p}?`).join('') + last;
        const params = pairs.map(([, v]) => v);
        const ours = withParameters(text, params);
        const theirs = kyselyBuilt(text, params);
        expect(ours.sql).toBe(theirs.sql);
        expect(ours.parameters).toStrictEqual(theirs.parameters);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a text whose placeholders and parameters do not match', () => {
    expect(() => withParameters('select ?, ?', ['a'])).toThrow('statement has 2 placeholders for 1 parameters');
    expect(() => withParameters('select ?', ['a', 'b'])).toThrow('statement has 1 placeholders for 2 parameters');
  });
});
