/**
 * A release compiled again from its portable content (as a replay worker does, after a structured clone) decides exactly
 * as the release it came from, though its packs and types are not validated again there (releaseFromPortable).
 */
import { resolve } from 'node:path';
import fc from 'fast-check';
import { mergeFacts } from '../rules/index.js';
import { FileComponentSource, ReleaseCompiler, releaseFromPortable, type CompiledRelease } from './index.js';
import { refundCase } from '../../test/support/refund-cases.js';

const root = resolve(import.meta.dirname, '../..');

let original: CompiledRelease;
let copy: CompiledRelease;
beforeAll(async () => {
  const files = new FileComponentSource(root);
  original = await new ReleaseCompiler(files).compile((await files.release('default', '1.4.0'))!);
  copy = await releaseFromPortable(structuredClone(original.portable()));
});

it('has the same types, packs and bundles, and passes its types’ own test cases', async () => {
  const p = original.portable();
  const q = copy.portable();
  expect(q.types.map(([n, d]) => `${n}=${d.name}@${d.version}`)).toEqual(p.types.map(([n, d]) => `${n}=${d.name}@${d.version}`));
  expect(q.packs.map(([n]) => n)).toEqual(p.packs.map(([n]) => n));
  expect(q.bundles.map(([n, b]) => [n, b.bytes.length])).toEqual(p.bundles.map(([n, b]) => [n, b.bytes.length]));
  for (const [name] of p.types) expect([name, await copy.decisionType(name).testFailures()]).toEqual([name, []]);
});

it('decides every embedded test case of every type as the original does', async () => {
  let decided = 0;
  for (const [name, doc] of original.portable().types) {
    const a = original.decisionType(name);
    const b = copy.decisionType(name);
    for (const c of doc.tests?.cases ?? []) {
      const input = mergeFacts(doc.tests?.defaults ?? {}, c.case ?? {});
      expect(await b.decide(structuredClone(input), '', c.features)).toEqual(await a.decide(structuredClone(input), '', c.features));
      decided++;
    }
  }
  expect(decided).toBeGreaterThan(40);
});

it('decides random refund cases as the original does', async () => {
  const a = original.decisionType('refund');
  const b = copy.decisionType('refund');
  const cases = fc.record({
    requestedAmount: fc.integer({ min: 1, max: 200_000 }),
    reasonCode: fc.constantFrom('DAMAGED', 'GOODWILL', 'CHANGED_MIND'),
    customer: fc.record({ accountAgeDays: fc.nat(800), refundCount30d: fc.nat(12), goodwillRefunds12m: fc.nat(6), priorChargebacks: fc.nat(4) }),
    ipRisk: fc.constantFrom('low', 'medium', 'high'),
    returnStatus: fc.constantFrom('NOT_REQUIRED', 'RECEIVED', 'REJECTED'),
    disputeOpen: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(cases, async (x) => {
      const c = refundCase({ requestedAmount: x.requestedAmount, reasonCode: x.reasonCode, customer: x.customer, signals: { ipRisk: x.ipRisk }, returnStatus: x.returnStatus, disputeOpen: x.disputeOpen });
      expect(await b.decide(structuredClone(c))).toEqual(await a.decide(structuredClone(c)));
    }),
    { numRuns: 300 },
  );
});

it('refuses what the original refuses: invalid cases and invalid facts get the same errors', () => {
  const a = original.decisionType('refund');
  const b = copy.decisionType('refund');
  for (const bad of [{}, { ...refundCase(), currency: 'usd' }, { ...refundCase(), extra: 1 }, { ...refundCase(), order: { items: 'none' } }]) {
    const errors = b.inputErrors(bad);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toEqual(a.inputErrors(bad));
  }
  const packOf = (r: CompiledRelease) => r.packs.get('refund-policy')!;
  for (const facts of [{}, { requestedAmount: 'many' }]) {
    const errors = packOf(copy).validateFacts(facts);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toEqual(packOf(original).validateFacts(facts));
  }
});
