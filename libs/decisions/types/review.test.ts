import { resolve } from 'node:path';
import type { ErrorDetail } from '../../errors/index.js';
import { compilePack, validatePack, type CompiledPack } from '../../rules/index.js';
import { FileComponentSource } from '../file-component-source.js';
import { bindReviewPolicy, requiredApprovals, reviewDeadline } from './review.js';

const root = resolve(import.meta.dirname, '../../..');
const spec = { when: 'REVIEW', packKind: 'refund-policy', amount: '/requestedAmount', currency: '/currency', riskBand: '/risk/band' };

async function pack(version: string, parameters: Record<string, unknown> = {}): Promise<CompiledPack> {
  const doc = (await new FileComponentSource(root).pack('refund-policy', version)) as Record<string, any>;
  return compilePack(validatePack({ ...doc, parameters: { ...doc.parameters, ...parameters } }));
}

describe('review policy', () => {
  it("reads the default release's numbers from the refund-policy pack", async () => {
    const problems: ErrorDetail[] = [];
    const policy = bindReviewPolicy(spec, new Map([['refund-policy', await pack('1.2.0')]]), '/review', problems);
    expect(problems).toEqual([]);
    expect(policy).toMatchObject({ slaHours: 24, claimLeaseMinutes: 15, fourEyesAmount: 100000, fourEyesRiskBands: [], source: 'refund-policy@1.2.0' });
    expect(reviewDeadline(policy!, new Date('2026-12-02T10:00:00Z')).toISOString()).toBe('2026-12-03T10:00:00.000Z');
    expect([requiredApprovals(policy!, 99999), requiredApprovals(policy!, 100000), requiredApprovals(policy!, null)]).toEqual([1, 2, 1]);
  });

  it('asks for two approvals in a listed risk band', async () => {
    const policy = bindReviewPolicy(spec, new Map([['refund-policy', await pack('1.2.0', { reviewFourEyesRiskBands: ['ELEVATED'] })]]), '/review', []);
    expect([requiredApprovals(policy!, 10, 'ELEVATED'), requiredApprovals(policy!, 10, 'LOW'), requiredApprovals(policy!, 10)]).toEqual([2, 1, 1]);
  });

  it('names each missing or invalid parameter, and a missing pack', async () => {
    const problems: ErrorDetail[] = [];
    expect(bindReviewPolicy(spec, new Map([['refund-policy', await pack('1.0.0', { reviewSlaHours: 0, reviewClaimLeaseMinutes: 1.5 })]]), '/review', problems)).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual([
      '/components/refund-policy/parameters/reviewSlaHours',
      '/components/refund-policy/parameters/reviewClaimLeaseMinutes',
      '/components/refund-policy/parameters/reviewFourEyesAmount',
    ]);
    // A review's numbers are one each: a parameter table in their place is named as such.
    const doc = (await new FileComponentSource(root).pack('refund-policy', '1.2.0')) as Record<string, any>;
    const { reviewFourEyesAmount, ...parameters } = doc.parameters as Record<string, unknown>;
    const table = { key: { fact: 'currency' }, values: { JPY: 1_000_000 }, default: reviewFourEyesAmount };
    const tabled = compilePack(validatePack({ ...doc, parameters, parameterTables: { reviewFourEyesAmount: table } }));
    const tableProblems: ErrorDetail[] = [];
    expect(bindReviewPolicy(spec, new Map([['refund-policy', tabled]]), '/review', tableProblems)).toBeUndefined();
    expect(tableProblems).toEqual([{ path: '/components/refund-policy/parameterTables/reviewFourEyesAmount', message: expect.stringContaining('not a parameter table') }]);
    const none: ErrorDetail[] = [];
    expect(bindReviewPolicy(spec, new Map(), '/components/refund/review', none)).toBeUndefined();
    expect(none).toEqual([{ path: '/components/refund/review/packKind', message: expect.stringContaining('has 0') }]);
  });
});
