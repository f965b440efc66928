import { classify, contributions, factName, leaves } from './trace.js';

const trace = [
  { source: 'platform@features', rule: 'feature.refundCount30d', fired: false, feature: 'refundCount30d', value: 4, from: 'platform', entity: 'customer', window: '30d', platform: 4, caller: 1 },
  { source: 'refund-risk@1.0.0', rule: 'signal.HIGH_AMOUNT', fired: true, code: 'HIGH_AMOUNT', fact: 'requestedAmount', operator: '>', weight: 20, value: 30000, threshold: 20000 },
  { source: 'refund-risk@1.0.0', rule: 'signal.REFUND_VELOCITY_HIGH', fired: true, code: 'REFUND_VELOCITY_HIGH', fact: 'customer.refundCount30d', operator: '>=', weight: 25, value: 4, threshold: 3 },
  { source: 'refund-risk@1.0.0', rule: 'signal.NEW_ACCOUNT', fired: false, code: 'NEW_ACCOUNT', weight: 15, value: 400, threshold: 14 },
  { source: 'refund-risk@1.0.0', rule: 'risk.band', fired: false, score: 45, band: 'MEDIUM' },
  {
    source: 'refund-policy@1.2.0', rule: 'goodwill-limit-reached', fired: true, priority: 100,
    event: { type: 'DENY', params: { code: 'GOODWILL_LIMIT_REACHED' } },
    conditions: { all: [{ fact: 'reasonCode', operator: 'equal', value: 'GOODWILL', factValue: 'GOODWILL', result: true }, { any: [{ fact: 'customer', path: '$.goodwillRefunds12m', operator: 'greaterThanInclusive', value: 3, valueFrom: { param: 'goodwillLimit12m' }, factValue: 3, result: true }] }] },
  },
  { source: 'platform@refunds', rule: 'order.refundedAmount', fired: false, used: 0 },
];

describe('explanation of a trace', () => {
  const steps = classify(trace);

  it('classifies each step by the shape it records', () => {
    expect(steps.map((s) => s.kind)).toEqual(['feature', 'signal', 'signal', 'signal', 'score', 'rule', 'other']);
  });

  it('lists the risk contributions of fired signals only, largest first', () => {
    expect(contributions(steps)).toEqual([
      { code: 'REFUND_VELOCITY_HIGH', weight: 25 },
      { code: 'HIGH_AMOUNT', weight: 20 },
    ]);
  });

  it('flattens nested conditions and names facts with their path', () => {
    const rule = steps[5]!;
    if (rule.kind !== 'rule') throw new Error('not a rule');
    expect(leaves(rule.conditions).map(factName)).toEqual(['reasonCode', 'customer.goodwillRefunds12m']);
  });

  it('keeps a step it does not know as fields', () => {
    expect(steps[6]).toEqual({ kind: 'other', source: 'platform@refunds', rule: 'order.refundedAmount', fired: false, fields: { used: 0 } });
  });

  it("keeps a policy's signal that names the feature it compared as a step of its own, not a feature", () => {
    const signal = { source: 'giftcard-abuse@1.2.0', rule: 'signal.REDEEMED_AMOUNT_CARD_24H', fired: true, code: 'REDEEMED_AMOUNT_CARD_24H', feature: 'redeemedAmountCard24h', value: 16001, threshold: 16000 };
    const feature = { source: 'platform@features', rule: 'feature.redeemedAmountCard24h', fired: false, feature: 'redeemedAmountCard24h', value: 0, from: 'platform', entity: 'cardCurrency', window: '24h' };
    expect(classify([signal, feature]).map((s) => s.kind)).toEqual(['other', 'feature']);
  });

  it('reads no trace as no steps', () => {
    expect(classify(undefined)).toEqual([]);
  });
});
