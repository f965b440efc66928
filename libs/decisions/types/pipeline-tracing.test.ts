/**
 * Tracing the pipeline: given a Tracer, each step of a decision is one span (in pipeline order, under the caller's
 * current span, attributes naming the type and component, never the case), failed when the step throws; the decision
 * itself is the same as untraced. Given none, nothing is called.
 */
import { resolve } from 'node:path';
import fc from 'fast-check';
import { DomainError } from '../../errors/index.js';
import { RecordingTracer } from '../../tracing/recording.test-support.js';
import { FileComponentSource, ReleaseCompiler, type BoundDecisionType } from '../index.js';
import { refundCase } from '../../../test/support/refund-cases.js';

const root = resolve(import.meta.dirname, '../../..');

let refund: BoundDecisionType;
beforeAll(async () => {
  const files = new FileComponentSource(root);
  // default@1.3.0: refund@1.2.0 reads four features, then derive, policy, rules.
  const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.3.0'))!);
  refund = release.decisionType('refund');
});

describe('a traced decision', () => {
  it('is one span per step, in pipeline order, under the current span, named after the step and its component', async () => {
    const tracer = new RecordingTracer();
    await tracer.within('decision.evaluate', () => refund.decideValid(refundCase(), {}, tracer));
    expect(tracer.tree()).toEqual([' > decision.evaluate', 'decision.evaluate > decision.step.features', 'decision.evaluate > decision.step.derive', 'decision.evaluate > decision.step.policy', 'decision.evaluate > decision.step.rules']);
    const [, features, derive, policy, rules] = tracer.spans;
    expect(features!.attributes).toEqual({ 'decision.type': 'refund@1.2.0', 'decision.step.kind': 'features', 'decision.features': 4 });
    expect(derive!.attributes).toEqual({ 'decision.type': 'refund@1.2.0', 'decision.step.index': 0, 'decision.step.kind': 'derive', 'decision.step.as': 'derived' });
    expect(policy!.attributes).toMatchObject({ 'decision.step.index': 1, 'decision.step.kind': 'policy', 'decision.step.as': 'risk', 'decision.step.entrypoint': 'refund/risk/assessment', 'decision.step.component': expect.stringMatching(/^refund-risk@/) });
    expect(rules!.attributes).toMatchObject({ 'decision.step.index': 2, 'decision.step.kind': 'rules', 'decision.step.component': expect.stringMatching(/^refund-policy@/) });
    expect(tracer.spans.every((s) => s.ended === 1 && s.failed.length === 0)).toBe(true);
  });

  it('decides exactly as an untraced one, and its spans carry no value of the case', async () => {
    const amounts = fc.record({ requestedAmount: fc.integer({ min: 1, max: 20_000 }), refundedAmount: fc.integer({ min: 0, max: 12_999 }), ipRisk: fc.constantFrom('low', 'medium', 'high') });
    await fc.assert(
      fc.asyncProperty(amounts, fc.integer({ min: 0, max: 9 }), async (a, refunds30d) => {
        const c = refundCase({ requestedAmount: a.requestedAmount, order: { refundedAmount: a.refundedAmount }, signals: { ipRisk: a.ipRisk } });
        const platform = { refundCount30d: refunds30d };
        const tracer = new RecordingTracer();
        const traced = await refund.decideValid(c, platform, tracer);
        const plain = await refund.decideValid(c, platform);
        expect(traced).toEqual(plain);
        const attributes = JSON.stringify(tracer.spans.map((s) => s.attributes));
        for (const v of [c.refundId, c.orderId, c.customerId, String(a.requestedAmount)]) expect(attributes).not.toContain(`"${v}"`);
      }),
      { numRuns: 50 },
    );
  });

  it('fails and ends the span of a step that throws, and makes no span for the steps after it', async () => {
    const tracer = new RecordingTracer();
    // The risk policy fails (as a Wasm fault would): features and derive ran, rules does not.
    const broken = refundCase();
    const policyStep = refund.policySteps[0]!.policy;
    const evaluate = policyStep.evaluate.bind(policyStep);
    policyStep.evaluate = () => {
      throw new DomainError('POLICY_FAILED', 'the policy failed', 'unavailable');
    };
    try {
      await expect(refund.decideValid(broken, {}, tracer)).rejects.toMatchObject({ code: 'POLICY_FAILED' });
    } finally {
      policyStep.evaluate = evaluate;
    }
    expect(tracer.spans.map((s) => s.name)).toEqual(['decision.step.features', 'decision.step.derive', 'decision.step.policy']);
    const policy = tracer.spans[2]!;
    expect(policy.failed).toEqual([expect.objectContaining({ code: 'POLICY_FAILED' })]);
    expect(tracer.spans.every((s) => s.ended === 1)).toBe(true);
  });
});
