/** JSON Schema (2020-12) of a RefundCase, the input of a refund decision (api-contract.md §3). */

// Money and counters must be exact integers in JavaScript; this is a representation limit, not policy.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const money = (minimum: number) => ({ type: 'integer', minimum, maximum: MAX_SAFE });
const count = { type: 'integer', minimum: 0, maximum: MAX_SAFE };
const id = { type: 'string', minLength: 1, maxLength: 255 };
const dateTime = { type: 'string', format: 'date-time' };

export const REASON_CODES = ['DAMAGED', 'NOT_RECEIVED', 'NOT_AS_DESCRIBED', 'CHANGED_MIND', 'GOODWILL', 'OTHER'] as const;
export const CHANNELS = ['customer_portal', 'agent', 'api'] as const;
export const TENDERS = ['card', 'gift_card', 'store_credit', 'wallet'] as const;
export const RETURN_STATUSES = ['NOT_REQUIRED', 'LABEL_CREATED', 'IN_TRANSIT', 'RECEIVED', 'INSPECTED_OK', 'REJECTED'] as const;
export const IP_RISKS = ['low', 'medium', 'high'] as const;

export const refundCaseSchema = {
  $id: 'https://decision-platform.local/schemas/refund-case.json',
  title: 'RefundCase',
  type: 'object',
  additionalProperties: false,
  required: [
    'refundId', 'orderId', 'customerId', 'requestedAmount', 'currency', 'reasonCode', 'channel', 'requestedAt',
    'order', 'customer', 'payment', 'returnStatus', 'disputeOpen', 'signals',
  ],
  properties: {
    refundId: id,
    orderId: id,
    customerId: id,
    requestedAmount: { ...money(1), description: 'Minor units (12999 = 129.99).' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code.' },
    reasonCode: { enum: REASON_CODES },
    channel: { enum: CHANNELS },
    requestedAt: { ...dateTime, description: 'Business time of the request (RFC 3339); the decision clock.' },
    order: {
      type: 'object',
      additionalProperties: false,
      required: ['placedAt', 'deliveredAt', 'capturedAmount', 'refundedAmount', 'items'],
      properties: {
        placedAt: dateTime,
        deliveredAt: { type: ['string', 'null'], format: 'date-time', description: 'null when not delivered.' },
        capturedAmount: money(0),
        refundedAmount: money(0),
        items: {
          type: 'array',
          maxItems: 1000,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['sku', 'amount', 'finalSale', 'category'],
            properties: {
              sku: id,
              amount: money(0),
              finalSale: { type: 'boolean' },
              category: { type: 'string', minLength: 1, maxLength: 64 },
            },
          },
        },
      },
    },
    customer: {
      type: 'object',
      additionalProperties: false,
      required: ['accountAgeDays', 'refundCount30d', 'goodwillRefunds12m', 'priorChargebacks'],
      properties: {
        accountAgeDays: count,
        refundCount30d: count,
        goodwillRefunds12m: count,
        priorChargebacks: count,
      },
    },
    payment: {
      type: 'object',
      additionalProperties: false,
      required: ['tender', 'cardExpired'],
      properties: { tender: { enum: TENDERS }, cardExpired: { type: 'boolean' } },
    },
    returnStatus: { enum: RETURN_STATUSES },
    disputeOpen: { type: 'boolean' },
    signals: {
      type: 'object',
      additionalProperties: false,
      required: ['ipRisk'],
      properties: {
        ipRisk: { enum: IP_RISKS },
        deviceAccounts: { type: 'integer', minimum: 1, maximum: MAX_SAFE, description: 'Accounts seen on this device (optional).' },
      },
    },
  },
} as const;

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
  reasonCode: (typeof REASON_CODES)[number];
  channel: (typeof CHANNELS)[number];
  requestedAt: string;
  order: {
    placedAt: string;
    deliveredAt: string | null;
    capturedAmount: number;
    refundedAmount: number;
    items: RefundItem[];
  };
  customer: { accountAgeDays: number; refundCount30d: number; goodwillRefunds12m: number; priorChargebacks: number };
  payment: { tender: (typeof TENDERS)[number]; cardExpired: boolean };
  returnStatus: (typeof RETURN_STATUSES)[number];
  disputeOpen: boolean;
  signals: { ipRisk: (typeof IP_RISKS)[number]; deviceAccounts?: number };
}
