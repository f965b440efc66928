/** compilePack/evaluate: events, ordering, and the trace of every rule and condition. */
import { DomainError } from '../errors/index.js';
import { fixtureFacts, fixturePack } from './fixtures.test-support.js';
import { compilePack, validatePack, type CompiledPack, type ConditionTrace, type PackResult } from './index.js';

describe('compilePack', () => {
  let compiled: CompiledPack;
  beforeAll(() => {
    compiled = compilePack(validatePack(fixturePack()));
  });

  it('exposes the pack identity and parameters', () => {
    expect(compiled.name).toBe('fixture-pack');
    expect(compiled.version).toBe('1.2.3');
    expect(compiled.kind).toBe('refund-policy');
    expect(compiled.ref).toBe('fixture-pack@1.2.3');
    expect(compiled.parameters).toEqual({ bigAmount: 1000, closedStatuses: ['CLOSED', 'REJECTED'], riskThreshold: 0.8 });
    expect(compiled.pack.rules).toHaveLength(7);
  });

  it('validates a pack that did not come from validatePack', () => {
    expect(compilePack(fixturePack() as never).ref).toBe('fixture-pack@1.2.3');
    const broken = fixturePack();
    broken.rules[0].conditions.all[0].fact = 'amont';
    expect(() => compilePack(broken as never)).toThrow(expect.objectContaining({ code: 'RULE_PACK_INVALID' }) as Error);
  });

  it('returns no events when nothing fires, but traces every rule', async () => {
    const result = await compiled.evaluate(fixtureFacts());
    expect(result.events).toEqual([]);
    expect(result.trace.map((t) => [t.rule, t.priority, t.fired])).toEqual([
      ['big-amount', 10, false],
      ['over-total', 10, false],
      ['closed', 5, false],
      ['vip', 5, false],
      ['first-item-final', 1, false],
      ['risky', 1, false],
      ['open-and-positive', 1, false],
    ]);
    expect(result.trace.every((t) => t.source === 'fixture-pack@1.2.3')).toBe(true);
  });

  it('lists events highest priority first, pack order within a priority', async () => {
    const result = await compiled.evaluate(fixtureFacts({ amount: 2000, status: 'CLOSED', tags: ['vip'], flag: false }));
    expect(result.events).toEqual([
      { rule: 'big-amount', type: 'REVIEW', params: { code: 'BIG_AMOUNT', message: 'Large.' } },
      { rule: 'over-total', type: 'DENY', params: { code: 'OVER_TOTAL', message: 'More than the order.' } },
      { rule: 'closed', type: 'DENY', params: { code: 'CLOSED', message: 'Closed.' } },
      { rule: 'vip', type: 'FLAG', params: { code: 'VIP' } },
      { rule: 'risky', type: 'REVIEW', params: { code: 'RISKY', message: 'Risky.' } },
    ]);
  });

  it('traces leaves with the resolved value, where it came from, the fact value and the result', async () => {
    const { trace } = await compiled.evaluate(fixtureFacts({ amount: 2000 }));
    const byRule = Object.fromEntries(trace.map((t) => [t.rule, t]));
    expect(byRule['big-amount']).toEqual({
      source: 'fixture-pack@1.2.3',
      rule: 'big-amount',
      fired: true,
      priority: 10,
      event: { type: 'REVIEW', params: { code: 'BIG_AMOUNT', message: 'Large.' } },
      conditions: {
        all: [
          {
            fact: 'amount',
            operator: 'greaterThan',
            value: 1000,
            valueFrom: { param: 'bigAmount' },
            factValue: 2000,
            evaluated: true,
            result: true,
          },
        ],
        evaluated: true,
        result: true,
      },
    });
    expect(leaf(byRule['over-total']!.conditions, 'all', 0)).toEqual({
      fact: 'amount',
      operator: 'greaterThan',
      value: 500,
      valueFrom: { fact: 'order', path: '$.total' },
      factValue: 2000,
      evaluated: true,
      result: true,
    });
    expect(leaf(byRule['closed']!.conditions, 'any', 0)).toMatchObject({
      value: ['CLOSED', 'REJECTED'],
      valueFrom: { param: 'closedStatuses' },
      factValue: 'NEW',
      result: false,
    });
    expect(leaf(byRule['first-item-final']!.conditions, 'all', 0)).toMatchObject({
      path: '$.items[0].finalSale',
      factValue: false,
      result: false,
    });
  });

  it('traces any/not blocks', async () => {
    const { trace } = await compiled.evaluate(fixtureFacts({ flag: false, score: null }));
    const risky = trace.find((t) => t.rule === 'risky')!;
    expect(risky.fired).toBe(true);
    expect(risky.conditions).toEqual({
      any: [
        {
          fact: 'score',
          operator: 'greaterThanInclusive',
          value: 0.8,
          valueFrom: { param: 'riskThreshold' },
          factValue: null,
          evaluated: true,
          result: false,
        },
        {
          not: {
            all: [{ fact: 'flag', operator: 'equal', value: true, factValue: false, evaluated: true, result: false }],
            evaluated: true,
            result: false,
          },
          evaluated: true,
          result: true,
        },
      ],
      evaluated: true,
      result: true,
    });
  });

  it('marks leaves skipped by condition priority as not evaluated', async () => {
    const { trace } = await compiled.evaluate(fixtureFacts({ status: 'NEW', amount: 5 }));
    const conditions = trace.find((t) => t.rule === 'open-and-positive')!.conditions;
    expect(leaf(conditions, 'all', 0)).toMatchObject({ fact: 'status', evaluated: true, result: false, factValue: 'NEW' });
    const skipped = leaf(conditions, 'all', 1);
    expect(skipped).toMatchObject({ fact: 'amount', operator: 'greaterThan', value: 0, evaluated: false });
    expect(skipped.result).toBeUndefined();
    expect(skipped.factValue).toBeUndefined();

    const open = await compiled.evaluate(fixtureFacts({ status: 'OPEN', amount: 5 }));
    expect(open.events.map((e) => e.rule)).toEqual(['open-and-positive']);
  });

  it('treats a path that does not resolve as undefined', async () => {
    const result = await compiled.evaluate(fixtureFacts({ order: { ...fixtureFacts().order, items: [] } }));
    const final = result.trace.find((t) => t.rule === 'first-item-final')!;
    expect(final.fired).toBe(false);
    expect(leaf(final.conditions, 'all', 0)).toMatchObject({ evaluated: true, factValue: undefined, result: false });
  });

  it('gives an absent optional fact the value undefined instead of failing', async () => {
    const pack = fixturePack();
    pack.rules.push({
      name: 'web-channel',
      conditions: { all: [{ fact: 'meta', path: '$.channel', operator: 'equal', value: 'web' }] },
      event: { type: 'FLAG', params: { code: 'WEB' } },
    });
    const withMeta = compilePack(validatePack(pack));
    expect((await withMeta.evaluate(fixtureFacts())).events).toEqual([]);
    expect((await withMeta.evaluate(fixtureFacts({ meta: { channel: 'web' } }))).events.map((e) => e.rule)).toEqual(['web-channel']);
  });

  it('refuses facts that do not match factSchema', async () => {
    const facts = fixtureFacts({ amount: 'lots' });
    expect(compiled.validateFacts(facts)).toEqual([{ path: '/amount', message: 'must be integer' }]);
    expect(compiled.validateFacts(fixtureFacts())).toEqual([]);
    const error = await compiled.evaluate(facts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'RULE_FACTS_INVALID', kind: 'invalid', errors: [{ path: '/amount', message: 'must be integer' }] });
  });

  it('hands out event params that callers may change without affecting later evaluations', async () => {
    const first = await compiled.evaluate(fixtureFacts({ amount: 2000 }));
    first.events[0]!.params.code = 'CHANGED';
    const second = await compiled.evaluate(fixtureFacts({ amount: 2000 }));
    expect(second.events[0]!.params.code).toBe('BIG_AMOUNT');
    expect(compiled.pack.rules[0]!.event.params!.code).toBe('BIG_AMOUNT');
  });

  it('does not modify the facts it is given', async () => {
    const facts = fixtureFacts({ amount: 2000, tags: ['vip'] });
    const snapshot = structuredClone(facts);
    await compiled.evaluate(facts);
    expect(facts).toEqual(snapshot);
  });
});

describe('compilePack engines', () => {
  it('evaluates synchronously with the compiled engine, as json-rules-engine does', async () => {
    const compiled = compilePack(validatePack(fixturePack()));
    const reference = compilePack(validatePack(fixturePack()), { engine: 'reference' });
    expect([compiled.engine, reference.engine]).toEqual(['compiled', 'reference']);
    const facts = fixtureFacts({ amount: 2000, status: 'CLOSED', score: null, flag: false });
    const now = compiled.evaluateNow(facts);
    expect(now).not.toBeInstanceOf(Promise);
    expect((now as PackResult).events.map((e) => e.rule)).toEqual(['big-amount', 'over-total', 'closed', 'risky']);
    expect(now).toStrictEqual(await reference.evaluate(facts));
    expect(reference.evaluateNow(facts)).toBeInstanceOf(Promise);
  });

  it("fails as json-rules-engine does, with the engine's error", async () => {
    // `list` may be null, and json-rules-engine's `in` fails on a null value (the type check admits it).
    const pack = {
      name: 'failing',
      version: '1.0.0',
      kind: 'refund-policy',
      description: 'in on a null',
      factSchema: { type: 'object', properties: { x: { type: 'integer' }, list: { type: ['array', 'null'], items: { type: 'integer' } } } },
      parameters: {},
      rules: [{ name: 'listed', conditions: { all: [{ fact: 'x', operator: 'in', value: { fact: 'list' } }] }, event: { type: 'FLAG' } }],
      tests: { defaults: { x: 1, list: [1] }, cases: [{ name: 'listed', expect: { events: [{ type: 'FLAG' }] } }] },
    };
    const compiled = compilePack(validatePack(pack));
    const reference = compilePack(validatePack(pack), { engine: 'reference' });
    expect((await compiled.evaluate({ x: 1, list: [1] })).events).toEqual([{ rule: 'listed', type: 'FLAG', params: {} }]);
    const message = "failing@1.0.0: evaluation failed: Cannot read properties of null (reading 'indexOf')";
    await expect(reference.evaluate({ x: 1, list: null })).rejects.toThrow(message);
    await expect(compiled.evaluate({ x: 1, list: null })).rejects.toThrow(message);
    const now = compiled.evaluateNow({ x: 1, list: null });
    expect(now).toBeInstanceOf(Promise);
    await expect(now).rejects.toThrow(message);
    // A problem naming the pack (the service answers 503 with it, as for a policy that cannot answer), never a 500.
    await expect(compiled.evaluate({ x: 1, list: null })).rejects.toMatchObject({ code: 'RULE_EVALUATION_FAILED', kind: 'unavailable' });
    // Facts that do not match the schema fail before anything runs, synchronously.
    expect(() => compiled.evaluateNow({ x: 'one' })).toThrow(expect.objectContaining({ code: 'RULE_FACTS_INVALID' }) as Error);
  });
});

function leaf(node: ConditionTrace, key: 'all' | 'any', index: number): Record<string, unknown> {
  const children = (node as unknown as Record<string, ConditionTrace[]>)[key]!;
  return children[index] as unknown as Record<string, unknown>;
}
