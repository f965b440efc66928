/**
 * The refunded total of an order is the platform's own: the larger of what the caller says was refunded before
 * (`order.refundedAmount`) and what the platform has approved or paid for that order. Both are kept for the trace.
 */
export interface RefundedTotal {
  /** What the case said (`order.refundedAmount`). */
  readonly caller: number;
  /** Sum of approved amounts of this order's refunds in APPROVED, PROCESSING or SUCCEEDED. */
  readonly platform: number;
  /** The one the rules see: max(caller, platform). */
  readonly used: number;
}

export function refundedTotal(caller: number, platform: number): RefundedTotal {
  return { caller, platform, used: Math.max(caller, platform) };
}

/** The trace entry that shows which refunded total the rules saw, and why. */
export function refundedTotalTrace(t: RefundedTotal): Record<string, unknown> {
  return {
    source: 'platform@refunds',
    rule: 'order.refundedAmount',
    fired: t.platform > t.caller,
    callerRefundedAmount: t.caller,
    platformRefundedAmount: t.platform,
    used: t.used,
  };
}
