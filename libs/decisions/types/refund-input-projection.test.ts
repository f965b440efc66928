/**
 * refund@1.3.0 differs from refund@1.2.0 only in its risk step's `inputPaths`: the policy is handed the six fields it
 * reads instead of the whole case. A projection the policy's reads outran would answer silently differently, so every
 * random case (the policy's six fields at and around its thresholds, absent where optional, with platform counts that
 * raise them) must decide identically under default@1.4.0 and default@1.3.0: outcome, reasons, output, trace, facts and
 * stored features. The one known difference is outside these cases: a case of ~1 MB, whose whole parse in the Wasm ran
 * refund@1.2.0's policy over the step budget (EVALUATION_BUDGET_EXCEEDED), is decided by refund@1.3.0.
 */
import { resolve } from 'node:path';
import fc from 'fast-check';
import { FileComponentSource, ReleaseCompiler, type BoundDecisionType } from '../index.js';
import { refundCase } from '../../../test/support/refund-cases.js';

const root = resolve(import.meta.dirname, '../../..');

let projected: BoundDecisionType;
let whole: BoundDecisionType;
beforeAll(async () => {
  const files = new FileComponentSource(root);
  const compile = async (version: string) => (await new ReleaseCompiler(files).compile((await files.release('default', version))!)).decisionType('refund');
  projected = await compile('1.4.0');
  whole = await compile('1.3.0');
});

it('default@1.4.0 pins refund@1.3.0, whose risk step lists the fields the policy reads', () => {
  expect(projected.ref).toBe('refund@1.3.0');
  expect(whole.ref).toBe('refund@1.2.0');
});

it('decides every case exactly as refund@1.2.0 does', async () => {
  const count = (max: number) => fc.integer({ min: 0, max });
  const refundCases = fc.record({
    requestedAmount: fc.integer({ min: 1, max: 300_000 }),
    capturedAmount: fc.integer({ min: 0, max: 300_000 }),
    refundedAmount: fc.integer({ min: 0, max: 300_000 }),
    delivered: fc.boolean(),
    reasonCode: fc.constantFrom('DAMAGED', 'NOT_RECEIVED', 'NOT_AS_DESCRIBED', 'CHANGED_MIND', 'GOODWILL', 'OTHER'),
    customer: fc.record({ accountAgeDays: count(800), refundCount30d: count(12), goodwillRefunds12m: count(6), priorChargebacks: count(4) }),
    ipRisk: fc.constantFrom('low', 'medium', 'high'),
    deviceAccounts: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    deviceId: fc.option(fc.constantFrom('dev_a', 'dev_b'), { nil: undefined }),
    returnStatus: fc.constantFrom('NOT_REQUIRED', 'RECEIVED', 'REJECTED'),
    disputeOpen: fc.boolean(),
  });
  // What the platform counts: a device's customers include this one, so there are some wherever a case names a device.
  const platform = fc.record({ refundCount30d: count(12), goodwillRefunds12m: count(6), priorChargebacks: count(4), deviceAccounts: fc.integer({ min: 1, max: 12 }) });
  let decided = 0;
  await fc.assert(
    fc.asyncProperty(refundCases, platform, async (a, counted) => {
      const { deviceAccounts, ...perCustomer } = counted;
      const values = a.deviceId === undefined ? perCustomer : counted;
      const c = refundCase({
        requestedAmount: a.requestedAmount,
        reasonCode: a.reasonCode,
        order: { capturedAmount: a.capturedAmount, refundedAmount: a.refundedAmount, ...(a.delivered ? {} : { deliveredAt: null }) },
        customer: a.customer,
        signals: { ipRisk: a.ipRisk, deviceAccounts: a.deviceAccounts },
        returnStatus: a.returnStatus,
        disputeOpen: a.disputeOpen,
        ...(a.deviceId !== undefined && { deviceId: a.deviceId }),
      });
      const expected = await whole.decideValid(structuredClone(c), values);
      const got = await projected.decideValid(structuredClone(c), values);
      expect(got).toEqual(expected);
      decided++;
    }),
    { numRuns: 2_000 },
  );
  expect(decided).toBe(2_000);
});
