/**
 * CompiledStatements: a statement compiled once per shape and bound to a call's values is the statement the builder
 * makes for that call, text and parameters alike. Checked on the refund decision's read with random feature
 * declarations and values, on its claim and write with random shapes and values, on a refund's state change and a
 * payout's success, and on an Idempotency-Key's claim and answer (the statements it compiles in production), with no
 * database: compiling needs none.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import type { FeatureQuery } from '../decisions/types/features.js';
import { CompiledStatements, shapeKey } from './compiled-statements.js';
import { compilingKysely } from './compiling-kysely.test-support.js';
import { claimSql, featureSlots, featuresShape, type ClaimArgs } from './feature-history.repository.js';
import { beforeRefundDecisionSql, refundDecisionWriteSql, type WriteArgs, type WriteShape } from './refund-decisions.repository.js';
import { insertClaimedSql, insertDecidedSql, insertDecisionSql, type ClaimedDecision, type IdempotencyClaim, type StoredDecisionRow } from './decisions.repository.js';
import type { RecordedDecision } from './feature-history.repository.js';
import { transitionWriteSql, type TransitionWrite } from './refunds.repository.js';
import { paidSql, type PaidStamp } from './payouts.repository.js';
import { keyAnswerSql, keyClaimSql, type KeyAnswer, type KeyClaim } from './idempotency.repository.js';
import { CUSTOM_PLAN_AGAIN, GENERIC_INDEX_PLAN, GENERIC_PLAN, HELD, THEN_COMMIT } from './prepared-statements.js';

const db = compilingKysely();

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
    // Narrowed to one decision (a source's decisionId): a filter more, another shape; the id itself is a parameter.
    const [q] = queries([d], [v], [undefined]);
    const named = (id: string) => featuresShape([{ ...q!, decisionId: id }]);
    expect(named('01900000-0000-7000-8000-000000000001')).not.toBe(featuresShape([q!]));
    expect(named('01900000-0000-7000-8000-000000000001')).toBe(named('01900000-0000-7000-8000-000000000002'));
    expect(named('01900000-0000-7000-8000-000000000001')).not.toBe(featuresShape(queries([d], [v], ['01900000-0000-7000-8000-000000000001'])));
    expect(featuresShape(queries([{ ...d }], [v], [undefined]))).not.toBe(featuresShape(queries([d], [v], [undefined])));
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, declared: undefined }])).toBeUndefined();
    // A copy that changed a declared part but kept the declaration is not that declaration's shape.
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, kinds: ['other'] }])).toBeUndefined();
    expect(featuresShape([{ ...queries([d], [v], [undefined])[0]!, where: { x: 1 } }])).toBeUndefined();
  });

  it("a decision's claim and write (a refund's, any other type's), bound for each call, are the statements built with that call's values", () => {
    const time = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });
    const json = fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 });
    const amount = fc.nat({ max: 1_000_000 });
    const write = fc.record({
      review: fc.boolean(),
      history: fc.boolean(),
      last: fc.boolean(),
      reasons: fc.array(text, { maxLength: 3 }),
      events: fc.array(fc.record({ id: fc.uuid(), type: text, data: json }), { minLength: 1, maxLength: 3 }),
      strings: fc.array(text, { minLength: 12, maxLength: 12 }),
      amounts: fc.array(amount, { minLength: 4, maxLength: 4 }),
      times: fc.array(time, { minLength: 3, maxLength: 3 }),
      features: fc.option(json, { nil: null }),
      reward: fc.option(json, { nil: null }),
    });
    const args = (w: typeof write extends fc.Arbitrary<infer T> ? T : never): { shape: WriteShape; args: WriteArgs } => {
      const [id, tenant, outcome, key, refundId, orderId, customerId, state, reason, keyId, band, entityKey] = w.strings as [string, string, string, string, string, string, string, string, string, string, string, string];
      const [requested, approved, captured, risk] = w.amounts as [number, number, number, number];
      const [createdAt, evaluatedAt, deadline] = w.times as [Date, Date, Date];
      const decision = {
        id, tenant, domain: 'refund', outcome, riskScore: risk, releaseName: 'default', releaseVersion: '1.4.0', components: { pack: key }, caseData: { refundId },
        features: w.features, documentJson: JSON.stringify({ id }), answerJson: JSON.stringify({ outcome }), reasonCodes: w.reasons, idempotencyKey: key, evaluatedAt, createdAt,
        actor: { id: keyId, role: 'service' },
      };
      const refund = { refundId, type: 'refund', orderId, customerId, state: state as never, requestedAmount: requested, approvedAmount: approved, capturedAmount: captured, currency: 'EUR', reward: w.reward as never, requestedBy: keyId };
      const review = { id: `${id}r`, tenant, type: 'refund', decisionId: id, refundId, amount: requested, currency: 'EUR', riskBand: band, deadline, leaseMinutes: risk, requiredApprovals: 2, requestedBy: keyId, createdAt };
      const history = { tenant, decisionId: id, type: 'refund', outcome, reasons: w.reasons, record: { at: evaluatedAt, keys: { customer: entityKey }, amount: approved, attributes: { reason } }, createdAt, refund: { state, approvedAmount: approved } };
      return {
        shape: { last: w.last, review: w.review, history: w.history, reasons: w.reasons.length > 0, events: w.events.length },
        args: {
          w: { decision, refund, transition: { id: `${id}t`, actor: { kind: 'system' } as never, reason }, ...(w.review && { review }), ...(w.history && { history }), events: w.events },
          actor: { id: keyId, role: 'system' },
        },
      };
    };
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 5 }), (calls) => {
        const writes = new CompiledStatements<WriteArgs>();
        const claims = new CompiledStatements<ClaimArgs>();
        const claimedStatements = new CompiledStatements<{ d: ClaimedDecision; c: IdempotencyClaim }>();
        const decidedStatements = new CompiledStatements<{ d: ClaimedDecision; history?: RecordedDecision }>();
        const insertStatements = new CompiledStatements<StoredDecisionRow>();
        for (const call of calls) {
          const { shape, args: a } = args(call);
          const bound = writes.bind(db, shapeKey(shape), a, (slot) => refundDecisionWriteSql(shape, slot));
          const direct = refundDecisionWriteSql(shape, (get) => get(a)).compile(db);
          expect(bound.sql).toBe(direct.sql);
          expect(bound.parameters).toStrictEqual(direct.parameters);
          const d = a.w.decision;
          const c: ClaimArgs = {
            c: { tenant: d.tenant, key: call.strings[3]!, requestHash: d.outcome, method: 'POST', path: '/v1/decisions/refund', status: 201, contentType: 'application/json', decisionId: d.id, createdAt: d.createdAt },
            locks: { ...(call.last && { orderId: a.w.refund.orderId }), entities: call.amounts.map(String) },
          };
          const claimShape = { ordered: c.locks.orderId !== undefined, held: call.amounts.length % 2 === 0 };
          const claim = claims.bind(db, shapeKey(claimShape), c, (slot) => claimSql(claimShape, slot));
          const built = claimSql(claimShape, (get) => get(c)).compile(db);
          expect(claim.sql).toBe(built.sql);
          expect(claim.parameters).toStrictEqual(built.parameters);
          // Any other decision type's: claim and insert in one statement, or the insert after the claim.
          const other: ClaimedDecision = { ...d, event: { id: call.events[0]!.id, data: call.events[0]!.data } };
          const reasons = other.reasonCodes.length > 0;
          const claimed = { d: other, c: c.c };
          const one = claimedStatements.bind(db, shapeKey({ reasons }), claimed, (slot) => insertClaimedSql(reasons, slot));
          const oneBuilt = insertClaimedSql(reasons, (get) => get(claimed)).compile(db);
          expect(one.sql).toBe(oneBuilt.sql);
          expect(one.parameters).toStrictEqual(oneBuilt.parameters);
          const decided: { d: ClaimedDecision; history?: RecordedDecision } = { d: other, ...(a.w.history && { history: a.w.history }) };
          const decidedShape = { last: shape.last, history: shape.history, reasons };
          const after = decidedStatements.bind(db, shapeKey(decidedShape), decided, (slot) => insertDecidedSql(decidedShape, slot));
          const afterBuilt = insertDecidedSql(decidedShape, (get) => get(decided)).compile(db);
          expect(after.sql).toBe(afterBuilt.sql);
          expect(after.parameters).toStrictEqual(afterBuilt.parameters);
          // A decision an effect makes beside its own writes (a redemption's gate, a reviewer's). Both sides use one
          // builder: this catches a builder that reads a call's values other than through its stand-ins (a value compiled
          // into the text); what the statement stores is checked against the database in decision-reasons.test.ts.
          const made = insertStatements.bind(db, shapeKey({ reasons }), d, (slot) => insertDecisionSql(reasons, slot));
          const madeBuilt = insertDecisionSql(reasons, (get) => get(d)).compile(db);
          expect(made.sql).toBe(madeBuilt.sql);
          expect(made.parameters).toStrictEqual(madeBuilt.parameters);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("an Idempotency-Key's claim and answer, bound for each call, are the statements the repository built per call before", () => {
    const time = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });
    const call = fc.record({
      claim: fc.record({ tenant: text, key: text, requestHash: text, method: fc.constantFrom('POST', 'PUT'), path: text, now: time }),
      answer: fc.record({ tenant: text, key: text, status: fc.integer({ min: 200, max: 599 }), contentType: text, body: text }),
      last: fc.boolean(),
    });
    // The templates as IdempotencyRepository built them on every call until they were compiled once.
    // Both are planned once per connection since (the claim: GENERIC_PLAN, its RETURNING planning the rest per execution
    // again; the last answer: GENERIC_INDEX_PLAN); the texts are otherwise the same.
    const claimBefore = (r: KeyClaim) =>
      sql`${sql.raw(HELD + GENERIC_PLAN)}with claimed as (insert into idempotency_records (tenant, key, request_hash, method, path, created_at)
       values (${r.tenant}, ${r.key}, ${r.requestHash}, ${r.method}, ${r.path}, ${r.now.toISOString()}::timestamptz)
       on conflict (tenant, key) do nothing returning ${sql.raw(CUSTOM_PLAN_AGAIN)})
      select idempotency_key_taken() where not exists (select from claimed)`.compile(db);
    const answerBefore = (r: KeyAnswer, last: boolean) =>
      sql`${last ? sql.raw(THEN_COMMIT + GENERIC_INDEX_PLAN) : sql``}update idempotency_records set status = ${r.status}::integer, content_type = ${r.contentType}, body = ${r.body}
      where tenant = ${r.tenant} and key = ${r.key}`.compile(db);
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 6 }), (calls) => {
        const claims = new CompiledStatements<KeyClaim>();
        const answers = new CompiledStatements<KeyAnswer>();
        for (const c of calls) {
          const claimed = claims.bind(db, '', c.claim, keyClaimSql);
          expect(claimed.sql).toBe(claimBefore(c.claim).sql);
          expect(claimed.parameters).toStrictEqual(claimBefore(c.claim).parameters);
          const answered = answers.bind(db, shapeKey({ last: c.last }), c.answer, (slot) => keyAnswerSql(c.last, slot));
          expect(answered.sql).toBe(answerBefore(c.answer, c.last).sql);
          expect(answered.parameters).toStrictEqual(answerBefore(c.answer, c.last).parameters);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("a refund's state change and a payout's success, bound for each call, are the statements built with that call's values", () => {
    const json = fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 });
    const state = fc.constantFrom('APPROVED', 'PROCESSING', 'SUCCEEDED', 'IN_REVIEW', 'FAILED') as fc.Arbitrary<TransitionWrite['to']>;
    const change = fc.record({
      moves: fc.boolean(),
      w: fc.record({
        tenant: text,
        refundId: text,
        to: state,
        from: fc.option(state, { nil: null }),
        approvedAmount: fc.nat({ max: 1_000_000 }),
        at: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
        transitionId: fc.uuid(),
        actor: fc.record({ id: text, role: text }),
        reason: fc.option(text, { nil: null }),
        decisionId: fc.option(fc.uuid(), { nil: null }),
        event: fc.record({ id: fc.uuid(), data: json }),
      }),
      paid: fc.record({ tenant: text, refundId: text, providerRef: text }),
    });
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 6 }), (calls) => {
        const transitions = new CompiledStatements<TransitionWrite>();
        const paid = new CompiledStatements<PaidStamp>();
        for (const { moves, w, paid: p } of calls) {
          const bound = transitions.bind(db, shapeKey({ moves }), w, (slot) => transitionWriteSql(moves, slot));
          const built = transitionWriteSql(moves, (get) => get(w)).compile(db);
          expect(bound.sql).toBe(built.sql);
          expect(bound.parameters).toStrictEqual(built.parameters);
          const stamped = paid.bind(db, '', p, paidSql);
          const stampedBuilt = paidSql((get) => get(p)).compile(db);
          expect(stamped.sql).toBe(stampedBuilt.sql);
          expect(stamped.parameters).toStrictEqual(stampedBuilt.parameters);
        }
        expect(transitions.size).toBe(new Set(calls.map((c) => c.moves)).size);
        expect(paid.size).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it('names two shapes that differ in any part by different keys', () => {
    const shape = fc.record({ last: fc.boolean(), review: fc.boolean(), history: fc.boolean(), reasons: fc.boolean(), events: fc.integer({ min: 0, max: 12 }) });
    fc.assert(fc.property(shape, shape, (a, b) => expect(shapeKey(a) === shapeKey(b)).toBe(JSON.stringify(a) === JSON.stringify(b))), { numRuns: 500 });
    // Every shape of the refund write, and of the generic insert, has a key of its own.
    const keys = new Set<string>();
    for (let i = 0; i < 16; i++) for (let events = 1; events <= 3; events++) keys.add(shapeKey({ last: !!(i & 1), review: !!(i & 2), history: !!(i & 4), reasons: !!(i & 8), events }));
    expect(keys.size).toBe(48);
    expect(shapeKey({ events: 1 })).not.toBe(shapeKey({ events: 11 }));
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
