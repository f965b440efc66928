/**
 * Overlapping evaluate() calls on one compiled pack must answer exactly as sequential calls do, with either engine.
 * (The compiled closures keep no state between runs; the reference takes a json-rules-engine Engine per run, since one
 * Engine serving overlapping runs fails these: a finishing run stops the others.)
 */
import fc from 'fast-check';
import { fixtureFacts, fixturePack, type Json } from './fixtures.test-support.js';
import { compilePack, validatePack, type CompiledPack, type PackResult } from './index.js';

const factsArbitrary: fc.Arbitrary<Json> = fc.record({
  amount: fc.integer({ min: 0, max: 3000 }),
  currency: fc.constantFrom('EUR', 'USD'),
  status: fc.constantFrom('NEW', 'OPEN', 'CLOSED', 'REJECTED'),
  flag: fc.boolean(),
  score: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
  order: fc.record({
    total: fc.integer({ min: -100, max: 3000 }),
    placedAt: fc.constant('2025-01-01T00:00:00Z'),
    note: fc.option(fc.string(), { nil: null }),
    items: fc.array(fc.record({ sku: fc.string({ minLength: 1 }), finalSale: fc.boolean() }), { maxLength: 3 }),
  }),
  tags: fc.array(fc.constantFrom('vip', 'new', 'other'), { maxLength: 3 }),
});

/**
 * All calls overlap (Promise.all), each starting `delays[i]` microtasks late: calls started in the
 * same tick move through the engine in lockstep and can hide interference; staggered ones do not.
 */
async function overlapping(compiled: CompiledPack, list: Json[], delays: number[]): Promise<PackResult[]> {
  return Promise.all(
    list.map(async (facts, i) => {
      for (let k = 0; k < (delays[i] ?? 0); k++) await Promise.resolve();
      return compiled.evaluate(facts);
    }),
  );
}

/** At most `width` calls in flight, a new one starting as soon as one finishes (how a busy server overlaps them). */
async function slidingWindow(compiled: CompiledPack, list: Json[], width: number): Promise<PackResult[]> {
  const results = new Array<PackResult>(list.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      results[i] = await compiled.evaluate(list[i]!);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

async function sequentially(compiled: CompiledPack, list: Json[]): Promise<PackResult[]> {
  const results: PackResult[] = [];
  for (const facts of list) results.push(await compiled.evaluate(facts));
  return results;
}

describe.each(['compiled', 'reference'] as const)('concurrent evaluation (%s)', (engine) => {
  let compiled: CompiledPack;
  beforeAll(() => {
    compiled = compilePack(validatePack(fixturePack()), { engine });
  });

  it('answers 240 overlapping evaluations exactly as sequential ones', async () => {
    const statuses = ['NEW', 'OPEN', 'CLOSED', 'REJECTED'];
    const list = Array.from({ length: 240 }, (_, i) =>
      fixtureFacts({
        amount: (i * 37) % 2500,
        status: statuses[i % 4],
        flag: i % 3 !== 0,
        score: i % 5 === 0 ? null : (i % 10) / 10,
        tags: i % 7 === 0 ? ['vip'] : [],
        order: { total: 400 + ((i * 13) % 900), placedAt: '2025-01-01T00:00:00Z', note: null, items: [{ sku: 'A', finalSale: i % 2 === 0 }] },
      }),
    );
    const expected = await sequentially(compiled, list);
    expect(await Promise.all(list.map((facts) => compiled.evaluate(facts)))).toEqual(expected);
    expect(await overlapping(compiled, list, list.map((_, i) => (i * 7) % 11))).toEqual(expected);
    expect(await slidingWindow(compiled, list, 16)).toEqual(expected);
    // The inputs really exercise different outcomes, so agreement is not vacuous.
    const outcomes = new Set(expected.map((r) => r.events.map((e) => e.rule).join(',')));
    expect(outcomes.size).toBeGreaterThan(10);
  });

  it('agrees with sequential evaluation for random facts (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(factsArbitrary, fc.nat({ max: 150 })), { minLength: 2, maxLength: 40 }),
        fc.integer({ min: 2, max: 16 }),
        async (calls, width) => {
          const list = calls.map(([facts]) => facts);
          const expected = await sequentially(compiled, list);
          expect(await overlapping(compiled, list, calls.map(([, delay]) => delay))).toEqual(expected);
          expect(await slidingWindow(compiled, list, width)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps answering correctly after a burst', async () => {
    const list = Array.from({ length: 50 }, (_, i) => fixtureFacts({ amount: i * 60 }));
    await overlapping(compiled, list, list.map((_, i) => i % 5));
    const again = await overlapping(compiled, list, list.map((_, i) => (i * 3) % 7));
    expect(again).toEqual(await sequentially(compiled, list));
  });
});
