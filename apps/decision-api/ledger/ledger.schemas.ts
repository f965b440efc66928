/** Request bodies of the ledger calls (api-contract.md §4), as JSON Schemas: types here, business rules in libs/ledger. */
const id = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' };
const amount = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units.' };
const at = { type: 'string', format: 'date-time' };
const obj = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });

export const ledgerSchemas = {
  account: obj(['program', 'currency', 'cycleAnchorDay'], {
    program: { type: 'string', minLength: 1, maxLength: 200, description: '"name@version" or "name" (newest version, pinned on creation)' },
    currency: { type: 'string', format: 'currency', description: 'ISO 4217 code (list one).' },
    cycleAnchorDay: { type: 'integer', minimum: 1, maximum: 28 },
  }),
  purchase: obj(['transactionId', 'amount', 'category', 'occurredAt'], {
    transactionId: id,
    amount,
    category: { type: 'string', minLength: 1, maxLength: 64 },
    occurredAt: at,
  }),
  settle: obj(['settledAt'], { settledAt: at }),
  refund: obj(['refundId', 'amount', 'at'], { refundId: id, amount, at }),
  chargeback: obj(['chargebackId', 'amount', 'at'], { chargebackId: id, amount, at }),
  redemption: obj(['redemptionId', 'amount', 'at'], { redemptionId: id, amount, at }),
  statement: obj(['periodEnd'], { periodEnd: at }),
} as const;
