/** Every reason code and boundary of the default refund release, over HTTP against the real store. */
import { newKey, TestService } from './support/harness.js';
import { refundCase, requestedAfterDelivery } from './support/refund-cases.js';

let svc: TestService;
let key: string;

beforeAll(async () => {
  svc = await TestService.start('refund_policy');
  key = await svc.issueKey('acme', ['service']);
});
afterAll(() => svc?.stop());

async function decide(patch: Record<string, any>) {
  const r = await svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase(patch) } });
  expect(r.status).toBe(201);
  return r.body as { outcome: string; reasons: { code: string; source: string; rule: string; effect: string; message: string }[]; riskScore: number; approvedAmount: number; tender: string };
}
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code).sort();

describe('clean case', () => {
  it('approves the full requested amount to the original tender with no reasons', async () => {
    const d = await decide({});
    expect(d).toMatchObject({ outcome: 'APPROVE', riskScore: 0, approvedAmount: 4999, tender: 'ORIGINAL', reasons: [] });
  });
});

describe('DENY rules', () => {
  it.each([
    ['exactly 30 days after delivery is inside the window', { requestedAt: requestedAfterDelivery(30) }, 'APPROVE', []],
    ['30 days and 1 second is outside', { requestedAt: requestedAfterDelivery(30, 1000) }, 'DENY', ['POLICY_WINDOW_EXCEEDED']],
    ['not delivered: no window', { order: { deliveredAt: null }, requestedAt: requestedAfterDelivery(400) }, 'APPROVE', []],
    [
      'every item final sale',
      { order: { items: [{ sku: 'A', amount: 4999, finalSale: true, category: 'x' }, { sku: 'B', amount: 1, finalSale: true, category: 'x' }] } },
      'DENY',
      ['ITEM_NOT_REFUNDABLE_FINAL_SALE'],
    ],
    [
      'some items final sale',
      { order: { items: [{ sku: 'A', amount: 4999, finalSale: true, category: 'x' }, { sku: 'B', amount: 1, finalSale: false, category: 'x' }] } },
      'APPROVE',
      [],
    ],
    ['requested equals refundable', { requestedAmount: 4999, order: { capturedAmount: 12999, refundedAmount: 8000 } }, 'APPROVE', []],
    ['requested one above refundable', { requestedAmount: 5000, order: { capturedAmount: 12999, refundedAmount: 8000 } }, 'DENY', ['AMOUNT_EXCEEDS_REFUNDABLE']],
    ['goodwill with 2 earlier goodwill refunds', { reasonCode: 'GOODWILL', customer: { goodwillRefunds12m: 2 } }, 'APPROVE', []],
    ['goodwill with 3 earlier goodwill refunds', { reasonCode: 'GOODWILL', customer: { goodwillRefunds12m: 3 } }, 'DENY', ['GOODWILL_LIMIT_REACHED']],
    ['3 earlier goodwill refunds, other reason', { reasonCode: 'DAMAGED', customer: { goodwillRefunds12m: 3 } }, 'APPROVE', []],
    ['return rejected', { returnStatus: 'REJECTED' }, 'DENY', ['RETURN_REJECTED']],
  ])('%s', async (_name, patch, outcome, expected) => {
    const d = await decide(patch);
    expect(d.outcome).toBe(outcome);
    expect(codes(d)).toEqual([...expected].sort());
    expect(d.approvedAmount).toBe(outcome === 'APPROVE' ? refundCase(patch).requestedAmount : 0);
  });
});

describe('risk score (Rego, weights as bundle data)', () => {
  const big = { order: { capturedAmount: 90000 } };
  it.each([
    ['refundCount30d 2: no signal', { customer: { refundCount30d: 2 } }, 0, 'APPROVE', []],
    ['REFUND_VELOCITY_HIGH alone (25) stays below review', { customer: { refundCount30d: 3 } }, 25, 'APPROVE', []],
    ['HIGH_AMOUNT at 20000: no signal', { ...big, requestedAmount: 20000 }, 0, 'APPROVE', []],
    ['HIGH_AMOUNT at 20001', { ...big, requestedAmount: 20001 }, 20, 'APPROVE', []],
    ['NEW_ACCOUNT at 14 days: no signal', { customer: { accountAgeDays: 14 } }, 0, 'APPROVE', []],
    ['NEW_ACCOUNT at 13 days', { customer: { accountAgeDays: 13 } }, 15, 'APPROVE', []],
    ['PRIOR_CHARGEBACK', { customer: { priorChargebacks: 1 } }, 25, 'APPROVE', []],
    ['IP_RISK_HIGH', { signals: { ipRisk: 'high' } }, 10, 'APPROVE', []],
    ['ipRisk medium: no signal', { signals: { ipRisk: 'medium' } }, 0, 'APPROVE', []],
    ['DEVICE_SHARED at 2: no signal', { signals: { deviceAccounts: 2 } }, 0, 'APPROVE', []],
    ['DEVICE_SHARED at 3', { signals: { deviceAccounts: 3 } }, 15, 'APPROVE', []],
    ['deviceAccounts absent', { signals: { ipRisk: 'low', deviceAccounts: undefined } }, 0, 'APPROVE', []],
    [
      'score 30 (NEW_ACCOUNT + DEVICE_SHARED) is REVIEW with its signals',
      { customer: { accountAgeDays: 1 }, signals: { deviceAccounts: 5 } },
      30,
      'REVIEW',
      ['RISK_SCORE_ELEVATED', 'NEW_ACCOUNT', 'DEVICE_SHARED'],
    ],
    [
      'score 65 is REVIEW',
      { customer: { refundCount30d: 3, priorChargebacks: 2, accountAgeDays: 3 } },
      65,
      'REVIEW',
      ['RISK_SCORE_ELEVATED', 'REFUND_VELOCITY_HIGH', 'PRIOR_CHARGEBACK', 'NEW_ACCOUNT'],
    ],
    [
      'score 70 is DENY with its signals',
      { ...big, requestedAmount: 20001, customer: { refundCount30d: 3, priorChargebacks: 1 } },
      70,
      'DENY',
      ['RISK_SCORE_HIGH', 'REFUND_VELOCITY_HIGH', 'HIGH_AMOUNT', 'PRIOR_CHARGEBACK'],
    ],
    [
      'every signal (110) is capped at 100',
      {
        ...big,
        requestedAmount: 20001,
        customer: { refundCount30d: 9, accountAgeDays: 0, priorChargebacks: 4 },
        signals: { ipRisk: 'high', deviceAccounts: 7 },
      },
      100,
      'DENY',
      ['RISK_SCORE_HIGH', 'REFUND_VELOCITY_HIGH', 'HIGH_AMOUNT', 'NEW_ACCOUNT', 'PRIOR_CHARGEBACK', 'IP_RISK_HIGH', 'DEVICE_SHARED'],
    ],
  ])('%s', async (_name, patch, score, outcome, expected) => {
    const d = await decide(patch);
    expect(d.riskScore).toBe(score);
    expect(d.outcome).toBe(outcome);
    expect(codes(d)).toEqual([...expected].sort());
    for (const r of d.reasons) {
      expect(r.source).toBe('refund-risk@1.0.0');
      expect(r.effect).toBe(outcome);
    }
  });
});

describe('REVIEW rules', () => {
  it.each([
    ['dispute open', { disputeOpen: true }, ['CHARGEBACK_IN_PROGRESS']],
    ['50000 is within the auto-approve limit', { requestedAmount: 50000, order: { capturedAmount: 60000 } }, []],
    ['50001 is over it', { requestedAmount: 50001, order: { capturedAmount: 60000 } }, ['AMOUNT_OVER_AUTO_APPROVE_LIMIT']],
    ['label created with risk score 0', { returnStatus: 'LABEL_CREATED' }, []],
    ['label created with risk score > 0', { returnStatus: 'LABEL_CREATED', signals: { ipRisk: 'high' } }, ['RETURN_NOT_RECEIVED']],
    ['in transit with risk score > 0', { returnStatus: 'IN_TRANSIT', customer: { accountAgeDays: 2 } }, ['RETURN_NOT_RECEIVED']],
    ['not-received claim on a delivered order', { reasonCode: 'NOT_RECEIVED' }, ['ITEM_NOT_RECEIVED_CLAIM']],
    ['not-received claim on an undelivered order', { reasonCode: 'NOT_RECEIVED', order: { deliveredAt: null } }, []],
  ])('%s', async (_name, patch, expected) => {
    const d = await decide(patch);
    expect(codes(d)).toEqual([...expected].sort());
    expect(d.outcome).toBe(expected.length ? 'REVIEW' : 'APPROVE');
    for (const r of d.reasons) expect(r.source).toBe('refund-policy@1.2.0');
    expect(d.approvedAmount).toBe(expected.length ? 0 : refundCase(patch).requestedAmount);
  });

  it('amounts beyond 32 bits decide normally (Wasm formatting regression)', async () => {
    const d = await decide({ requestedAmount: 3_000_000_000, order: { capturedAmount: 5_000_000_000 }, customer: { refundCount30d: 4, priorChargebacks: 1 } });
    expect(d.outcome).toBe('DENY');
    expect(d.riskScore).toBe(70);
    expect(d.reasons.find((r) => r.code === 'HIGH_AMOUNT')?.message).toContain('3000000000');
  });

  it('DENY wins over REVIEW', async () => {
    const d = await decide({ disputeOpen: true, returnStatus: 'REJECTED' });
    expect(d.outcome).toBe('DENY');
    expect(codes(d)).toEqual(['CHARGEBACK_IN_PROGRESS', 'RETURN_REJECTED']);
  });
});

describe('tender', () => {
  it.each([
    ['card', false, 'ORIGINAL'],
    ['wallet', false, 'ORIGINAL'],
    ['gift_card', false, 'STORE_CREDIT'],
    ['store_credit', false, 'STORE_CREDIT'],
    ['card', true, 'STORE_CREDIT'],
  ])('%s with cardExpired=%s → %s', async (tender, cardExpired, expected) => {
    const d = await decide({ payment: { tender, cardExpired } });
    expect(d.tender).toBe(expected);
    expect(d.outcome).toBe('APPROVE');
  });
});
