/**
 * CompiledStatements: a statement compiled once per shape and bound to a call's values is the statement the builder
 * makes for that call, text and parameters alike. Checked on the refund decision's read with random feature
 * declarations and values (the statement it compiles in production), with no database: compiling needs none.
 */
import fc from 'fast-check';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { FeatureQuery } from '../decisions/types/features.js';
import { CompiledStatements } from './compiled-statements.js';
import { featureSlots, featuresShape } from './feature-history.repository.js';
import { beforeRefundDecisionSql } from './refund-decisions.repository.js';

const db = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

type Declared = Pick<FeatureQuery, 'entity' | 'source' | 'kinds' | 'outcomes' | 'reasons' | 'where' | 'aggregate' | 'distinctEntity'>;

const text = fc.string({ minLength: 1, maxLength: 8 });
const declaration: fc.Arbitrary<Declared> = fc
  .record({
    entity: fc.constantFrom('customer', 'device', "o'brien"),
    source: fc.constantFrom<FeatureQuery['source']>('decision', 'refund', 'ledger'),
    kinds: fc.uniqueArray(text, { minLength: 1, maxLength: 3 }),
    outcomes: fc.option(fc.array(text, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    reasons: fc.option(fc.array(text, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    where: fc.option(fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)), { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
    aggregate: fc.constantFrom<FeatureQuery['aggregate']>('count', 'sum', 'distinct', 'firstSeen'),
  })
  .map(({ outcomes, reasons, where, ...d }) => ({
    ...d,
    ...(outcomes && { outcomes }),
    ...(reasons && { reasons }),
    ...(where && { where }),
    ...(d.aggregate === 'distinct' && { distinctEntity: 'customer' }),
  }));

/** A call's values for one declared feature. */
const values = fc.record({
  key: text,
  from: fc.date({ noInvalidDate: true }),
  to: fc.date({ noInvalidDate: true }),
  currentKey: fc.option(text, { nil: null }),
});

const call = fc.record({ tenant: text, decisionId: fc.uuid(), refundId: text, orderId: text });

/** The queries a decision type with these declarations asks for one case (the same declaration objects every time). */
function queries(declared: readonly Declared[], vs: readonly { key: string; from: Date; to: Date; currentKey: string | null }[], exclude: readonly (string | undefined)[]): FeatureQuery[] {
  return declared.map((d, i) => ({
    name: `f${i}_${vs[i]!.key}`, // a per-call field the text must not freeze
    ...d,
    key: vs[i]!.key,
    from: vs[i]!.from,
    to: vs[i]!.to,
    ...(d.aggregate === 'distinct' && { currentKey: vs[i]!.currentKey }),
    ...(exclude[i] !== undefined && { excludeDecision: exclude[i] }),
    declared: d,
  }));
}

describe('CompiledStatements', () => {
  it('binds the text and parameters the builder makes for each call, compiled once per shape', () => {
    fc.assert(
      fc.property(
        fc.array(declaration, { minLength: 0, maxLength: 4 }).chain((declared) =>
          fc.tuple(
            fc.constant(declared),
            fc.array(fc.tuple(call, fc.array(values, { minLength: declared.length, maxLength: declared.length }), fc.array(fc.option(fc.uuid(), { nil: undefined }), { minLength: declared.length, maxLength: declared.length })), { minLength: 1, maxLength: 4 }),
          ),
        ),
        ([declared, calls]) => {
          const statements = new CompiledStatements<{ tenant: string; decisionId: string; refundId: string; orderId: string; features: readonly FeatureQuery[] }>();
          for (const [c, vs, exclude] of calls) {
            const features = queries(declared, vs, exclude);
            const shape = featuresShape(features)!;
            const bound = statements.bind(db, shape, { ...c, features }, (slot) =>
              beforeRefundDecisionSql(slot((a) => a.tenant), slot((a) => a.decisionId), slot((a) => a.refundId), slot((a) => a.orderId), featureSlots(features, slot)),
            );
            const direct = beforeRefundDecisionSql(c.tenant, c.decisionId, c.refundId, c.orderId, features).compile(db);
            expect(bound.sql).toBe(direct.sql);
            expect(bound.parameters).toStrictEqual(direct.parameters);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one shape per declaration set and excluded decisions: another declaration object is another shape', () => {
    const d: Declared = { entity: 'customer', source: 'decision', kinds: ['refund'], aggregate: 'count' };
    const v = { key: 'k', from: new Date(0), to: new Date(1), currentKey: null };
    expect(featuresShape(queries([d], [v], [undefined]))).toBe(featuresShape(queries([d], [{ ...v, key: 'other' }], [undefined])));
    expect(featuresShape(queries([d], [v], ['01900000-0000-7000-8000-000000000001']))).not.toBe(featuresShape(queries([d], [v], [undefined])));
    expect(featuresShape(queries([{ ...d }], [v], [undefined]))).not.toBe(featuresShape(queries([d], [v], [undefined])));
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, declared: undefined }])).toBeUndefined();
    // A copy that changed a declared part but kept the declaration is not that declaration's shape.
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, kinds: ['other'] }])).toBeUndefined();
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, where: { x: 1 } }])).toBeUndefined();
  });

  it('keeps a bounded number of shapes', () => {
    const statements = new CompiledStatements<{ n: number }>(2);
    for (let i = 0; i < 5; i++) {
      const q = statements.bind(db, `s${i}`, { n: i }, (slot) => sql`select ${slot((a) => a.n)}::int as n, ${i} as shape`);
      expect(q.parameters).toEqual([i, i]);
      expect(statements.size).toBeLessThanOrEqual(2);
    }
  });
});
