import { explanation, formatMinor, resolutionDocument, type ResolutionDecisionInput } from './resolution.js';

const T = new Date('2026-12-02T10:00:00.000Z');

function input(over: Partial<ResolutionDecisionInput> = {}): ResolutionDecisionInput {
  return {
    id: 'dec-2',
    tenant: 'acme',
    type: 'refund',
    createdAt: T,
    outcome: 'APPROVE',
    approvedAmount: 8000,
    currency: 'EUR',
    refundId: 'rf1',
    reasonCode: 'GOODWILL',
    note: 'customer sent photos',
    review: { id: 'rev-1', reviewers: ['k1'], approvals: [{ keyId: 'k1', amount: 8000, reasonCode: 'GOODWILL', note: 'customer sent photos', at: T }] },
    engine: { id: 'dec-1', outcome: 'REVIEW', reasons: [{ code: 'DISPUTE_OPEN', message: 'A dispute is open' }], release: { name: 'default', version: '1.2.0' } },
    closedBy: 'k1',
    ...over,
  };
}

describe('resolution decision', () => {
  it('formats minor units in the currency\'s digits', () => {
    expect(formatMinor(8000, 'EUR')).toBe('80.00 EUR');
    expect(formatMinor(5, 'EUR')).toBe('0.05 EUR');
    expect(formatMinor(500, 'JPY')).toBe('500 JPY');
    expect(formatMinor(1234, 'KWD')).toBe('1.234 KWD');
    expect(formatMinor(1234, null)).toBe('12.34');
  });

  it('explains what the engine said and what the reviewers decided', () => {
    expect(explanation(input())).toBe('engine said REVIEW because DISPUTE_OPEN (A dispute is open); reviewer k1 approved 80.00 EUR with note "customer sent photos"');
    expect(explanation(input({ outcome: 'DENY', approvedAmount: null, note: null, reasonCode: 'FRAUD' }))).toBe(
      'engine said REVIEW because DISPUTE_OPEN (A dispute is open); reviewer k1 denied (reason FRAUD)',
    );
    expect(explanation(input({ review: { ...input().review, reviewers: ['k0', 'k1'] } }))).toContain('after approval by reviewer k0');
  });

  it('names the decision it overrides, its review and the engine\'s release', () => {
    const d = resolutionDocument(input());
    expect(d).toMatchObject({
      id: 'dec-2',
      type: 'refund',
      domain: 'refund',
      outcome: 'APPROVE',
      approvedAmount: 8000,
      overrides: 'dec-1',
      reasons: [{ code: 'GOODWILL', source: 'review@rev-1', rule: 'reviewer' }],
      review: { id: 'rev-1', reviewers: ['k1'], note: 'customer sent photos' },
      release: { name: 'default', version: '1.2.0' },
    });
    expect(resolutionDocument(input({ outcome: 'DENY' })).approvedAmount).toBeNull();
  });
});
