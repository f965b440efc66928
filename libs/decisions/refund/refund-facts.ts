/** Builds the facts a refund-policy pack sees: the case's fields plus values derived from them. */
import type { RefundCase } from './refund-case.schema.js';

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
