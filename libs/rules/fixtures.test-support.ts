/** Test support: a small pack exercising every condition shape, returned fresh so tests can break it freely. */

export type Json = Record<string, any>;  

export function fixturePack(): Json {
  return {
    name: 'fixture-pack',
    version: '1.2.3',
    kind: 'refund-policy',
    description: 'Fixture for libs/rules tests.',
    factSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['amount', 'currency', 'status', 'flag', 'score', 'order', 'tags'],
      properties: {
        amount: { type: 'integer', minimum: 0 },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        status: { type: 'string', enum: ['NEW', 'OPEN', 'CLOSED', 'REJECTED'] },
        flag: { type: 'boolean' },
        score: { type: ['number', 'null'] },
        order: {
          type: 'object',
          additionalProperties: false,
          required: ['total', 'placedAt', 'items', 'note'],
          properties: {
            total: { type: 'integer' },
            placedAt: { type: 'string', format: 'date-time' },
            note: { type: ['string', 'null'] },
            items: { type: 'array', items: { $ref: '#/$defs/item' } },
          },
        },
        tags: { type: 'array', items: { type: 'string' } },
        meta: { type: 'object', properties: { channel: { type: 'string' } } },
      },
      $defs: {
        item: {
          type: 'object',
          required: ['sku', 'finalSale'],
          properties: { sku: { type: 'string' }, finalSale: { type: 'boolean' } },
        },
      },
    },
    parameters: { bigAmount: 1000, closedStatuses: ['CLOSED', 'REJECTED'], riskThreshold: 0.8 },
    rules: [
      {
        name: 'big-amount',
        priority: 10,
        conditions: { all: [{ fact: 'amount', operator: 'greaterThan', value: { param: 'bigAmount' } }] },
        event: { type: 'REVIEW', params: { code: 'BIG_AMOUNT', message: 'Large.' } },
      },
      {
        name: 'over-total',
        priority: 10,
        conditions: { all: [{ fact: 'amount', operator: 'greaterThan', value: { fact: 'order', path: '$.total' } }] },
        event: { type: 'DENY', params: { code: 'OVER_TOTAL', message: 'More than the order.' } },
      },
      {
        name: 'closed',
        priority: 5,
        conditions: { any: [{ fact: 'status', operator: 'in', value: { param: 'closedStatuses' } }] },
        event: { type: 'DENY', params: { code: 'CLOSED', message: 'Closed.' } },
      },
      {
        name: 'vip',
        priority: 5,
        conditions: { all: [{ fact: 'tags', operator: 'contains', value: 'vip' }] },
        event: { type: 'FLAG', params: { code: 'VIP' } },
      },
      {
        name: 'first-item-final',
        conditions: { all: [{ fact: 'order', path: '$.items[0].finalSale', operator: 'equal', value: true }] },
        event: { type: 'DENY', params: { code: 'FINAL_SALE', message: 'Final sale.' } },
      },
      {
        name: 'risky',
        conditions: {
          any: [
            { fact: 'score', operator: 'greaterThanInclusive', value: { param: 'riskThreshold' } },
            { not: { all: [{ fact: 'flag', operator: 'equal', value: true }] } },
          ],
        },
        event: { type: 'REVIEW', params: { code: 'RISKY', message: 'Risky.' } },
      },
      {
        name: 'open-and-positive',
        conditions: {
          all: [
            // Priorities make the engine evaluate status first and skip amount when status fails.
            { fact: 'status', operator: 'equal', value: 'OPEN', priority: 2 },
            { fact: 'amount', operator: 'greaterThan', value: 0, priority: 1 },
          ],
        },
        event: { type: 'FLAG', params: { code: 'OPEN_POSITIVE' } },
      },
    ],
    tests: {
      defaults: {
        amount: 100,
        currency: 'EUR',
        status: 'NEW',
        flag: true,
        score: 0.1,
        order: { total: 500, placedAt: '2025-01-01T00:00:00Z', note: null, items: [{ sku: 'A', finalSale: false }] },
        tags: [],
      },
      cases: [
        { name: 'nothing fires', expect: { events: [] } },
        {
          name: 'big and over total',
          facts: { amount: 2000 },
          expect: {
            events: [
              { type: 'DENY', params: { code: 'OVER_TOTAL' } },
              { type: 'REVIEW', params: { code: 'BIG_AMOUNT' } },
            ],
          },
        },
      ],
    },
  };
}

/** Facts that validate against fixturePack().factSchema. */
export function fixtureFacts(overrides: Json = {}): Json {
  const defaults = (fixturePack().tests as { defaults: Json }).defaults;
  return { ...defaults, ...overrides };
}
