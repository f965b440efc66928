/**
 * COMPARISON FLOOR, NOT PRODUCT CODE. The refund release (risk score of refund-risk@1.0.0 plus the ten rules of
 * refund-policy@1.0.0 plus the combining rule) written by hand in plain TypeScript, reading the same parameters
 * and weights. It exists only so the benchmark can show what the engines cost over straight-line code; it keeps
 * no per-condition trace, and the benchmark checks it agrees with the product on every generated case.
 */
import type { Outcome } from '../libs/decisions/index.js';
import type { RefundCase } from './cases.js';

interface RiskData {
  score_cap: number;
  bands: { elevated: { min: number }; high: { min: number } };
  signals: Record<string, { weight: number; threshold: number | string }>;
}

interface PackParameters {
  refundWindowDays: number;
  goodwillLimit12m: number;
  autoApproveLimit: number;
  emptyItemCount: number;
  returnPendingStatuses: string[];
  returnReviewExemptRiskScore: number;
  storeCreditTenders: string[];
}

export interface FloorReason {
  code: string;
  effect: 'DENY' | 'REVIEW';
}

export interface FloorDecision {
  outcome: Outcome;
  riskScore: number;
  band: string;
  tender: 'ORIGINAL' | 'STORE_CREDIT';
  /** Risk reasons first (band, then fired signals), then pack reasons by priority: the product's order. */
  reasons: FloorReason[];
}

type Signal = readonly [code: string, fired: (c: RefundCase, threshold: number | string) => boolean];

const isNumber = (v: unknown): v is number => typeof v === 'number';

// Output order and comparisons of risk.rego's signal_defs.
const SIGNALS: readonly Signal[] = [
  ['REFUND_VELOCITY_HIGH', (c, t) => c.customer.refundCount30d >= (t as number)],
  ['HIGH_AMOUNT', (c, t) => c.requestedAmount > (t as number)],
  ['NEW_ACCOUNT', (c, t) => c.customer.accountAgeDays < (t as number)],
  ['PRIOR_CHARGEBACK', (c, t) => c.customer.priorChargebacks > (t as number)],
  ['IP_RISK_HIGH', (c, t) => c.signals.ipRisk === t],
  ['DEVICE_SHARED', (c, t) => isNumber(c.signals.deviceAccounts) && c.signals.deviceAccounts >= (t as number)],
];

export function createFloor(riskData: RiskData, p: PackParameters): (c: RefundCase) => FloorDecision {
  const signals = SIGNALS.map(([code, fired]) => {
    const s = riskData.signals[code];
    if (!s) throw new Error(`risk data has no signal ${code}`);
    return { code, fired, weight: s.weight, threshold: s.threshold };
  });
  const pending = new Set(p.returnPendingStatuses);
  const storeCredit = new Set(p.storeCreditTenders);

  return (c) => {
    let sum = 0;
    const firedCodes: string[] = [];
    for (const s of signals) {
      if (s.fired(c, s.threshold)) {
        sum += s.weight;
        firedCodes.push(s.code);
      }
    }
    const riskScore = Math.min(sum, riskData.score_cap);
    const band = riskScore >= riskData.bands.high.min ? 'HIGH' : riskScore >= riskData.bands.elevated.min ? 'ELEVATED' : 'LOW';
    const reasons: FloorReason[] = [];
    if (band !== 'LOW') {
      const effect = band === 'HIGH' ? 'DENY' : 'REVIEW';
      reasons.push({ code: band === 'HIGH' ? 'RISK_SCORE_HIGH' : 'RISK_SCORE_ELEVATED', effect });
      for (const code of firedCodes) reasons.push({ code, effect });
    }

    const d = deriveRefundFacts(c);
    // Priority 100: denials.
    if (d.daysSinceDelivery !== null && d.daysSinceDelivery > p.refundWindowDays) reasons.push({ code: 'POLICY_WINDOW_EXCEEDED', effect: 'DENY' });
    if (d.itemCount > p.emptyItemCount && d.finalSaleItemCount === d.itemCount) reasons.push({ code: 'ITEM_NOT_REFUNDABLE_FINAL_SALE', effect: 'DENY' });
    if (c.requestedAmount > d.refundableAmount) reasons.push({ code: 'AMOUNT_EXCEEDS_REFUNDABLE', effect: 'DENY' });
    if (c.reasonCode === 'GOODWILL' && c.customer.goodwillRefunds12m >= p.goodwillLimit12m) reasons.push({ code: 'GOODWILL_LIMIT_REACHED', effect: 'DENY' });
    if (c.returnStatus === 'REJECTED') reasons.push({ code: 'RETURN_REJECTED', effect: 'DENY' });
    // Priority 50: reviews.
    if (c.disputeOpen) reasons.push({ code: 'CHARGEBACK_IN_PROGRESS', effect: 'REVIEW' });
    if (c.requestedAmount > p.autoApproveLimit) reasons.push({ code: 'AMOUNT_OVER_AUTO_APPROVE_LIMIT', effect: 'REVIEW' });
    if (pending.has(c.returnStatus) && riskScore !== p.returnReviewExemptRiskScore) reasons.push({ code: 'RETURN_NOT_RECEIVED', effect: 'REVIEW' });
    if (c.reasonCode === 'NOT_RECEIVED' && d.delivered) reasons.push({ code: 'ITEM_NOT_RECEIVED_CLAIM', effect: 'REVIEW' });
    // Priority 10: tender.
    const tender = storeCredit.has(c.payment.tender) || c.payment.cardExpired ? 'STORE_CREDIT' : 'ORIGINAL';

    let outcome: Outcome = 'APPROVE';
    for (const r of reasons) {
      if (r.effect === 'DENY') {
        outcome = 'DENY';
        break;
      }
      outcome = 'REVIEW';
    }
    return { outcome, riskScore, band, tender, reasons };
  };
}

// The refund type's derived facts, restated by hand for the floor and the raw-engine row (comparison only, NOT product
// code: the product derives them from decision-types/refund).
const MS_PER_DAY = 86_400_000; // a unit conversion, not a policy number

export interface RefundDerivedFacts {
  /** capturedAmount − refundedAmount; negative when more was refunded than captured. */
  refundableAmount: number;
  delivered: boolean;
  /** Fractional days from deliveredAt to requestedAt; null when not delivered. */
  daysSinceDelivery: number | null;
  itemCount: number;
  finalSaleItemCount: number;
}

export interface RefundFacts {
  requestedAmount: number;
  currency: string;
  reasonCode: string;
  channel: string;
  requestedAt: string;
  returnStatus: string;
  disputeOpen: boolean;
  order: RefundCase['order'];
  customer: RefundCase['customer'];
  payment: RefundCase['payment'];
  signals: RefundCase['signals'];
  derived: RefundDerivedFacts;
  risk: { score: number };
}

export function deriveRefundFacts(c: RefundCase): RefundDerivedFacts {
  const delivered = c.order.deliveredAt !== null;
  let finalSale = 0;
  for (const item of c.order.items) if (item.finalSale) finalSale++;
  return {
    refundableAmount: c.order.capturedAmount - c.order.refundedAmount,
    delivered,
    daysSinceDelivery:
      c.order.deliveredAt === null ? null : (Date.parse(c.requestedAt) - Date.parse(c.order.deliveredAt)) / MS_PER_DAY,
    itemCount: c.order.items.length,
    finalSaleItemCount: finalSale,
  };
}

export function buildRefundFacts(c: RefundCase, riskScore: number): RefundFacts {
  return {
    requestedAmount: c.requestedAmount,
    currency: c.currency,
    reasonCode: c.reasonCode,
    channel: c.channel,
    requestedAt: c.requestedAt,
    returnStatus: c.returnStatus,
    disputeOpen: c.disputeOpen,
    order: c.order,
    customer: c.customer,
    payment: c.payment,
    signals: c.signals,
    derived: deriveRefundFacts(c),
    risk: { score: riskScore },
  };
}
