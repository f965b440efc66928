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

/** The source of the trace entry a refund lifecycle's decision starts with (stored with the decision, re-applied by a replay). */
export const PLATFORM_TRACE_SOURCE = 'platform@refunds';

/** The trace entry that shows which refunded total the rules saw, and why. */
export function refundedTotalTrace(t: RefundedTotal): Record<string, unknown> {
  return {
    source: PLATFORM_TRACE_SOURCE,
    rule: 'order.refundedAmount',
    fired: t.platform > t.caller,
    callerRefundedAmount: t.caller,
    platformRefundedAmount: t.platform,
    used: t.used,
  };
}

/**
 * The trace's first entry when it is the platform's refunded total and it fired: the rules saw a larger refunded total
 * than the case sent, so a replay must apply it. Otherwise (no lifecycle, or the case's own total was used) undefined.
 */
export function appliedRefundedTotal(trace: unknown): Record<string, unknown> | undefined {
  const first: unknown = Array.isArray(trace) ? trace[0] : undefined;
  if (typeof first !== 'object' || first === null) return undefined;
  const entry = first as Record<string, unknown>;
  return entry.source === PLATFORM_TRACE_SOURCE && entry.fired === true ? entry : undefined;
}

/** The case the rules see: `order.refundedAmount` replaced by the refunded total used. */
export function enrichedCase(input: Record<string, unknown>, total: RefundedTotal): Record<string, unknown> {
  const order = input.order as Record<string, unknown>;
  return { ...input, order: { ...order, refundedAmount: total.used } };
}

/**
 * A replay (of one decision, or a simulation's of many) re-applies what the platform knew when it decided: the refunded
 * total recorded in the stored trace's first entry (not today's), so a replay of a refund decision is as deterministic
 * as any other. A trace without that entry (another type, or no lifecycle) leaves the case as stored.
 */
export function replayEnrichment(input: Record<string, unknown>, trace: readonly unknown[]): { input: Record<string, unknown>; entry?: Record<string, unknown> } {
  const first = trace[0] as Record<string, unknown> | undefined;
  if (first?.source !== PLATFORM_TRACE_SOURCE) return { input };
  const total = refundedTotal(first.callerRefundedAmount as number, first.platformRefundedAmount as number);
  return { input: enrichedCase(input, total), entry: first };
}
