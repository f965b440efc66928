/** Parameter tables: a parameter looked up by a fact of the case, evaluated, traced, type-checked, limited and diffed. */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { fixtureFacts, fixturePack, type Json } from './fixtures.test-support.js';
import { compilePack, diffPacks, PACK_LIMITS, validatePack, type LeafTrace, type PackResult } from './index.js';

/** The fixture with `bigAmount` turned into a table keyed by the currency (yen amounts have no minor unit). */
function tablePack(table: Json = {}): Json {
  const pack = fixturePack();
  delete pack.parameters.bigAmount;
  pack.parameterTables = {
    bigAmount: { description: 'Large, per currency.', key: { fact: 'currency' }, values: { JPY: 150_000, KWD: 3_000 }, default: 1000, ...table },
  };
  return pack;
}

/** A key with no pattern (a currency's would refuse the generated names K0, K1, …). */
const byChannel = { fact: 'meta', path: '$.channel' };

function errorsOf(json: unknown): ErrorDetail[] {
  try {
    validatePack(json);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return (error as DomainError).errors;
  }
  throw new Error('expected validatePack to throw');
}

const bigAmountLeaf = (result: PackResult): LeafTrace => {
  const conditions = result.trace.find((t) => t.rule === 'big-amount')!.conditions as { all: LeafTrace[] };
  return conditions.all[0]!;
};

describe('parameter tables', () => {
  describe.each(['compiled', 'reference'] as const)('evaluated by the %s engine', (engine) => {
    let compiled: ReturnType<typeof compilePack>;
    beforeAll(() => {
      compiled = compilePack(validatePack(tablePack()), { engine });
    });

    it("compares with the entry for the case's key, and traces which entry", async () => {
      const under = await compiled.evaluate(fixtureFacts({ currency: 'JPY', amount: 150_000 }));
      expect(under.events.map((e) => e.rule)).not.toContain('big-amount');
      expect(bigAmountLeaf(under)).toEqual(
        expect.objectContaining({ value: 150_000, valueFrom: { param: 'bigAmount', key: 'JPY' }, factValue: 150_000, result: false }),
      );
      const over = await compiled.evaluate(fixtureFacts({ currency: 'JPY', amount: 150_001 }));
      expect(over.events.map((e) => e.rule)).toContain('big-amount');
    });

    it('compares with the default for a key the table does not list, and says so', async () => {
      const result = await compiled.evaluate(fixtureFacts({ currency: 'EUR', amount: 1001 }));
      expect(result.events.map((e) => e.rule)).toContain('big-amount');
      expect(bigAmountLeaf(result)).toEqual(
        expect.objectContaining({ value: 1000, valueFrom: { param: 'bigAmount', key: 'EUR', default: true }, result: true }),
      );
    });

    it('looks a key up exactly: no case folding, no inherited property names', async () => {
      const byChannel = compilePack(validatePack(tablePack({ key: { fact: 'meta', path: '$.channel' }, values: { web: 5000 } })), { engine });
      for (const channel of ['WEB', 'web ', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
        const result = await byChannel.evaluate({ ...fixtureFacts({ amount: 1001 }), meta: { channel } });
        expect(bigAmountLeaf(result)).toEqual(expect.objectContaining({ value: 1000, valueFrom: { param: 'bigAmount', key: channel, default: true }, result: true }));
      }
    });

    it('answers with the default, key null, when the key fact is absent or not a string', async () => {
      const pack = tablePack({ key: { fact: 'meta', path: '$.channel' }, values: { web: 5000 } });
      const byChannel = compilePack(validatePack(pack), { engine });
      const absent = await byChannel.evaluate(fixtureFacts({ amount: 1001 }));
      expect(bigAmountLeaf(absent)).toEqual(expect.objectContaining({ value: 1000, valueFrom: { param: 'bigAmount', key: null, default: true } }));
      const web = await byChannel.evaluate({ ...fixtureFacts({ amount: 1001 }), meta: { channel: 'web' } });
      expect(bigAmountLeaf(web)).toEqual(expect.objectContaining({ value: 5000, valueFrom: { param: 'bigAmount', key: 'web' }, result: false }));
    });

    it('shows no value for a leaf that was not evaluated, as for a fact reference', async () => {
      const pack = tablePack();
      // A condition of higher priority in the same block that fails stops the block before the table's leaf.
      pack.rules[0].conditions = {
        all: [
          { fact: 'flag', operator: 'equal', value: true, priority: 2 },
          { fact: 'amount', operator: 'greaterThan', value: { param: 'bigAmount' } },
        ],
      };
      const result = await compilePack(validatePack(pack), { engine }).evaluate(fixtureFacts({ flag: false, currency: 'JPY' }));
      const skipped = (result.trace.find((t) => t.rule === 'big-amount')!.conditions as { all: LeafTrace[] }).all[1]!;
      expect(skipped).toEqual(expect.objectContaining({ evaluated: false, value: undefined, valueFrom: { param: 'bigAmount' } }));
    });
  });

  it('is refused with a path naming each problem', () => {
    const pack = tablePack({ key: { fact: 'currencyCode' } });
    pack.parameterTables.byStatus = { key: { fact: 'status' }, values: { OPEN: 1, open: 2 }, default: 0 };
    pack.parameterTables.byFlag = { key: { fact: 'flag' }, values: { yes: 1 }, default: 0 };
    pack.parameterTables.closedStatuses = { key: { fact: 'currency' }, values: { EUR: ['CLOSED'] }, default: [] };
    pack.parameterTables.byPath = { key: { fact: 'order', path: '$.totl' }, values: { a: 1 }, default: 0 };
    pack.parameterTables.lowerCase = { key: { fact: 'currency' }, values: { JPY: 1, jpy: 2 }, default: 0 };
    expect(errorsOf(pack)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/parameterTables/bigAmount/key/fact', message: expect.stringContaining("fact 'currencyCode' is not declared") }),
        { path: '/parameterTables/byStatus/values/open', message: expect.stringContaining("entry 'open' is never a value of 'status'") },
        { path: '/parameterTables/byFlag/key', message: expect.stringContaining("the key 'flag' is boolean; a table is looked up by a string") },
        { path: '/parameterTables/closedStatuses', message: expect.stringContaining("'closedStatuses' is also a parameter") },
        expect.objectContaining({ path: '/parameterTables/byPath/key/path', message: expect.stringContaining("has no property 'totl'") }),
        { path: '/parameterTables/lowerCase/values/jpy', message: expect.stringContaining("entry 'jpy' never matches the pattern of 'currency' (^[A-Z]{3}$)") },
      ]),
    );
  });

  it('is type-checked entry by entry, and its default too, against every condition that uses it: the first failing entry named, the others counted', () => {
    const errors = errorsOf(tablePack({ values: { JPY: '150000', KWD: 3_000 }, default: null }));
    expect(errors).toEqual([
      expect.objectContaining({
        path: '/rules/0/conditions/all/0/value',
        message: expect.stringMatching(/entry 'JPY' of parameter table 'bigAmount' \("150000"\) is not.*\(1 more value of parameter table 'bigAmount', entries or its default, fails this check too\)$/),
      }),
    ]);
    expect(errorsOf(tablePack({ values: { JPY: 150_000, KWD: 3_000 }, default: null }))).toEqual([
      expect.objectContaining({ path: '/rules/0/conditions/all/0/value', message: expect.stringContaining('the default of parameter table') }),
    ]);
    const lists = fixturePack();
    lists.parameterTables = { closedByCurrency: { key: { fact: 'currency' }, values: { EUR: ['CLOSED', 'SHIPPED', 'LOST', 1, 2] }, default: ['CLOSED'] } };
    lists.rules[2].conditions = { any: [{ fact: 'status', operator: 'in', value: { param: 'closedByCurrency' } }] };
    // One error however long the entry's list: the first bad element, the others counted.
    expect(errorsOf(lists)).toEqual([
      expect.objectContaining({
        path: '/rules/2/conditions/any/0/value',
        message: expect.stringMatching(/element 1 \("SHIPPED"\) of entry 'EUR' of parameter table 'closedByCurrency'.*\(and 3 more of its elements\)$/),
      }),
    ]);
  });

  it('holds entries to the enum under a path unless the fact itself may be the key (a string, or a schema of bare properties)', () => {
    const withCode = (code: unknown) => {
      const pack = tablePack();
      pack.factSchema.properties.code = code;
      pack.parameterTables.byCode = { key: { fact: 'code', path: '$.c' }, values: { A: 1, B: 2 }, default: 0 };
      return pack;
    };
    const c = { c: { type: 'string', enum: ['A'] } };
    // An object or null: the key is c or no string at all (the default), so B can never be looked up.
    expect(errorsOf(withCode({ type: ['object', 'null'], properties: c }))).toEqual([
      expect.objectContaining({ path: '/parameterTables/byCode/values/B', message: expect.stringContaining("entry 'B' is never a value of 'code.c'") }),
    ]);
    // May be a string, itself then the key: nothing certain about the keys, no entry refused.
    expect(() => validatePack(withCode({ anyOf: [{ type: 'string' }, { type: 'object', properties: c }] }))).not.toThrow();
    expect(() => validatePack(withCode({ properties: c }))).not.toThrow();
  });

  it('holds entries to a pattern only where every branch that may be a string has one', () => {
    const pack = tablePack({ key: { fact: 'code' }, values: { jpy: 1 } });
    pack.factSchema.properties.code = { anyOf: [{ type: 'string', pattern: '^[A-Z]{3}$' }, { properties: { a: {} } }] };
    expect(() => validatePack(pack)).not.toThrow();
  });

  it("says a fact's own problem once, however many entries the table has", () => {
    const pack = tablePack();
    pack.rules[0].conditions = { all: [{ fact: 'currency', operator: 'lessThan', value: { param: 'bigAmount' } }] };
    expect(errorsOf(pack)).toEqual([{ path: '/rules/0/conditions/all/0/operator', message: expect.stringContaining("operator 'lessThan' needs a number, but 'currency' is string"), rule: 'big-amount' }]);
  });

  it('checks a large table against many conditions with at most one error per condition', () => {
    const values = Object.fromEntries(Array.from({ length: PACK_LIMITS.maxTableEntries }, (_, i) => [`K${i}`, `not a number ${i}`]));
    const pack = tablePack({ key: byChannel, values });
    const conditions = Array.from({ length: 900 }, () => ({ fact: 'amount', operator: 'greaterThan', value: { param: 'bigAmount' } }));
    pack.rules[0].conditions = { any: conditions };
    // One error per condition (900 × 1,000 entries made 900,900 before, and a stack overflow past ~290 conditions).
    const errors = errorsOf(pack);
    expect(errors).toHaveLength(900);
    expect(errors[0]!.message).toContain(`(${PACK_LIMITS.maxTableEntries - 1} more values of parameter table 'bigAmount', entries or its default, fail this check too)`);
    const valid = tablePack({ key: byChannel, values: Object.fromEntries(Object.keys(values).map((k, i) => [k, i])) });
    valid.rules[0].conditions = { any: conditions };
    expect(() => validatePack(valid)).not.toThrow();
  });

  it("names the tables among the declared parameters of an unknown one, and refuses a table's malformed shape", () => {
    const pack = tablePack();
    pack.rules[0].conditions.all[0].value = { param: 'bigAmont' };
    expect(errorsOf(pack)).toEqual([expect.objectContaining({ path: '/rules/0/conditions/all/0/value/param', message: expect.stringContaining('closedStatuses, riskThreshold, bigAmount') })]);
    expect(errorsOf(tablePack({ values: {} }))).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/parameterTables/bigAmount/values' })]));
    const noDefault = tablePack();
    delete noDefault.parameterTables.bigAmount.default;
    expect(errorsOf(noDefault)).toEqual([expect.objectContaining({ path: '/parameterTables/bigAmount/default', message: "missing required property 'default'" })]);
  });

  it(`is refused over ${PACK_LIMITS.maxTableEntries} entries (413), before anything else is checked`, () => {
    const values = Object.fromEntries(Array.from({ length: PACK_LIMITS.maxTableEntries + 1 }, (_, i) => [`K${i}`, i]));
    try {
      validatePack(tablePack({ key: byChannel, values }));
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toEqual(expect.objectContaining({ code: 'RULE_PACK_TOO_LARGE', kind: 'too_large' }));
      expect((error as DomainError).errors).toEqual([{ path: '/parameterTables/bigAmount/values', message: `${PACK_LIMITS.maxTableEntries + 1} entries; a parameter table may have at most ${PACK_LIMITS.maxTableEntries}` }]);
    }
    expect(() => validatePack(tablePack({ key: byChannel, values: Object.fromEntries(Object.entries(values).slice(0, PACK_LIMITS.maxTableEntries)) }))).not.toThrow();
  });

  it('shows in a diff: a parameter that became a table, and a changed entry', () => {
    const before = validatePack(fixturePack());
    const after = validatePack({ ...tablePack(), version: '1.3.0' });
    const d = diffPacks(before, after);
    expect(d.parameters.removed).toEqual([{ name: 'bigAmount', from: 1000, to: undefined }]);
    expect(d.parameterTables.added).toEqual([{ name: 'bigAmount', from: undefined, to: after.parameterTables!.bigAmount }]);
    expect(d.same).toBe(false);
    const later = validatePack({ ...tablePack({ values: { JPY: 160_000, KWD: 3_000 } }), version: '1.4.0' });
    const changed = diffPacks(after, later);
    expect(changed.parameterTables.changed.map((c) => c.name)).toEqual(['bigAmount']);
    expect(changed.parameters).toEqual({ added: [], removed: [], changed: [] });
    expect(diffPacks(after, { ...after, version: '9.9.9' }).same).toBe(true);
    // An entry named __proto__ is an entry like any other (an own key), not the object's prototype.
    const proto = (values: Record<string, unknown>) => ({ ...after, version: '9.9.9', parameterTables: { bigAmount: { ...after.parameterTables!.bigAmount!, values } } });
    expect(diffPacks(proto(JSON.parse('{"__proto__": {}}') as Record<string, unknown>), proto({ EUR: {} })).same).toBe(false);
  });
});
