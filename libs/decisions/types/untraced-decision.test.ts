/**
 * A what-if decides without building the decision's trace (decideValid's `{ trace: false }`): it compares outcomes,
 * reasons and outputs, never the explanation. Nothing but the trace may differ: every type of every built-in release,
 * on its own embedded cases, and random refund cases with platform counts, decide to the same outcome, reasons,
 * output, facts and stored features either way.
 */
import { resolve } from 'node:path';
import fc from 'fast-check';
import { mergeFacts } from '../../rules/index.js';
import { FileComponentSource, ReleaseCompiler, type BoundDecisionType, type PlatformValues, type TypedDecision } from '../index.js';
import { refundCase } from '../../../test/support/refund-cases.js';

const files = new FileComponentSource(resolve(import.meta.dirname, '../../..'));
const compile = async (version: string) => new ReleaseCompiler(files).compile((await files.release('default', version))!);

/** The decision both ways; the untraced one's trace is empty and the rest equal. */
async function bothWays(type: BoundDecisionType, c: Record<string, unknown>, platform?: PlatformValues): Promise<TypedDecision> {
  const traced = await type.decideValid(structuredClone(c), platform);
  const untraced = await type.decideValid(structuredClone(c), platform, undefined, { trace: false });
  expect(untraced.trace).toEqual([]);
  expect({ ...untraced, trace: traced.trace }).toStrictEqual(traced);
  return traced;
}

it("decides every embedded case of every built-in release's types alike, traced or not", async () => {
  const seen = new Set<string>();
  let cases = 0;
  let traces = 0;
  const versions = (await files.releases()).filter((m) => m.name === 'default').map((m) => m.version);
  expect(versions.length).toBeGreaterThanOrEqual(5);
  for (const version of versions) {
    const release = await compile(version);
    for (const name of release.typeNames) {
      const type = release.decisionType(name);
      if (seen.has(type.ref)) continue;
      seen.add(type.ref);
      const tests = type.document.tests;
      for (const t of tests?.cases ?? []) {
        const input = mergeFacts(tests!.defaults ?? {}, t.case ?? {}) as Record<string, unknown>;
        // Only cases that fit the type's input: decideValid trusts its caller for that.
        if (type.inputErrors(input).length > 0) continue;
        traces += (await bothWays(type, input, t.features)).trace.length;
        cases++;
      }
    }
  }
  // Not vacuous: cases ran, and the traced side had something to leave out.
  expect(cases).toBeGreaterThan(10);
  expect(traces).toBeGreaterThan(cases);
});

it('decides random refund cases alike, traced or not, with and without platform counts', async () => {
  const types = [(await compile('1.0.0')).decisionType('refund'), (await compile('1.4.0')).decisionType('refund')];
  const count = (max: number) => fc.integer({ min: 0, max });
  const outcomes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        requestedAmount: fc.integer({ min: 1, max: 300_000 }),
        capturedAmount: fc.integer({ min: 0, max: 300_000 }),
        reasonCode: fc.constantFrom('DAMAGED', 'NOT_RECEIVED', 'CHANGED_MIND', 'GOODWILL', 'OTHER'),
        customer: fc.record({ accountAgeDays: count(800), refundCount30d: count(12), goodwillRefunds12m: count(6), priorChargebacks: count(4) }),
        ipRisk: fc.constantFrom('low', 'medium', 'high'),
        deviceId: fc.option(fc.constantFrom('dev_a', 'dev_b'), { nil: undefined }),
        disputeOpen: fc.boolean(),
      }),
      fc.option(fc.record({ refundCount30d: count(12), goodwillRefunds12m: count(6), priorChargebacks: count(4), deviceAccounts: fc.integer({ min: 1, max: 12 }) }), { nil: undefined }),
      fc.constantFrom(0, 1),
      async (a, platform, which) => {
        const c = refundCase({
          requestedAmount: a.requestedAmount,
          reasonCode: a.reasonCode,
          order: { capturedAmount: a.capturedAmount, refundedAmount: 0 },
          customer: a.customer,
          signals: { ipRisk: a.ipRisk },
          disputeOpen: a.disputeOpen,
          ...(a.deviceId !== undefined && { deviceId: a.deviceId }),
        });
        outcomes.add((await bothWays(types[which]!, c, platform)).outcome);
      },
    ),
    { numRuns: 1_000 },
  );
  expect([...outcomes].sort()).toEqual(['APPROVE', 'DENY', 'REVIEW']);
});
