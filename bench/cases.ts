/** Deterministic refund cases for the benchmark: a seeded PRNG drives a mix that takes every APPROVE, REVIEW and DENY path. */

/** The shape of a refund case (the refund decision type's input schema, decision-types/refund), for generating bench load. */
export interface RefundItem {
  sku: string;
  amount: number;
  finalSale: boolean;
  category: string;
}

export interface RefundCase {
  refundId: string;
  orderId: string;
  customerId: string;
  requestedAmount: number;
  currency: string;
  reasonCode: string;
  channel: string;
  requestedAt: string;
  order: {
    placedAt: string;
    deliveredAt: string | null;
    capturedAmount: number;
    refundedAmount: number;
    items: RefundItem[];
  };
  customer: { accountAgeDays: number; refundCount30d: number; goodwillRefunds12m: number; priorChargebacks: number };
  payment: { tender: string; cardExpired: boolean };
  returnStatus: string;
  disputeOpen: boolean;
  signals: { ipRisk: string; deviceAccounts?: number };
}


/** mulberry32: tiny, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const REQUESTED_AT = Date.parse('2026-03-11T12:00:00Z');

/** Picks from `[value, weight]` pairs. */
function weighted<T>(rnd: () => number, table: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of table) total += w;
  let x = rnd() * total;
  for (const [v, w] of table) {
    x -= w;
    if (x < 0) return v;
  }
  return table[table.length - 1]![0];
}

const int = (rnd: () => number, min: number, max: number): number => min + Math.floor(rnd() * (max - min + 1));
const chance = (rnd: () => number, p: number): boolean => rnd() < p;

/**
 * `count` cases from `seed`. Most requests are clean (APPROVE); the rest trip one or more pack rules or risk
 * signals, so the rule engine and the risk policy both see short-circuits, fired rules and every band.
 */
export function generateCases(count: number, seed: number): RefundCase[] {
  const rnd = prng(seed);
  const out: RefundCase[] = [];
  for (let i = 0; i < count; i++) {
    const requestedAt = REQUESTED_AT + int(rnd, 0, 30 * 24) * 3_600_000;
    const delivered = !chance(rnd, 0.1);
    // About 6% of delivered orders are past the 30-day window.
    const daysAgo = chance(rnd, 0.06) ? 30 + rnd() * 20 : rnd() * 29;
    const itemCount = weighted(rnd, [
      [0, 2],
      [1, 40],
      [2, 35],
      [3, 15],
      [4, 8],
    ] as const);
    const allFinalSale = chance(rnd, 0.04);
    const items: RefundItem[] = [];
    let captured = 0;
    for (let n = 0; n < itemCount; n++) {
      const amount = int(rnd, 500, 15_000);
      captured += amount;
      items.push({ sku: `SKU-${int(rnd, 1, 500)}`, amount, finalSale: allFinalSale || chance(rnd, 0.08), category: weighted(rnd, [['apparel', 3], ['home', 2], ['electronics', 1]] as const) });
    }
    if (captured === 0) captured = int(rnd, 500, 5_000);
    // A few large orders cross the HIGH_AMOUNT signal (20000) and the auto-approve limit (50000).
    if (chance(rnd, 0.06)) captured += int(rnd, 20_000, 80_000);
    const refunded = chance(rnd, 0.1) ? int(rnd, 0, captured) : 0;
    let requested = Math.max(1, Math.min(captured - refunded, int(rnd, 300, captured)));
    if (chance(rnd, 0.03)) requested = captured - refunded + int(rnd, 1, 5_000); // more than is refundable
    const reasonCode = weighted(rnd, [
      ['DAMAGED', 30],
      ['NOT_AS_DESCRIBED', 25],
      ['CHANGED_MIND', 25],
      ['OTHER', 8],
      ['GOODWILL', 7],
      ['NOT_RECEIVED', 5],
    ] as const);
    const deviceAccounts = chance(rnd, 0.2) ? undefined : chance(rnd, 0.05) ? int(rnd, 3, 8) : int(rnd, 1, 2);
    out.push({
      refundId: `rf_bench_${seed}_${i}`,
      orderId: `ord_${int(rnd, 1, 1_000_000)}`,
      customerId: `cus_${int(rnd, 1, 100_000)}`,
      requestedAmount: requested,
      currency: weighted(rnd, [['EUR', 3], ['USD', 2], ['GBP', 1]] as const),
      reasonCode,
      channel: weighted(rnd, [['customer_portal', 6], ['agent', 2], ['api', 2]] as const),
      requestedAt: new Date(requestedAt).toISOString(),
      order: {
        placedAt: new Date(requestedAt - (daysAgo + int(rnd, 1, 5)) * DAY_MS).toISOString(),
        deliveredAt: delivered ? new Date(requestedAt - daysAgo * DAY_MS).toISOString() : null,
        capturedAmount: captured,
        refundedAmount: refunded,
        items,
      },
      customer: {
        accountAgeDays: chance(rnd, 0.08) ? int(rnd, 0, 13) : int(rnd, 14, 3_000),
        refundCount30d: chance(rnd, 0.1) ? int(rnd, 3, 6) : int(rnd, 0, 2),
        goodwillRefunds12m: reasonCode === 'GOODWILL' ? int(rnd, 0, 4) : int(rnd, 0, 1),
        priorChargebacks: chance(rnd, 0.05) ? int(rnd, 1, 3) : 0,
      },
      payment: {
        tender: weighted(rnd, [['card', 70], ['wallet', 15], ['gift_card', 10], ['store_credit', 5]] as const),
        cardExpired: chance(rnd, 0.05),
      },
      returnStatus: weighted(rnd, [
        ['NOT_REQUIRED', 30],
        ['RECEIVED', 30],
        ['INSPECTED_OK', 20],
        ['IN_TRANSIT', 8],
        ['LABEL_CREATED', 7],
        ['REJECTED', 5],
      ] as const),
      disputeOpen: chance(rnd, 0.03),
      signals: {
        ipRisk: weighted(rnd, [['low', 80], ['medium', 15], ['high', 5]] as const),
        ...(deviceAccounts !== undefined && { deviceAccounts }),
      },
    });
  }
  return out;
}
