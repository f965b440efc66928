/**
 * Requests the fuzz suite found answered 500, kept as fast-check examples: each runs first on its route, every run.
 * Each was a 500 before the fix named beside it.
 */
import { FRESH_KEY } from './requests.js';
import type { World } from './routes.js';
import { printable, type WireRequest } from './wire.js';

const BUILTIN = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0', refund: '1.0.0', redemption: '1.0.0' };

export function regressions(w: World): Record<string, WireRequest[]> {
  const key: [string, string] = ['authorization', `Bearer ${w.credentials.key}`];
  const json = (route: string, target: string, body: string | undefined, auth: [string, string] = key): WireRequest => {
    const [method] = route.split(' ');
    const headers: [string, string][] = [auth, ...(method === 'GET' ? [] : [['idempotency-key', FRESH_KEY] as [string, string]])];
    if (body !== undefined) headers.push(['content-type', 'application/json']);
    return printable({ method: method!, target, headers, body: body === undefined ? undefined : Buffer.from(body, 'utf8'), route });
  };
  const replay = (from: string, to: string) => JSON.stringify({ domain: 'refund', release: { name: 'default', version: '1.1.0', components: BUILTIN }, replay: { from, to } });
  const statements = 'POST /v1/ledger/accounts/{accountId}/statements';
  const purchases = 'POST /v1/ledger/accounts/{accountId}/transactions';

  return {
    // ajv's uniqueItems compared two objects with their own toString (fast-deep-equal calls it): TypeError.
    'POST /v1/admin/api-keys': [
      json('POST /v1/admin/api-keys', '/v1/admin/api-keys', '{"tenant":"0","roles":[{"toString":0},{"toString":0}],"name":"n"}', ['authorization', `Bearer ${w.credentials.adminToken}`]),
    ],
    'POST /v1/decision-types': [json('POST /v1/decision-types', '/v1/decision-types', JSON.stringify({ ...w.refundType, version: '9.9.9', caseFields: [{ valueOf: 1 }, { valueOf: 1 }] }))],
    // Year 0 passed the date-time format, and PostgreSQL has no year 0: a driver error.
    [statements]: [json(statements, `/v1/ledger/accounts/${w.accountId}/statements`, '{"periodEnd":"2020-01-01T00:00:00.000Z","periodEnd":"0000-01-01T00:00:00Z"}')],
    // Raw bytes to a JSON route: validated as an object with a property per byte, a 1 MiB body held the process for
    // longer than the deadline building a million errors. Now 415 before a byte is read.
    'POST /v1/ledger/transactions/{transactionId}/settle': [
      printable({
        method: 'POST',
        target: `/v1/ledger/transactions/${w.settledTx}/settle`,
        headers: [key, ['idempotency-key', FRESH_KEY], ['content-type', 'application/octet-stream']],
        body: Buffer.alloc(1024 * 1024 - 201, 'p'),
        route: 'POST /v1/ledger/transactions/{transactionId}/settle',
      }),
    ],
    // The entries list went to the store without the ledger's id guard: a NUL reached PostgreSQL.
    'GET /v1/ledger/accounts/{accountId}/entries': [json('GET /v1/ledger/accounts/{accountId}/entries', '/v1/ledger/accounts/%00/entries', undefined)],
    [purchases]: [json(purchases, `/v1/ledger/accounts/${w.accountId}/transactions`, '{"transactionId":"tx-year-0","amount":1,"category":"GROCERY","occurredAt":"0000-01-01T00:00:00Z"}')],
    // A four-digit year whose instant, once the offset is applied, is year 0 or 10000.
    'GET /v1/decisions': [
      json('GET /v1/decisions', '/v1/decisions?from=0001-01-01T00:00:00%2B01:00', undefined),
      json('GET /v1/decisions', '/v1/decisions?to=9999-12-31T23:59:59-01:00', undefined),
    ],
    // Date-times the format let through that Date cannot read (a leap second, a bare-hour offset): RangeError.
    'POST /v1/simulations': [
      json('POST /v1/simulations', '/v1/simulations', replay('2025-12-31T23:59:60Z', '2027-01-01T00:00:00Z')),
      json('POST /v1/simulations', '/v1/simulations', replay('2020-01-01T00:00:00+01', '2027-01-01T00:00:00Z')),
      json('POST /v1/simulations', '/v1/simulations', replay('0000-01-01T00:00:00Z', '2027-01-01T00:00:00Z')),
      json('POST /v1/simulations', '/v1/simulations', replay('2020-01-01T00:00:00Z', '9999-12-31T23:59:59-01:00')),
    ],
  };
}
