import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '../errors/index.js';
import { fixturePack, type Json } from './fixtures.test-support.js';
import fc from 'fast-check';
import { mergeFacts } from './cases.js';
import { compilePack } from './compile.js';
import { approxJsonBytes, jsonExtent, jsonStringLength, PACK_LIMITS, SCHEMA_LIMITS } from './limits.js';
import { loadPackFile } from './load.js';
import { compileFactSchema } from './schema.js';
import { validatePack } from './validate.js';

function refusal(f: () => unknown): DomainError {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const leaf = { fact: 'amount', operator: 'greaterThan', value: 1 };
const rule = (i: number, conditions: Json = { all: [leaf] }): Json => ({ name: `rule-${i}`, conditions, event: { type: 'REVIEW', params: { code: 'X' } } });

/** A root `all` block (depth 1), `not` blocks under it, and a leaf at `depth`. */
function nested(depth: number): Json {
  let c: Json = leaf;
  for (let d = depth - 1; d >= 2; d--) c = { not: c };
  return { all: [c] };
}

describe('rule pack limits (refused before anything else reads the pack)', () => {
  it('the shipped-size fixture fits', () => {
    expect(() => validatePack(fixturePack())).not.toThrow();
  });

  it(`more than ${PACK_LIMITS.maxRules} rules: 413 RULE_PACK_TOO_LARGE at /rules`, () => {
    const pack = fixturePack();
    pack.rules = Array.from({ length: PACK_LIMITS.maxRules + 1 }, (_, i) => rule(i));
    pack.tests.cases = [{ name: 'none', expect: { events: [] } }];
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'RULE_PACK_TOO_LARGE', kind: 'too_large' });
    expect(e.errors[0]).toEqual({ path: '/rules', message: `${PACK_LIMITS.maxRules + 1} rules; a pack may have at most ${PACK_LIMITS.maxRules}` });
    pack.rules.pop();
    expect(() => validatePack(pack)).not.toThrow();
  });

  it(`more than ${PACK_LIMITS.maxConditions} conditions over all rules: 413 RULE_PACK_TOO_LARGE`, () => {
    const pack = fixturePack();
    const per = Math.ceil((PACK_LIMITS.maxConditions + 1) / 10);
    pack.rules = Array.from({ length: 10 }, (_, i) => rule(i, { any: Array.from({ length: per }, () => leaf) }));
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'RULE_PACK_TOO_LARGE', kind: 'too_large' });
    expect(e.errors).toEqual([{ path: '/rules', message: `${per * 10} conditions over all rules; a pack may have at most ${PACK_LIMITS.maxConditions}` }]);
  });

  it(`conditions nested deeper than ${PACK_LIMITS.maxConditionDepth}: 422 RULE_PACK_TOO_COMPLEX naming the first one too deep`, () => {
    const pack = fixturePack();
    pack.rules = [rule(0, nested(PACK_LIMITS.maxConditionDepth))];
    pack.tests.cases = [{ name: 'none', expect: { events: [] } }];
    expect(() => validatePack(pack)).not.toThrow();
    pack.rules = [rule(0), rule(1, nested(PACK_LIMITS.maxConditionDepth + 1))];
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'RULE_PACK_TOO_COMPLEX', kind: 'unprocessable' });
    const deepest = `/rules/1/conditions/all/0${'/not'.repeat(PACK_LIMITS.maxConditionDepth - 1)}`;
    expect(e.errors).toEqual([{ path: deepest, message: `conditions are nested more than ${PACK_LIMITS.maxConditionDepth} levels deep` }]);
  });

  it('the probe: conditions nested 5,000 deep are refused at once, not a stack overflow', () => {
    const pack = fixturePack();
    let c: Json = leaf;
    for (let i = 0; i < 5_000; i++) c = { not: c };
    pack.rules = [rule(0, { all: [c] })];
    const e = refusal(() => validatePack(pack));
    expect(e.code).toBe('RULE_PACK_TOO_COMPLEX');
    expect(e.errors[0]!.path).toMatch(/^\/rules\/0\/conditions\/all\/0(\/not)+$/);
  });

  it(`event params over ${PACK_LIMITS.maxEventParamsBytes} bytes: 413 naming the rule's params`, () => {
    const pack = fixturePack();
    pack.rules[2].event.params.message = 'x'.repeat(PACK_LIMITS.maxEventParamsBytes);
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'RULE_PACK_TOO_LARGE', kind: 'too_large' });
    expect(e.errors).toEqual([{ path: '/rules/2/event/params', message: `event params are over ${PACK_LIMITS.maxEventParamsBytes} bytes as JSON` }]);
  });

  it(`more than ${PACK_LIMITS.maxTestCases} test cases: 413 at /tests/cases`, () => {
    const pack = fixturePack();
    pack.tests.cases = Array.from({ length: PACK_LIMITS.maxTestCases + 1 }, (_, i) => ({ name: `case ${i}`, expect: { events: [] } }));
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'RULE_PACK_TOO_LARGE' });
    expect(e.errors[0]!.path).toBe('/tests/cases');
  });

  it(`a document nested deeper than ${PACK_LIMITS.maxDocumentDepth} anywhere (a file has no body limit): 422 naming where`, () => {
    const pack = fixturePack();
    let deep: Json = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    pack.parameters.deep = deep;
    const e = refusal(() => validatePack(pack));
    expect(e.code).toBe('RULE_PACK_TOO_COMPLEX');
    expect(e.errors[0]!.path).toBe(`/parameters/deep${'/a'.repeat(PACK_LIMITS.maxDocumentDepth - 2)}`);
  });

  it('the same refusals for a pack file (the CLI and the rule-packs directory read files through it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'limits-'));
    try {
      const pack = fixturePack();
      pack.rules = Array.from({ length: PACK_LIMITS.maxRules + 1 }, (_, i) => rule(i));
      const file = join(dir, 'pack.json');
      await writeFile(file, JSON.stringify(pack));
      await expect(loadPackFile(file)).rejects.toMatchObject({ code: 'RULE_PACK_TOO_LARGE', errors: [{ path: '/rules' }] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('author schema limits (fact schemas, decision-type input and output schemas)', () => {
  it(`a schema over ${SCHEMA_LIMITS.maxBytes / 1024} KiB: 413 SCHEMA_TOO_LARGE at the schema`, () => {
    const pack = fixturePack();
    pack.factSchema.properties.meta.description = 'x'.repeat(SCHEMA_LIMITS.maxBytes);
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'SCHEMA_TOO_LARGE', kind: 'too_large' });
    expect(e.errors[0]!.path).toBe('/factSchema');
  });

  it(`a schema nested deeper than ${SCHEMA_LIMITS.maxDepth}: 422 SCHEMA_TOO_COMPLEX naming where`, () => {
    let schema: Json = { type: 'string' };
    for (let depth = 1; depth < SCHEMA_LIMITS.maxDepth; depth++) schema = { items: schema };
    expect(() => compileFactSchema(schema)).not.toThrow();
    const e = refusal(() => compileFactSchema({ items: schema }, '/input'));
    expect(e).toMatchObject({ code: 'SCHEMA_TOO_COMPLEX', kind: 'unprocessable' });
    expect(e.errors[0]!.path).toBe(`/input${'/items'.repeat(SCHEMA_LIMITS.maxDepth)}`);
  });

  it('the pack refusal carries the pattern pointer', () => {
    const pack = fixturePack();
    pack.factSchema.$defs.item.properties.sku.pattern = '^(?=A)[A-Z]+$';
    const e = refusal(() => validatePack(pack));
    expect(e).toMatchObject({ code: 'SCHEMA_PATTERN_UNSUPPORTED', kind: 'unprocessable' });
    expect(e.errors.map((d) => d.path)).toEqual(['/factSchema/$defs/item/properties/sku/pattern']);
  });
});

describe('jsonExtent', () => {
  it('measures about the JSON length, and stops past the limit', () => {
    const value = { a: [1, 'xy', null, true], b: { c: 'z' } };
    const { bytes } = jsonExtent(value, Infinity);
    expect(Math.abs(bytes - JSON.stringify(value).length)).toBeLessThan(JSON.stringify(value).length);
    expect(jsonExtent({ s: 'x'.repeat(100) }, 50)).toMatchObject({ tooLarge: true });
    expect(jsonExtent([[[1]]], Infinity, 2)).toEqual({ bytes: expect.any(Number), tooLarge: false, tooDeepAt: '/0/0' });
  });
});

describe('a pack trace is measured while it is built (the decision path never walks it again)', () => {
  it('the estimate is never below the JSON the trace becomes, whatever the fact values', async () => {
    const pack = fixturePack();
    const compiled = compilePack(pack as never);
    const json = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'binary' }), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
    })).value;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...pack.tests.cases.map((c: Json) => mergeFacts(pack.tests.defaults, c.facts ?? {}))), json, async (facts, meta) => {
        const result = await compiled.evaluate({ ...facts, tags: [JSON.stringify(meta)], meta: { channel: typeof meta === 'string' ? meta : 'x' } });
        expect(result.traceBytes).toBeGreaterThanOrEqual(JSON.stringify(result.trace).length);
      }),
      { numRuns: 100 },
    );
  });

  it('strings count as JSON writes them', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => expect(jsonStringLength(s)).toBe(JSON.stringify(s).length)));
    expect(approxJsonBytes({ 'a\n': '\u0001' }, Infinity)).toBeGreaterThanOrEqual(JSON.stringify({ 'a\n': '\u0001' }).length);
  });
});
