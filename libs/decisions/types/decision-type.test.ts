import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DomainError } from '../../errors/index.js';
import { checkReleaseTypes, CompiledRelease, FileComponentSource, ReleaseCompiler, simulateDecision } from '../index.js';
import { validateDecisionType, type DecisionTypeDocument } from './decision-type.js';
import { bindDecisionType } from './pipeline.js';
import { LoadedPolicy } from '../../policies/index.js';
import { variantBundle } from '../../policies/bundle.test-support.js';

const root = resolve(import.meta.dirname, '../../..');
const refund = () => JSON.parse(readFileSync(resolve(root, 'decision-types/refund/1.0.0.json'), 'utf8')) as Record<string, any>;

function errorsOf(json: unknown): { path: string; message: string }[] {
  try {
    validateDecisionType(json);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('DECISION_TYPE_INVALID');
    return (e as DomainError).errors;
  }
  throw new Error('expected the document to be refused');
}

describe('validateDecisionType', () => {
  it('accepts the built-in types', () => {
    expect(validateDecisionType(refund()).name).toBe('refund');
  });

  it('names only the errors of the kind of step a step says it is', () => {
    const t = refund();
    t.pipeline[2] = { step: 'rules', packKind: 'Bad Kind' };
    expect(errorsOf(t)).toEqual([expect.objectContaining({ path: '/pipeline/2/packKind' })]);
    t.pipeline[2] = { step: 'magic' };
    expect(errorsOf(t)).toEqual([{ path: '/pipeline/2/step', message: 'must be one of derive, policy, rules, enrich' }]);
  });

  it('refuses what a schema cannot say: a step shadowing a case field, an unknown outcome, an undeclared caseRef', () => {
    const t = refund();
    t.pipeline[0].as = 'order';
    t.output.approvedAmount.when = ['ACCEPT'];
    t.caseRef = '/refundID';
    expect(errorsOf(t).map((e) => e.path).sort()).toEqual(['/caseRef', '/output/approvedAmount/when/0', '/pipeline/0/as']);
  });
});

describe('bindDecisionType', () => {
  async function components() {
    const files = new FileComponentSource(root);
    return new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
  }
  const bind = async (doc: Record<string, any>) => bindDecisionType(validateDecisionType(doc), 'refund', await components());
  const typeErrors = async (doc: Record<string, any>) => {
    const e = await bind(doc).then(
      () => undefined,
      (x: unknown) => x as DomainError,
    );
    expect(e?.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    return e!.errors;
  };

  it('binds the refund type to the shipped release', async () => {
    expect((await bind(refund())).outputNames).toEqual(['riskScore', 'approvedAmount', 'tender']);
  });

  it('refuses a pointer that names nothing the facts declare, wherever it is', async () => {
    const badOutput = refund();
    badOutput.output.riskScore.from = '/risk/scroe';
    expect(await typeErrors(badOutput)).toEqual([expect.objectContaining({ path: '/components/refund/output/riskScore/from', message: expect.stringContaining('/risk/scroe') })]);

    const badElement = refund();
    badElement.pipeline[0].fields.finalSaleItemCount.where.path = '/finalsale';
    expect(await typeErrors(badElement)).toEqual([expect.objectContaining({ path: '/components/refund/pipeline/0/fields/finalSaleItemCount', message: expect.stringContaining('/order/items/*/finalsale') })]);

    const badTrace = refund();
    badTrace.pipeline[1].trace[1].fields.band = '/bnd';
    expect(await typeErrors(badTrace)).toEqual([expect.objectContaining({ path: '/components/refund/pipeline/1/trace/1' })]);
  });
});

describe('enrich steps', () => {
  const withEnrich = () => {
    const t = refund();
    t.pipeline.splice(1, 0, { step: 'enrich', provider: 'velocity', as: 'history', config: { window: '30d' } });
    t.output.refundsSeen = { from: '/history/refunds30d' };
    return t;
  };
  const provider = {
    outputSchema: (config: Record<string, unknown>) => {
      if (config.window !== '30d') throw new DomainError('ENRICHMENT_CONFIG_INVALID', 'window must be 30d', 'unprocessable');
      return { type: 'object', required: ['refunds30d'], properties: { refunds30d: { type: 'integer', minimum: 0 } } };
    },
    enrich: (facts: Readonly<Record<string, unknown>>) => Promise.resolve({ refunds30d: String(facts.customerId).length }),
  };

  it('puts a platform provider’s values under the step’s fact, checked against its schema', async () => {
    const files = new FileComponentSource(root);
    const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
    const bound = bindDecisionType(validateDecisionType(withEnrich()), 'refund', { id: release.id, packs: release.packs, policies: release.policies, enrichment: new Map([['velocity', provider]]) });
    const { refundCase } = await import('../../../test/support/refund-cases.js');
    const d = await bound.decide(refundCase({ customerId: 'c-12345' }));
    expect(d.output.refundsSeen).toBe(7);
  });

  it('refuses a release when no such provider exists, or its configuration is wrong', async () => {
    const files = new FileComponentSource(root);
    const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
    expect(() => bindDecisionType(validateDecisionType(withEnrich()), 'refund', release)).toThrow(expect.objectContaining({ code: 'RELEASE_INCOMPLETE' }) as Error);
    const badConfig = withEnrich();
    badConfig.pipeline[1].config.window = '1y';
    const components = { id: release.id, packs: release.packs, policies: release.policies, enrichment: new Map([['velocity', provider]]) };
    expect(() => bindDecisionType(validateDecisionType(badConfig), 'refund', components)).toThrow(expect.objectContaining({ code: 'RELEASE_TYPE_CHECK_FAILED' }) as Error);
  });
});

describe('review findings (regressions)', () => {
  async function release() {
    const files = new FileComponentSource(root);
    return new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
  }

  it('refuses outputs and copied case fields that would replace a decision’s own fields', () => {
    const t = refund();
    t.output.outcome = { from: '/requestedAmount' };
    t.caseFields = ['id', 'refundId'];
    expect(new Set(errorsOf(t).map((e) => e.path))).toEqual(new Set(['/caseFields/0', '/output/outcome']));
  });

  it('refuses __proto__ as a field name (no plain object can hold it)', () => {
    const text = JSON.stringify(refund()).replace('"fields":{', '"fields":{"__proto__":{"count":"/order/items"},');
    expect(errorsOf(JSON.parse(text)).map((e) => e.path)).toEqual(['/pipeline/0/fields/__proto__']);
  });

  it('an event naming the default outcome is no reason; `equals` answers a value any event carries', async () => {
    const type = (await release()).refund();
    const d = await type.decideValid(
      (await import('../../../test/support/refund-cases.js')).refundCase({ payment: { tender: 'gift_card', cardExpired: true } }),
    );
    expect(d.output.tender).toBe('STORE_CREDIT');
    expect(type.combine([{ code: 'X', message: 'x', source: 's', rule: 'r', effect: 'APPROVE' }])).toBe('APPROVE');
  });

  it('a policy reason that is not an object is POLICY_OUTPUT_INVALID (503), not a crash', async () => {
    const r = await release();
    const policy = r.policies.get('refund-risk')!;
    const broken = Object.assign(Object.create(policy) as typeof policy, { evaluate: () => ({ score: 0, band: 'LOW', signals: [], reasons: [null] }) });
    const bound = bindDecisionType(validateDecisionType(refund()), 'refund', { id: r.id, packs: r.packs, policies: new Map([['refund-risk', broken]]) });
    const { refundCase } = await import('../../../test/support/refund-cases.js');
    await expect(bound.decide(refundCase())).rejects.toMatchObject({ code: 'POLICY_OUTPUT_INVALID', kind: 'unavailable' });
  });

  it('the trace’s source, rule and fired are the platform’s, whatever the policy answers', async () => {
    const r = await release();
    const policy = r.policies.get('refund-risk')!;
    const spoof = Object.assign(Object.create(policy) as typeof policy, {
      evaluate: () => ({ score: 0, band: 'LOW', signals: [{ code: 'S', fired: false, source: 'spoofed@9', rule: 'x' }], reasons: [] }),
    });
    const bound = bindDecisionType(validateDecisionType(refund()), 'refund', { id: r.id, packs: r.packs, policies: new Map([['refund-risk', spoof]]) });
    const { refundCase } = await import('../../../test/support/refund-cases.js');
    const d = await bound.decide(refundCase());
    expect(d.trace[0]).toMatchObject({ source: 'refund-risk@1.0.0', rule: 'signal.S', fired: false });
  });

  it('min and max run over more elements than a call has argument slots', async () => {
    const { compileDerivation } = await import('./derivations.js');
    const min = compileDerivation({ min: '/xs', field: '/v' });
    const xs = Array.from({ length: 200_000 }, (_, i) => ({ v: 200_000 - i }));
    expect(min.compute({ xs })).toBe(1);
  });

  it('a release naming its types and one implying the same ones are not the same compiled release', async () => {
    const files = new FileComponentSource(root);
    const compiler = new ReleaseCompiler(files);
    const named = await compiler.compile({ name: 'x', version: '1.0.0', components: { refund: '1.0.0', redemption: '1.0.0', 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    const implied = await compiler.compile({ name: 'x', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    expect(named).not.toBe(implied);
    expect([named.declaresTypes, implied.declaresTypes]).toEqual([true, false]);
    expect(Object.keys(implied.ref.components)).not.toContain('refund');
  });

  it('a schema whose unions multiply is refused, not expanded for minutes', () => {
    const t = refund();
    const branches = (n: number) => Array.from({ length: 10 }, (_, i) => ({ $ref: `#/$defs/l${n}`, description: String(i) }));
    t.input.$defs = Object.fromEntries(Array.from({ length: 8 }, (_, n) => [`l${n}`, n === 7 ? { type: 'object', properties: { x: { type: 'string' } } } : { anyOf: branches(n + 1) }]));
    t.input.properties.deep = { anyOf: branches(0) };
    t.caseRef = '/deep/x';
    expect(errorsOf(t)).toEqual([expect.objectContaining({ path: '/input', message: expect.stringContaining('more than 256 alternatives') })]);
  });
});

describe('limits on a decision type (the same as on packs: libs/rules/limits.ts)', () => {
  function refusal(json: unknown): DomainError {
    try {
      validateDecisionType(json);
    } catch (e) {
      if (e instanceof DomainError) return e;
      throw e;
    }
    throw new Error('expected the document to be refused');
  }

  it('an input or output pattern the linear-time engine cannot run: 422 SCHEMA_PATTERN_UNSUPPORTED by pointer', () => {
    const t = refund();
    t.input.properties.currency.pattern = '^(?!XXX)[A-Z]{3}$';
    expect(refusal(t)).toMatchObject({ code: 'SCHEMA_PATTERN_UNSUPPORTED', kind: 'unprocessable', errors: [{ path: '/input/properties/currency/pattern' }] });
    const u = refund();
    u.pipeline[1].outputSchema.properties = { ...u.pipeline[1].outputSchema.properties, note: { type: 'string', pattern: '(a)\\1' } };
    expect(refusal(u)).toMatchObject({ code: 'SCHEMA_PATTERN_UNSUPPORTED', errors: [{ path: '/pipeline/1/outputSchema/properties/note/pattern' }] });
  });

  it('a schema over the size limit: 413 SCHEMA_TOO_LARGE naming it', () => {
    const t = refund();
    t.pipeline[1].outputSchema.description = 'x'.repeat(70 * 1024);
    expect(refusal(t)).toMatchObject({ code: 'SCHEMA_TOO_LARGE', kind: 'too_large', errors: [{ path: '/pipeline/1/outputSchema' }] });
  });

  it('a document nested deeper than a request body may be (a file): 422 DECISION_TYPE_TOO_COMPLEX, not a stack overflow', () => {
    const t = refund();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    t.tests = { cases: [{ name: 'deep', case: deep, expect: { outcome: 'APPROVE' } }] };
    expect(refusal(t)).toMatchObject({ code: 'DECISION_TYPE_TOO_COMPLEX', kind: 'unprocessable', errors: [{ path: expect.stringMatching(/^\/tests\/cases\/0\/case(\/a)+$/) }] });
  });

  it("a refund lifecycle's own needs are checked with the type's schema: every problem in one list, each path once", async () => {
    const t = refund();
    t.lifecycle = 'refund';
    // A loose type: it declares the lifecycle's fields, but not as the lifecycle needs them.
    t.input.properties.currency = { type: 'string' };
    t.input.properties.orderId = { type: 'string' };
    const release = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'x', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    const bound = bindDecisionType(validateDecisionType(t), 'refund', release);
    const valid = (JSON.parse(readFileSync(resolve(root, 'docs/examples/refund-case.json'), 'utf8')) as { case: Record<string, unknown> }).case;
    expect(bound.inputErrors(valid, '/case')).toEqual([]);
    expect(bound.inputErrors({ ...valid, currency: 'ZZZ', orderId: 'o'.repeat(256), reasonCode: 'BORED' }, '/case')).toEqual([
      { path: '/case/reasonCode', message: expect.stringContaining('must be one of') },
      { path: '/case/orderId', message: 'must NOT have more than 255 characters' },
      { path: '/case/currency', message: 'must be an ISO 4217 currency code (list one, e.g. EUR, USD)' },
    ]);
    // Missing from both: named once.
    const { currency: _, ...noCurrency } = valid;
    expect(bound.inputErrors(noCurrency, '/case')).toEqual([{ path: '/case/currency', message: "missing required property 'currency'" }]);
    // A stored case is not held to the lifecycle's checks of today (a what-if over stored decisions).
    expect(bound.inputErrors({ ...valid, currency: 'HRK' }, '/case', false)).toEqual([]);
  });

  it("a field the type's own schema faults is named once, by it, not again by the lifecycle", async () => {
    const t = refund();
    t.lifecycle = 'refund';
    const release = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'x', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    const bound = bindDecisionType(validateDecisionType(t), 'refund', release);
    const valid = (JSON.parse(readFileSync(resolve(root, 'docs/examples/refund-case.json'), 'utf8')) as { case: Record<string, unknown> }).case;
    const errors = bound.inputErrors({ ...valid, currency: 'eur', requestedAmount: -5 }, '/case');
    expect(errors.map((e) => e.path).sort()).toEqual(['/case/currency', '/case/requestedAmount']);
    expect(errors.find((e) => e.path === '/case/currency')!.message).toContain('must match pattern');
    // Not an object at all: said once.
    expect(bound.inputErrors('a string', '/case')).toEqual([{ path: '/case', message: 'must be object' }]);
  });

  it('a catastrophic input pattern answers at once', async () => {
    const t = refund();
    t.input.properties.orderId.pattern = '^([A-Za-z0-9-]+)+$';
    const release = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'x', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    const bound = bindDecisionType(validateDecisionType(t), 'refund', release);
    // A backtracking engine takes 10-30 s on 32 characters here, and doubles with each one more (255 are allowed).
    for (const length of [32, 255]) {
      const started = performance.now();
      expect(bound.inputErrors({ orderId: 'A'.repeat(length - 1) + '_' }).map((e) => e.path)).toContain('/orderId');
      expect(performance.now() - started).toBeLessThan(5_000); // a hang guard
    }
  });
});

describe('history and features a type could not use are refused at upload, with the path', () => {
  const giftcard = () => JSON.parse(readFileSync(resolve(root, 'decision-types/giftcard-redemption/1.0.0.json'), 'utf8')) as Record<string, any>;
  const problems = (doc: Record<string, any>) => {
    try {
      validateDecisionType(doc, true);
    } catch (e) {
      if (e instanceof DomainError) return e.errors;
      throw e;
    }
    return [];
  };

  it('the shipped type passes', () => expect(problems(giftcard())).toEqual([]));

  it.each([
    ['a field that is not a date-time', '/channel'],
    ['a number', '/amount'],
  ])('history.at naming %s', (_n, at) => {
    const t = giftcard();
    t.history.at = at;
    expect(problems(t)).toEqual([{ path: '/history/at', message: expect.stringContaining('must be a required string of format date-time') }]);
  });

  it('history.at required by the node that also has a union (a discriminated case) passes', () => {
    const t = giftcard();
    t.input.oneOf = [{ properties: { channel: { const: 'web' } } }, { properties: { channel: { const: 'mobile_app' } } }];
    expect(problems(t)).toEqual([]);
  });

  it('history.at required in one alternative only, or inside an object that may be null: refused', () => {
    const t = giftcard();
    t.input.required = t.input.required.filter((f: string) => f !== 'requestedAt');
    t.input.oneOf = [{ required: ['requestedAt'] }, { properties: { channel: { const: 'web' } } }];
    expect(problems(t)).toEqual([{ path: '/history/at', message: expect.stringContaining('required string of format date-time') }]);
    const u = giftcard();
    u.input.properties.meta = { anyOf: [{ type: 'object', required: ['at'], properties: { at: { type: 'string', format: 'date-time' } } }, { type: 'null' }] };
    u.history.at = '/meta/at';
    expect(problems(u)).toEqual([{ path: '/history/at', message: expect.stringContaining('required string of format date-time') }]);
    // Required in one alternative that also has a union of its own, not in the other: refused.
    const w = giftcard();
    w.input.required = w.input.required.filter((f: string) => f !== 'requestedAt');
    w.input.oneOf = [{ required: ['requestedAt'], anyOf: [{ properties: { channel: { const: 'web' } } }, { properties: { channel: { const: 'mobile_app' } } }] }, { properties: { channel: { const: 'in_store' } } }];
    expect(problems(w)).toEqual([{ path: '/history/at', message: expect.stringContaining('required string of format date-time') }]);
    // Required by every alternative: accepted.
    const v = giftcard();
    v.input.required = v.input.required.filter((f: string) => f !== 'requestedAt');
    v.input.oneOf = [{ required: ['requestedAt'], properties: { channel: { const: 'web' } } }, { required: ['requestedAt'], properties: { channel: { const: 'mobile_app' } } }];
    expect(problems(v)).toEqual([]);
  });

  it('history.at naming an optional date-time (a case without it would record nothing)', () => {
    const t = giftcard();
    t.input.properties.seenAt = { type: 'string', format: 'date-time' };
    t.history.at = '/seenAt';
    expect(problems(t)).toEqual([{ path: '/history/at', message: expect.stringContaining('a case without one would record nothing') }]);
  });

  it('history.at pseudonymized before the history reads it', () => {
    const t = giftcard();
    t.input.properties.requestedAt['x-pii'] = 'hash';
    expect(problems(t)).toEqual(expect.arrayContaining([{ path: '/history/at', message: expect.stringContaining('pseudonymized before the history records it') }]));
  });

  it('an entity key the type drops before the history records it', () => {
    const t = giftcard();
    t.input.properties.deviceId['x-pii'] = 'drop';
    expect(problems(t)).toEqual([{ path: '/history/entities/device', message: expect.stringContaining('x-pii "drop" at /deviceId') }]);
  });

  it("a caller value that is not a number (the combined value is written there)", () => {
    const t = giftcard();
    t.features.redemptionsCard1h.caller = '/currency';
    expect(problems(t)).toEqual([{ path: '/features/redemptionsCard1h/caller', message: expect.stringContaining('must be declared a number') }]);
  });

  describe("a source's decisionId", () => {
    const challenge = () => JSON.parse(readFileSync(resolve(root, 'decision-types/giftcard-challenge/1.1.0.json'), 'utf8')) as Record<string, any>;

    it('the shipped challenge type passes', () => expect(problems(challenge())).toEqual([]));

    it('naming a field the input does not declare', () => {
      const t = challenge();
      t.features.challengedRedemption.source.decisionId = '/decisionId';
      expect(problems(t)).toEqual([{ path: '/features/challengedRedemption/source/decisionId', message: expect.stringContaining('not declared by the input schema') }]);
    });

    it.each([
      ['pseudonymized', { 'x-pii': 'hash' }, 'pseudonymized before features are read'],
      ['put in a canonical form', { 'x-canonical': 'code' }, 'canonical form'],
    ])('naming a field that is %s (it would name no decision)', (_n, mark, message) => {
      const t = challenge();
      Object.assign(t.input.properties.challengedDecisionId, mark);
      expect(problems(t)).toEqual(expect.arrayContaining([{ path: '/features/challengedRedemption/source/decisionId', message: expect.stringContaining(message) }]));
    });

    it('naming a field that is not a string, or of a format no decision id has', () => {
      const t = challenge();
      t.features.challengedRedemption.source.decisionId = '/passed';
      expect(problems(t)).toEqual([{ path: '/features/challengedRedemption/source/decisionId', message: expect.stringContaining('must be declared a string') }]);
      const u = challenge();
      u.features.challengedRedemption.source.decisionId = '/requestedAt';
      expect(problems(u)).toEqual([{ path: '/features/challengedRedemption/source/decisionId', message: expect.stringContaining('format date-time: it could never hold a decision id') }]);
      const v = challenge();
      v.input.properties.challengedDecisionId.format = 'uuid';
      expect(problems(v)).toEqual([]);
    });

    it('includeLater with firstSeen (a window without an end has no earliest event before the case)', () => {
      const t = challenge();
      t.features.passesReported.aggregate = 'firstSeen';
      expect(problems(t)).toEqual([{ path: '/features/passesReported/includeLater', message: expect.stringContaining('without an end') }]);
    });

    it('on a refund or ledger source: refused by the schema', () => {
      const t = challenge();
      t.features.challengedRedemption.source = { refunds: ['APPROVED'], decisionId: '/challengedDecisionId' };
      expect(problems(t).map((e) => e.path)).toContain('/features/challengedRedemption/source/decisionId');
    });
  });

  it('x-pii hash on a field that is not a string', () => {
    const t = giftcard();
    t.input.properties.tier = { type: 'integer', 'x-pii': 'hash-last4' };
    expect(problems(t)).toEqual([{ path: '/input/properties/tier/x-pii', message: expect.stringContaining('/tier must be declared a string') }]);
  });

  it('an outcome the counted type never decides: refused when a release naming it is created, not when a stored one loads', async () => {
    const t = giftcard();
    t.features.redemptionsCard1h.source.outcomes = ['ALLOW', 'MAYBE'];
    const doc = validateDecisionType(t);
    const check = validateDecisionType(JSON.parse(readFileSync(resolve(root, 'decision-types/giftcard-balance-check/1.0.0.json'), 'utf8')));
    const compiled = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'x', version: '1.0.0', components: { 'giftcard-redemption-policy': '1.0.0', 'giftcard-abuse': '1.0.0', 'giftcard-balance-check-policy': '1.0.0' } });
    const release = new CompiledRelease(compiled.manifest, compiled.packs, compiled.policies, new Map([['giftcard-redemption', doc], ['giftcard-balance-check', check]]), true);
    expect(() => checkReleaseTypes(release)).toThrow(
      expect.objectContaining({ code: 'RELEASE_INCOMPLETE', errors: [{ path: '/components/giftcard-redemption/features/redemptionsCard1h/source/outcomes', message: expect.stringContaining("outcome 'MAYBE'") }] }) as Error,
    );
    // A stored release naming it still binds and serves.
    expect(release.decisionType('giftcard-redemption').ref).toBe('giftcard-redemption@1.0.0');
  });

  it('a stored type that fails these checks still loads (only an upload is refused)', () => {
    const t = giftcard();
    t.history.at = '/channel';
    t.input.properties.deviceId['x-pii'] = 'drop';
    expect(problems(t).length).toBe(2);
    expect(validateDecisionType(t).name).toBe('giftcard-redemption');
  });
});

describe('x-canonical', () => {
  /**
   * The built-in default@1.7.0 compiled; withType: that release with one type's document replaced. 1.7.0, not the
   * latest: these tests swap in giftcard-redemption@1.1.0, which giftcard-abuse@1.2.0 (default@1.8.0) refuses to be
   * paired with (it reads the per-currency counts of 1.3.0).
   */
  const shipped = async () => {
    const files = new FileComponentSource(root);
    return new ReleaseCompiler(files).compile({ ...(await files.release('default', '1.7.0'))!, name: 'x', version: '1.0.0' });
  };
  const withType = (compiled: Awaited<ReturnType<typeof shipped>>, name: string, doc: unknown) =>
    new CompiledRelease(compiled.manifest, compiled.packs, compiled.policies, new Map([...compiled.types, [name, doc as DecisionTypeDocument]]), true);
  const giftcard = () => JSON.parse(readFileSync(resolve(root, 'decision-types/giftcard-redemption/1.1.0.json'), 'utf8')) as Record<string, any>;

  it('the shipped types mark the card code and the IP', () => {
    const t = validateDecisionType(giftcard());
    expect(t.input.properties['cardCode']).toMatchObject({ 'x-canonical': 'code' });
    expect(t.input.properties['ip']).toMatchObject({ 'x-canonical': 'ip' });
  });

  it('refuses a form on a field that is not a string, the customer id, or where it would be ignored, naming each mark', () => {
    const t = giftcard();
    t.input.properties.amount['x-canonical'] = 'code';
    t.input.properties.customerId['x-canonical'] = 'email';
    t.input.patternProperties = { '^x-': { type: 'string', 'x-canonical': 'ip' } };
    t.input.properties.note = { type: 'string', 'x-canonical': 'phone' };
    expect(errorsOf(t)[0]).toEqual({ path: '/input', message: expect.stringMatching(/"x-canonical" value is invalid at path "#\/properties\/note"/) });
    delete t.input.properties.note;
    expect(errorsOf(t)).toEqual([
      { path: '/input/patternProperties/^x-', message: expect.stringContaining('here it would be ignored') },
      { path: '/input/properties/customerId/x-canonical', message: expect.stringContaining('subject-access lookups and erasure find as sent') },
      { path: '/input/properties/amount/x-canonical', message: 'x-canonical "code" rewrites a string: /amount must be declared a string' },
    ]);
  });

  it("a refund lifecycle's ids take none either: the lifecycle finds refunds, orders and rewards by the ids sent", () => {
    const t = JSON.parse(readFileSync(resolve(root, 'decision-types/refund/1.1.0.json'), 'utf8')) as Record<string, any>;
    t.input.properties.customerId['x-canonical'] = 'email';
    t.input.properties.refundId['x-canonical'] = 'code';
    expect(errorsOf(t)).toEqual([
      { path: '/input/properties/refundId/x-canonical', message: expect.stringContaining('/refundId, which the refund lifecycle finds as sent') },
      { path: '/input/properties/customerId/x-canonical', message: expect.stringContaining('holds the customer id') },
    ]);
  });

  it('refuses a form whose result the schema may not accept: an enum, a const, a format the form does not keep, two forms', () => {
    const t = giftcard();
    t.input.properties.channel['x-canonical'] = 'code';
    t.input.properties.requestedAt['x-canonical'] = 'code';
    t.input.properties.email['x-canonical'] = 'email';
    t.input.properties.email.format = 'email';
    t.input.properties.deviceId.anyOf = [{ type: 'string', 'x-canonical': 'ip' }, { type: 'string', 'x-canonical': 'code' }];
    expect(errorsOf(t)).toEqual([
      { path: '/input/properties/deviceId/anyOf/1/x-canonical', message: '/deviceId is marked "ip" elsewhere: a field takes one canonical form' },
      { path: '/input/properties/channel/x-canonical', message: expect.stringContaining('/channel is an enum') },
      { path: '/input/properties/requestedAt/x-canonical', message: expect.stringContaining('/requestedAt is declared with format date-time') },
    ]);
  });

  it('refuses a format the form does not keep wherever the field\'s own schema names it (allOf, if/then, a $ref inside them)', () => {
    const t = giftcard();
    t.input.properties.ip = { type: 'string', 'x-canonical': 'ip-network', allOf: [{ format: 'ipv6' }] };
    t.input.properties.cardCode = { type: 'string', 'x-canonical': 'code', if: { minLength: 1 }, then: { allOf: [{ $ref: '#/$defs/stamp' }] } };
    t.input.$defs = { stamp: { format: 'date-time' } };
    // Checked at upload (it came after x-canonical was first stored): a stored type still loads.
    expect(validateDecisionType(structuredClone(t)).name).toBe('giftcard-redemption');
    let errors: unknown;
    try {
      validateDecisionType(t, true);
    } catch (e) {
      errors = (e as DomainError).errors;
    }
    expect(errors).toEqual([
      { path: '/input/properties/cardCode/x-canonical', message: expect.stringContaining('/cardCode is declared with format date-time') },
      { path: '/input/properties/ip/x-canonical', message: expect.stringContaining('/ip is declared with format ipv6') },
    ]);
    // ipv4 stays an IPv4 address under both IP forms: kept. A format an `if` asks about is no requirement.
    const u = giftcard();
    u.input.properties.ip = { type: 'string', 'x-canonical': 'ip-network', allOf: [{ format: 'ipv4' }], if: { format: 'ipv6' }, then: { maxLength: 45 } };
    expect(validateDecisionType(u, true).input.properties['ip']).toMatchObject({ 'x-canonical': 'ip-network' });
  });

  it('refuses a form on a field whose values are listed anywhere in its schema (allOf, if/then)', () => {
    const t = giftcard();
    t.input.properties.note = { type: 'string', allOf: [{ const: 'web' }], 'x-canonical': 'code' };
    t.input.properties.note2 = { type: 'string', if: { minLength: 1 }, then: { enum: ['web'] }, 'x-canonical': 'code' };
    expect(errorsOf(t)).toEqual([
      { path: '/input/properties/note/x-canonical', message: expect.stringContaining('/note is a const') },
      { path: '/input/properties/note2/x-canonical', message: expect.stringContaining('/note2 is an enum') },
    ]);
  });

  it("a release refuses a feature's where literal that is not in the form its attribute is recorded in", async () => {
    const compiled = await shipped();
    const check = structuredClone(compiled.types.get('giftcard-balance-check')!) as any;
    check.input.properties.promo = { type: 'string', 'x-canonical': 'code' };
    check.history.attributes.promo = '/promo';
    check.features.promoChecks = { entity: 'ip', source: { decisions: 'giftcard-balance-check', where: { promo: 'spring-sale' } }, window: '1h', aggregate: 'count' };
    const release = withType(compiled, 'giftcard-balance-check', check);
    expect(() => checkReleaseTypes(release)).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ path: '/components/giftcard-balance-check/features/promoChecks/source/where/promo', message: expect.stringContaining('(write "SPRINGSALE")') })] }) as Error,
    );
    check.features.promoChecks.source.where.promo = 'SPRINGSALE';
    expect(() => checkReleaseTypes(release)).not.toThrow();
  });

  it('an ip form on an ipv4-or-ipv6 field passes (its output is one of them); on an ipv6-only field it is refused', () => {
    const t = giftcard();
    t.input.properties.ip.anyOf = [{ type: 'string', format: 'ipv4' }, { type: 'string', format: 'ipv6' }];
    expect(() => validateDecisionType(t)).not.toThrow();
    delete t.input.properties.ip.anyOf;
    t.input.properties.ip.format = 'ipv6';
    expect(errorsOf(t)).toEqual([{ path: '/input/properties/ip/x-canonical', message: expect.stringContaining('declared with format ipv6') }]);
  });

  it("a composite account is refused (the ledger keys its events by the account id), and a refund's composite holding /customerId needs the customer recorded", () => {
    const t = JSON.parse(readFileSync(resolve(root, 'decision-types/refund/1.3.0.json'), 'utf8')) as Record<string, any>;
    t.history.entities.account = ['/reward/accountId', '/customerId'];
    t.history.entities.customerDevice = ['/customerId', '/deviceId'];
    delete t.history.entities.customer;
    delete t.features;
    expect(errorsOf(t)).toEqual([
      { path: '/history/entities/account', message: expect.stringContaining('account takes one pointer') },
      { path: '/history/entities/account', message: expect.stringContaining('needs customer: "/customerId" recorded too') },
      { path: '/history/entities/customerDevice', message: expect.stringContaining('needs customer: "/customerId" recorded too') },
    ]);
  });

  it('a release refuses a feature reading a composite entity another type records with other parts', async () => {
    const compiled = await shipped();
    const challenge = structuredClone(compiled.types.get('giftcard-challenge')!) as any;
    challenge.history.entities.customerDevice = '/deviceId';
    const release = withType(compiled, 'giftcard-challenge', challenge);
    expect(() => checkReleaseTypes(release)).toThrow(
      expect.objectContaining({ errors: expect.arrayContaining([expect.objectContaining({ path: '/components/giftcard-redemption/features/challengesPassedCustomerDevice90d/source', message: expect.stringContaining("reads entity 'customerDevice' as 2 part(s)") })]) }) as Error,
    );
    expect(() => checkReleaseTypes(withType(compiled, 'giftcard-challenge', compiled.types.get('giftcard-challenge')!))).not.toThrow();
  });

  it('a composite entity key names declared fields; the customer takes one pointer', () => {
    const t = giftcard();
    t.history.entities.customerDevice = ['/customerId', '/deviceID'];
    t.history.entities.customer = ['/customerId', '/email'];
    expect(errorsOf(t)).toEqual([
      { path: '/history/entities/customer', message: expect.stringContaining('customer names the data subject by one field') },
      { path: '/history/entities/customerDevice/1', message: '/deviceID is not declared by the input schema' },
    ]);
  });

  it("a type's embedded tests decide the case in its canonical forms", async () => {
    // A type whose output shows the card code as the pipeline saw it: a test expecting the canonical form passes only if
    // testFailures applies it.
    const t = giftcard();
    delete t.input.properties.cardCode['x-pii'];
    t.output.seenCode = { from: '/cardCode' };
    t.tests.cases = [{ name: 'respelled', case: { cardCode: 'abcd-efgh' }, expect: { outcome: 'ALLOW', output: { seenCode: 'ABCDEFGH' } } }];
    const doc = validateDecisionType(t);
    const compiled = await shipped();
    expect(await withType(compiled, 'giftcard-redemption', doc).decisionType('giftcard-redemption').testFailures()).toEqual([]);
  });

  it("decide applies the canonical forms to a raw case only when asked (a prepared case holds pseudonyms)", async () => {
    const t = giftcard();
    const bound = (await shipped()).decisionType('giftcard-redemption');
    expect(await bound.testFailures()).toEqual([]);
    const raw = { ...t.tests.defaults, cardCode: 'abcd-efgh', ip: '::ffff:192.0.2.10' };
    expect((await bound.decide(raw, '', {}, true)).facts).toMatchObject({ cardCode: 'ABCDEFGH', ip: '192.0.2.10' });
    // A prepared case (pseudonyms in it) is decided as it is.
    expect((await bound.decide(raw, '', {})).facts).toMatchObject({ cardCode: 'abcd-efgh', ip: '::ffff:192.0.2.10' });
    expect(bound.prepare(raw, (v) => `pii_${v}`)).toMatchObject({ cardCode: 'pii_ABCDEFGH_EFGH', ip: 'pii_192.0.2.10', customerId: 'pii_customer-test-1' });
  });

  it('a stored or shadowed case is not held to the schema where it holds a canonical form (the raw value met it)', async () => {
    const t = giftcard();
    delete t.input.properties.cardCode['x-pii'];
    t.input.properties.cardCode.pattern = '^[a-z0-9 -]+$';
    const doc = validateDecisionType(t);
    const compiled = await shipped();
    const bound = withType(compiled, 'giftcard-redemption', doc).decisionType('giftcard-redemption');
    const raw = { ...t.tests.defaults, cardCode: 'abcd-efgh' };
    expect(bound.inputErrors(raw)).toEqual([]);
    const stored = bound.prepare(raw, (v) => `pii_${v}`);
    expect(stored.cardCode).toBe('ABCDEFGH');
    expect(bound.inputErrors(stored)).toEqual([expect.objectContaining({ path: '/cardCode' })]);
    expect((await simulateDecision(stored, bound, { stored: true })).outcome).toBe('ALLOW');
    expect((await simulateDecision(stored, bound, {})).outcome).toBe('ALLOW');
  });
});

describe("a policy step's inputPaths", () => {
  const RISK_READS = ['/requestedAmount', '/customer/refundCount30d', '/customer/accountAgeDays', '/customer/priorChargebacks', '/signals/ipRisk', '/signals/deviceAccounts'];
  const projected = () => {
    const t = refund();
    t.pipeline[1].inputPaths = RISK_READS;
    t.pipeline[1].trace.push({ rule: 'risk.input', fired: { path: '/band', notEquals: 'NONE' }, input: true });
    return t;
  };
  const whole = () => {
    const t = refund();
    t.pipeline[1].trace.push({ rule: 'risk.input', fired: { path: '/band', notEquals: 'NONE' }, input: true });
    return t;
  };
  async function release() {
    const files = new FileComponentSource(root);
    return new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
  }

  it('hands the policy only those fields, and decides every case as the whole case does', async () => {
    const r = await release();
    const withPaths = bindDecisionType(validateDecisionType(projected()), 'refund', r);
    const without = bindDecisionType(validateDecisionType(whole()), 'refund', r);
    const { refundCase } = await import('../../../test/support/refund-cases.js');
    const cases = [
      refundCase(),
      refundCase({ requestedAmount: 90_000, customer: { refundCount30d: 9, accountAgeDays: 3, priorChargebacks: 2 } }),
      refundCase({ signals: { ipRisk: 'high', deviceAccounts: 7 } }),
      refundCase({ signals: { ipRisk: 'high', deviceAccounts: undefined } }),
      refundCase({ order: { deliveredAt: null }, reasonCode: 'GOODWILL' }),
    ];
    for (const c of cases) {
      const a = await withPaths.decide(c);
      const b = await without.decide(c);
      const seen = a.trace.find((t) => t.rule === 'risk.input')!.input as Record<string, any>;
      const expected: Record<string, any> = { requestedAmount: c.requestedAmount, customer: { refundCount30d: c.customer.refundCount30d, accountAgeDays: c.customer.accountAgeDays, priorChargebacks: c.customer.priorChargebacks }, signals: { ipRisk: c.signals.ipRisk } };
      if (c.signals.deviceAccounts !== undefined) expected.signals.deviceAccounts = c.signals.deviceAccounts;
      expect(seen).toEqual(expected);
      expect(b.trace.find((t) => t.rule === 'risk.input')!.input).toEqual(c);
      const strip = (d: typeof a) => ({ ...d, facts: undefined, trace: d.trace.filter((t) => t.rule !== 'risk.input') });
      expect(strip(a)).toEqual(strip(b));
    }
  });

  it('keeps a field whole when an enclosing path is listed, passes values that are not objects as they are, and leaves out what the input lacks', async () => {
    const { projection } = await import('./pipeline.js');
    const project = projection(['/a/b', '/a', '/n/x', '/l/0', '/missing/y', '/deep/p/q']);
    expect(project({ a: { b: 1, c: 2 }, n: null, l: [1, 2], deep: { p: { q: 3, r: 4 }, s: 5 }, other: 6 })).toEqual({ a: { b: 1, c: 2 }, n: null, l: [1, 2], deep: { p: { q: 3 } } });
    expect(JSON.stringify(projection(['/__proto__/x'])(JSON.parse('{"__proto__":{"x":1,"y":2}}') as Record<string, unknown>))).toBe('{"__proto__":{"x":1}}');
  });

  it('refuses a path the input schema does not declare, naming it', async () => {
    const t = refund();
    t.pipeline[1].inputPaths = ['/requestedAmount', '/customer/refundCount30'];
    const e = await Promise.resolve()
      .then(async () => bindDecisionType(validateDecisionType(t), 'refund', await release()))
      .then(() => undefined, (x: unknown) => x as DomainError);
    expect(e?.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    expect(e?.errors).toEqual([expect.objectContaining({ path: '/components/refund/pipeline/1/inputPaths/1', message: expect.stringContaining('/customer/refundCount30') })]);
  });

  it('must be JSON pointers', () => {
    const t = refund();
    t.pipeline[1].inputPaths = ['requestedAmount'];
    expect(errorsOf(t)).toEqual([expect.objectContaining({ path: '/pipeline/1/inputPaths/0' })]);
  });
});

describe("a policy's declared reads (its manifest's metadata.reads)", () => {
  const files = new FileComponentSource(root);
  const compile = async (components: Record<string, string>) =>
    new ReleaseCompiler(files).compile({ name: 'x', version: '1.0.0', components: { ...(await files.release('default', '1.8.0'))!.components, ...components } });
  const failure = (run: () => unknown) => {
    try {
      run();
    } catch (e) {
      return e as DomainError;
    }
    return undefined;
  };

  it('binds the built-in release: its types compute every feature its policies read', async () => {
    const release = await compile({});
    expect(release.policies.get('giftcard-abuse')!.reads('giftcard/abuse/redemption')).toContain('/features/distinctCurrenciesCard24h');
    for (const type of ['giftcard-redemption', 'giftcard-balance-check']) expect(release.decisionType(type).ref).toMatch(new RegExp(`^${type}@`));
  });

  it('refuses a policy paired with a type that does not compute what it reads, naming each missing field', async () => {
    // giftcard-abuse@1.2.0 reads the per-currency counts that giftcard-redemption@1.3.0 added.
    const release = await compile({ 'giftcard-redemption': '1.2.0' });
    const e = failure(() => release.decisionType('giftcard-redemption'));
    expect(e?.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    expect(e?.errors).toEqual([
      { path: '/components/giftcard-redemption/pipeline/0/entrypoint', message: expect.stringContaining('giftcard-abuse@1.2.0 reads /features/distinctCurrenciesCard24h') },
      { path: '/components/giftcard-redemption/pipeline/0/entrypoint', message: expect.stringContaining('giftcard-abuse@1.2.0 reads /features/distinctCurrenciesCustomer24h') },
    ]);
    // The bundle before it declared nothing: the same pairing binds (its limits then see no currency counts).
    expect((await compile({ 'giftcard-redemption': '1.2.0', 'giftcard-abuse': '1.1.0' })).decisionType('giftcard-redemption').ref).toBe('giftcard-redemption@1.2.0');
  });

  it("keeps default@1.8.0's new-device amounts a fifth of the policy's card limits, currency by currency", () => {
    const read = (path: string) => JSON.parse(readFileSync(resolve(root, path), 'utf8')) as Record<string, any>;
    const card = read('policies/giftcard-abuse/data.json').giftcard_abuse.redemption.REDEEMED_AMOUNT_CARD_24H;
    const table = read('rule-packs/giftcard-redemption-policy/1.2.0.json').parameterTables.newDeviceAmount;
    // Two files, one release: a currency listed in one and not the other would challenge or block it at the wrong scale.
    expect(Object.keys(table.values).sort()).toEqual(Object.keys(card.thresholdByCurrency).sort());
    for (const [currency, limit] of Object.entries(card.thresholdByCurrency as Record<string, number>)) expect([currency, table.values[currency] * 5]).toEqual([currency, limit]);
    expect(table.default * 5).toBe(card.threshold);
  });

  it("refuses a read of the step's own output: the policy is given the facts before it, not its answer", async () => {
    const release = await compile({});
    const bytes = readFileSync(resolve(root, 'policies/bundles/giftcard-abuse/1.2.0.tar.gz'));
    const reads = { ...release.policies.get('giftcard-abuse')!.manifest.metadata!.reads as Record<string, string[]> };
    reads['giftcard/abuse/redemption'] = [...reads['giftcard/abuse/redemption']!, '/abuse/retryAfter'];
    const policy = await LoadedPolicy.load(variantBundle(bytes, 'giftcard-abuse', '1.2.0', { metadata: { reads } }));
    const swapped = new CompiledRelease(release.manifest, release.packs, new Map([...release.policies, ['giftcard-abuse', policy]]), release.types, true);
    const e = failure(() => swapped.decisionType('giftcard-redemption'));
    expect(e?.errors).toEqual([{ path: '/components/giftcard-redemption/pipeline/0/entrypoint', message: expect.stringContaining('reads /abuse/retryAfter') }]);
  });

  it('refuses a read that the step\'s inputPaths leave out', async () => {
    const release = await compile({});
    const doc = JSON.parse(readFileSync(resolve(root, 'decision-types/giftcard-redemption/1.3.0.json'), 'utf8')) as Record<string, any>;
    doc.pipeline[0].inputPaths = ['/amount', '/currency', '/channel', '/features/redemptionsCard1h'];
    const e = failure(() => bindDecisionType(validateDecisionType(doc), 'giftcard-redemption', release));
    expect(e?.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    expect(e?.errors).toEqual(expect.arrayContaining([{ path: '/components/giftcard-redemption/pipeline/0/inputPaths', message: expect.stringContaining('reads /features/redeemedAmountCard24h') }]));
    doc.pipeline[0].inputPaths = ['/amount', '/currency', '/channel', '/features'];
    expect(failure(() => bindDecisionType(validateDecisionType(doc), 'giftcard-redemption', release))).toBeUndefined();
  });
});
