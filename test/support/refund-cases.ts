/** A clean refund case that the default release approves, and a deep-override helper to vary it. */
export const DAY_MS = 86_400_000;

/**
 * Each case is a new refund of a new order: a refund is one object per refundId (a second decision for it is 409
 * REFUND_EXISTS), an order's approved refunds count against what it can still refund, and a customer's refunds count
 * towards their velocity. Name them to reuse them.
 */
let serial = 1000;

export function baseCase(): Record<string, any> {
  serial += 1;
  return {
    refundId: `rf_${serial}`,
    orderId: `ord_${serial + 1000}`,
    // A new customer too: the platform counts each customer's refunds (refund@1.2.0's and 1.3.0's features).
    customerId: `cus_${serial + 2000}`,
    requestedAmount: 4999,
    currency: 'EUR',
    reasonCode: 'DAMAGED',
    channel: 'customer_portal',
    requestedAt: '2026-03-11T12:00:00Z',
    order: {
      placedAt: '2026-02-28T09:00:00Z',
      deliveredAt: '2026-03-02T15:30:00Z',
      capturedAmount: 12999,
      refundedAmount: 0,
      items: [
        { sku: 'SKU-1', amount: 4999, finalSale: false, category: 'apparel' },
        { sku: 'SKU-2', amount: 8000, finalSale: false, category: 'apparel' },
      ],
    },
    customer: { accountAgeDays: 400, refundCount30d: 0, goodwillRefunds12m: 0, priorChargebacks: 0 },
    payment: { tender: 'card', cardExpired: false },
    returnStatus: 'RECEIVED',
    disputeOpen: false,
    signals: { ipRisk: 'low', deviceAccounts: 1 },
  };
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merges `patch` over a fresh base case; arrays replace; `undefined` deletes a field. */
export function refundCase(patch: Record<string, any> = {}): Record<string, any> {
  const merge = (target: Record<string, any>, p: Record<string, any>) => {
    for (const [k, v] of Object.entries(p)) {
      if (v === undefined) delete target[k];
      else if (isObject(v) && isObject(target[k])) merge(target[k], v);
      else target[k] = v;
    }
    return target;
  };
  const c = merge(baseCase(), patch);
  // A named refund is of its own order: building it twice gives the same body (the same request, for idempotency).
  if (typeof patch.refundId === 'string' && patch.orderId === undefined) c.orderId = `ord_of_${patch.refundId}`;
  if (typeof patch.refundId === 'string' && patch.customerId === undefined) c.customerId = `cus_of_${patch.refundId}`.slice(0, 255);
  return c;
}

/** requestedAt that lies `days` (plus `extraMs`) after deliveredAt of the base case. */
export function requestedAfterDelivery(days: number, extraMs = 0): string {
  return new Date(Date.parse('2026-03-02T15:30:00Z') + days * DAY_MS + extraMs).toISOString();
}
