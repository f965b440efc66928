/** validatePack: schema errors, every type-check refusal, test-case checks; all errors collected with pointers and rule names. */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { fixturePack, type Json } from './fixtures.test-support.js';
import { validatePack } from './index.js';

function errorsOf(json: unknown): ErrorDetail[] {
  try {
    validatePack(json);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    const domain = error as DomainError;
    expect(domain.code).toBe('RULE_PACK_INVALID');
    expect(domain.kind).toBe('unprocessable');
    return domain.errors;
  }
  throw new Error('expected validatePack to throw');
}

/** The pack with one leaf condition replaced. */
function withLeaf(ruleIndex: number, leaf: Json, key: 'all' | 'any' = 'all'): Json {
  const pack = fixturePack();
  pack.rules[ruleIndex].conditions = { [key]: [leaf] };
  return pack;
}

describe('validatePack', () => {
  it('returns a deep-frozen copy of a valid pack', () => {
    const input = fixturePack();
    const pack = validatePack(input);
    expect(pack).toEqual(input);
    expect(pack).not.toBe(input);
    expect(Object.isFrozen(pack.rules[0]!.conditions)).toBe(true);
    expect(Object.isFrozen(pack.parameters.closedStatuses)).toBe(true);
  });

  describe('schema errors', () => {
    it('points at missing, unknown and malformed properties', () => {
      const pack = fixturePack();
      delete pack.version;
      pack.name = 'Fixture Pack';
      pack.extra = true;
      pack.kind = 'Loyalty Points';
      const errors = errorsOf(pack);
      expect(errors).toEqual(
        expect.arrayContaining([
          { path: '/version', message: "missing required property 'version'" },
          { path: '/name', message: "'Fixture Pack': must be lower-kebab-case (e.g. refund-policy)" },
          { path: '/extra', message: "unknown property 'extra'" },
          expect.objectContaining({ path: '/kind' }),
        ]),
      );
      expect(errors).toHaveLength(4);
    });

    it('names the rule of errors inside rules', () => {
      const pack = fixturePack();
      delete pack.rules[1].event;
      const errors = errorsOf(pack);
      expect(errors).toEqual([
        { path: '/rules/1/event', message: "rule 'over-total': missing required property 'event'", rule: 'over-total' },
      ]);
    });

    it('refuses JSONPath syntax beyond $.a.b and $.a[0]', () => {
      const pack = withLeaf(4, { fact: 'order', path: '$.items[*].finalSale', operator: 'equal', value: true });
      pack.rules[1].conditions.all[0].value.path = '$..total';
      const errors = errorsOf(pack);
      expect(errors).toEqual([
        {
          path: '/rules/1/conditions/all/0/value/path',
          message: expect.stringContaining("rule 'over-total': '$..total': only simple paths are supported") as string,
          rule: 'over-total',
        },
        {
          path: '/rules/4/conditions/all/0/path',
          message: expect.stringContaining("'$.items[*].finalSale': only simple paths are supported") as string,
          rule: 'first-item-final',
        },
      ]);
    });

    it('refuses an unknown operator', () => {
      const errors = errorsOf(withLeaf(0, { fact: 'amount', operator: 'greaterThen', value: 1 }));
      expect(errors).toEqual([
        {
          path: '/rules/0/conditions/all/0/operator',
          message: expect.stringMatching(/^rule 'big-amount': unknown operator 'greaterThen' \(known: "equal", /) as string,
          rule: 'big-amount',
        },
      ]);
    });

    it('refuses a value object mixing param with other keys, and an empty all', () => {
      const pack = withLeaf(0, { fact: 'amount', operator: 'greaterThan', value: { param: 'bigAmount', fact: 'x' } });
      pack.rules[1].conditions = { all: [] };
      const errors = errorsOf(pack);
      expect(errors.map((e) => e.path)).toEqual(['/rules/0/conditions/all/0/value/fact', '/rules/1/conditions/all']);
    });
  });

  describe('fact-schema type check', () => {
    const single = (leaf: Json, ruleIndex = 0, key: 'all' | 'any' = 'all'): ErrorDetail[] =>
      errorsOf(withLeaf(ruleIndex, leaf, key));

    it('refuses an undeclared fact', () => {
      expect(single({ fact: 'amont', operator: 'greaterThan', value: 1 })).toEqual([
        {
          path: '/rules/0/conditions/all/0/fact',
          message:
            "rule 'big-amount': fact 'amont' is not declared in factSchema (declared: amount, currency, status, flag, score, order, tags, meta)",
          rule: 'big-amount',
        },
      ]);
    });

    it('refuses an undeclared path, listing what is declared', () => {
      expect(single({ fact: 'order', path: '$.totl', operator: 'greaterThan', value: 1 })).toEqual([
        {
          path: '/rules/0/conditions/all/0/path',
          message: "rule 'big-amount': fact 'order' has no property 'totl' (declared: total, placedAt, note, items)",
          rule: 'big-amount',
        },
      ]);
    });

    it('follows items and $ref into $defs', () => {
      expect(single({ fact: 'order', path: '$.items[0].finalSael', operator: 'equal', value: true }, 4)).toEqual([
        {
          path: '/rules/4/conditions/all/0/path',
          message: "rule 'first-item-final': 'order.items[0]' has no property 'finalSael' (declared: sku, finalSale)",
          rule: 'first-item-final',
        },
      ]);
      expect(single({ fact: 'amount', path: '$.x', operator: 'equal', value: 1 })[0]?.message).toBe(
        "rule 'big-amount': fact 'amount' has no property 'x' (it declares no properties)",
      );
      expect(single({ fact: 'tags', path: '$.x', operator: 'equal', value: 1 })[0]?.path).toBe('/rules/0/conditions/all/0/path');
    });

    it('refuses a number operator on a string fact', () => {
      expect(single({ fact: 'currency', operator: 'greaterThan', value: 5 })).toEqual([
        {
          path: '/rules/0/conditions/all/0/operator',
          message: "rule 'big-amount': operator 'greaterThan' needs a number, but 'currency' is string",
          rule: 'big-amount',
        },
      ]);
    });

    it('refuses a non-number value for a number operator', () => {
      expect(single({ fact: 'amount', operator: 'lessThan', value: '5' })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value',
          message: `rule 'big-amount': operator 'lessThan' needs a number, but value "5" is not one`,
          rule: 'big-amount',
        },
      ]);
    });

    it('refuses a literal of the wrong type', () => {
      expect(single({ fact: 'amount', operator: 'equal', value: '100' })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value',
          message: `rule 'big-amount': value "100" is a string, but 'amount' is integer`,
          rule: 'big-amount',
        },
      ]);
      expect(single({ fact: 'flag', operator: 'notEqual', value: 1.5 })[0]?.message).toBe(
        "rule 'big-amount': value 1.5 is a number, but 'flag' is boolean",
      );
    });

    it('refuses a literal outside the enum', () => {
      expect(single({ fact: 'status', operator: 'equal', value: 'OPENED' })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value',
          message: `rule 'big-amount': value "OPENED" is not one of the values of 'status' ("NEW", "OPEN", "CLOSED", "REJECTED")`,
          rule: 'big-amount',
        },
      ]);
    });

    it('refuses null where the schema does not allow null, and accepts it where it does', () => {
      expect(single({ fact: 'amount', operator: 'equal', value: null })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value',
          message: "rule 'big-amount': 'amount' is never null (integer), so value null never matches",
          rule: 'big-amount',
        },
      ]);
      expect(() => validatePack(withLeaf(0, { fact: 'score', operator: 'equal', value: null }))).not.toThrow();
      expect(() => validatePack(withLeaf(0, { fact: 'order', path: '$.note', operator: 'notEqual', value: null }))).not.toThrow();
    });

    it('refuses a bad element of an in list, inline or from a parameter', () => {
      expect(single({ fact: 'status', operator: 'in', value: ['OPEN', 'OPENED'] })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value/1',
          message: `rule 'big-amount': element "OPENED" is not one of the values of 'status' ("NEW", "OPEN", "CLOSED", "REJECTED")`,
          rule: 'big-amount',
        },
      ]);
      const pack = fixturePack();
      pack.parameters.closedStatuses = ['CLOSED', 3];
      expect(errorsOf(pack)).toEqual([
        {
          path: '/rules/2/conditions/any/0/value',
          message: "rule 'closed': element 1 (3) of parameter 'closedStatuses' is a number, but 'status' is one of \"NEW\", \"OPEN\", \"CLOSED\", \"REJECTED\"",
          rule: 'closed',
        },
      ]);
      expect(single({ fact: 'status', operator: 'notIn', value: 'OPEN' })[0]?.message).toBe(
        `rule 'big-amount': operator 'notIn' needs an array value, but value "OPEN" is not one`,
      );
    });

    it('refuses an unknown parameter', () => {
      expect(single({ fact: 'amount', operator: 'greaterThan', value: { param: 'bigAmont' } })).toEqual([
        {
          path: '/rules/0/conditions/all/0/value/param',
          message: "rule 'big-amount': unknown parameter 'bigAmont' (declared: bigAmount, closedStatuses, riskThreshold)",
          rule: 'big-amount',
        },
      ]);
    });

    it('checks contains/doesNotContain against the array items', () => {
      expect(single({ fact: 'tags', operator: 'contains', value: 1 })[0]).toEqual({
        path: '/rules/0/conditions/all/0/value',
        message: "rule 'big-amount': value 1 is a number, but 'tags[]' is string",
        rule: 'big-amount',
      });
      expect(single({ fact: 'currency', operator: 'doesNotContain', value: 'E' })[0]).toEqual({
        path: '/rules/0/conditions/all/0/operator',
        message: "rule 'big-amount': operator 'doesNotContain' needs an array fact, but 'currency' is string",
        rule: 'big-amount',
      });
    });

    it('resolves and type-checks fact references', () => {
      expect(single({ fact: 'amount', operator: 'greaterThan', value: { fact: 'order', path: '$.placedAt' } })[0]).toEqual({
        path: '/rules/0/conditions/all/0/value',
        message: "rule 'big-amount': operator 'greaterThan' needs a number, but 'order.placedAt' is string",
        rule: 'big-amount',
      });
      expect(single({ fact: 'amount', operator: 'equal', value: { fact: 'order', path: '$.totl' } })[0]?.path).toBe(
        '/rules/0/conditions/all/0/value/path',
      );
      expect(single({ fact: 'amount', operator: 'equal', value: { fact: 'nope' } })[0]?.path).toBe('/rules/0/conditions/all/0/value/fact');
      expect(single({ fact: 'flag', operator: 'equal', value: { fact: 'currency' } })[0]?.message).toBe(
        "rule 'big-amount': 'flag' is boolean but 'currency' is string; they are never equal",
      );
    });

    it('refuses comparisons that === can never satisfy', () => {
      expect(single({ fact: 'order', operator: 'equal', value: 1 })[0]?.message).toMatch(/'order' is object; equal compares with ===/);
      expect(single({ fact: 'tags', operator: 'equal', value: ['vip'] })[0]?.path).toBe('/rules/0/conditions/all/0/fact');
      expect(single({ fact: 'currency', operator: 'equal', value: { code: 'EUR' } })[0]?.message).toMatch(/is an object; json-rules-engine compares with ===/);
    });

    it('checks conditions nested in any/not blocks', () => {
      const pack = fixturePack();
      pack.rules[5].conditions.any[1].not.all[0].value = 'yes';
      expect(errorsOf(pack)).toEqual([
        {
          path: '/rules/5/conditions/any/1/not/all/0/value',
          message: `rule 'risky': value "yes" is a string, but 'flag' is boolean`,
          rule: 'risky',
        },
      ]);
    });
  });

  it('collects every error, not just the first', () => {
    const pack = fixturePack();
    pack.rules[0].conditions.all[0].value = { param: 'nope' };
    pack.rules[3].conditions.all[0].fact = 'tagz';
    pack.rules[6].conditions.all[0].value = 'OPENED';
    pack.rules[6].name = 'big-amount';
    expect(errorsOf(pack).map((e) => [e.path, e.rule])).toEqual([
      ['/rules/6/name', 'big-amount'],
      ['/rules/0/conditions/all/0/value/param', 'big-amount'],
      ['/rules/3/conditions/all/0/fact', 'vip'],
      ['/rules/6/conditions/all/0/value', 'big-amount'],
    ]);
  });

  it('refuses a factSchema that does not compile', () => {
    const pack = fixturePack();
    pack.factSchema.properties.amount = { type: 'integer', minimun: 0 };
    const errors = errorsOf(pack);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toEqual({ path: '/factSchema', message: expect.stringContaining('unknown keyword: "minimun"') as string });
  });

  describe('embedded tests', () => {
    it('validates defaults against factSchema', () => {
      const pack = fixturePack();
      delete pack.tests.defaults.currency;
      expect(errorsOf(pack)).toEqual([{ path: '/tests/defaults/currency', message: "test defaults: missing required property 'currency'" }]);
    });

    it('validates each case merged over the defaults', () => {
      const pack = fixturePack();
      pack.tests.cases[1].facts = { amount: -1, order: { placedAt: 'yesterday' } };
      expect(errorsOf(pack)).toEqual([
        {
          path: '/tests/cases/1/facts/amount',
          message: "test case 'big and over total': must be >= 0 (defaults merged with the case's facts)",
        },
        {
          path: '/tests/cases/1/facts/order/placedAt',
          message: "test case 'big and over total': must be a valid date-time (defaults merged with the case's facts)",
        },
      ]);
    });

    it('refuses expectations no rule can meet and duplicate case names', () => {
      const pack = fixturePack();
      pack.tests.cases[1].expect.events[0].params.code = 'OVER_TOTL';
      pack.tests.cases[1].name = 'nothing fires';
      expect(errorsOf(pack)).toEqual([
        { path: '/tests/cases/1/name', message: "test case 'nothing fires': duplicate test case name (also tests/cases/0)" },
        {
          path: '/tests/cases/1/expect/events/0',
          message: `test case 'nothing fires': no rule emits an event matching DENY {"code":"OVER_TOTL"}`,
        },
      ]);
    });
  });

  it('summarises the first error in the message', () => {
    const pack = withLeaf(0, { fact: 'amont', operator: 'greaterThan', value: 1 });
    expect(() => validatePack(pack)).toThrow(/^rule pack fixture-pack@1\.2\.3 is invalid: 1 error\(s\); first: \/rules\/0\/conditions\/all\/0\/fact: rule 'big-amount'/);
  });
});

describe('pack-format wording', () => {
  it('explains bad parameter names', () => {
    const pack = fixturePack();
    pack.parameters['big-amount'] = 1;
    expect(errorsOf(pack)).toEqual([
      { path: '/parameters/big-amount', message: 'property name \'big-amount\' must match pattern "^[A-Za-z_][A-Za-z0-9_]*$"' },
    ]);
  });

  it('is not applied to facts that happen to share a pack field name', () => {
    const pack = fixturePack();
    pack.factSchema.properties.type = { type: 'string', pattern: '^x$' };
    pack.tests.defaults.type = 'y';
    expect(errorsOf(pack)).toEqual([{ path: '/tests/defaults/type', message: 'test defaults: must match pattern "^x$"' }]);
  });
});
