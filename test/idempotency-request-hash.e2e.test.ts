/**
 * What is stored to recognise a request under its Idempotency-Key is a keyed hash (http/idempotent-command.ts,
 * requestHash): an unkeyed digest of a low-entropy body (an erasure's raw customer id) could be found again by hashing
 * guesses. Records stored before keyed hashes (bare sha256 hex) are still recognised: a retry across the upgrade
 * replays, another body under that key is still 422.
 */
import { createHash } from 'node:crypto';
import { LegacyRequestHashes } from '../apps/decision-api/http/legacy-request-hashes.js';
import { canonicalJson } from '../libs/decisions/index.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let service: string;

beforeAll(async () => {
  svc = await TestService.start('request_hash');
  service = await svc.issueKey('acme', ['service']);
});

afterAll(async () => {
  await svc?.stop();
});

const decide = (idempotencyKey: string, body: unknown) => svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey, body });
const storedHash = async (key: string) => (await svc.sql<{ h: string }>('select request_hash as h from idempotency_records where key = ?', [key]))[0]?.h;

it('is keyed: neither the sha256 of the request nor the same for two tenants', async () => {
  const key = newKey('hash');
  const body = { case: refundCase() };
  expect((await decide(key, body)).status).toBe(201);
  const stored = await storedHash(key);
  expect(stored).toMatch(/^k1:[0-9a-f]{64}$/);
  expect(stored).not.toContain(createHash('sha256').update(`POST /v1/decisions/refund\n${canonicalJson({ body, query: {} })}`).digest('hex'));
  // Another tenant's identical request (same key, same body) is stored under another hash.
  const other = await svc.issueKey('globex', ['service']);
  expect((await svc.request('POST', '/v1/decisions/refund', { key: other, idempotencyKey: key, body })).status).toBe(201);
  const hashes = await svc.sql<{ h: string }>('select request_hash as h from idempotency_records where key = ? order by tenant', [key]);
  expect(hashes).toHaveLength(2);
  expect(hashes[0]!.h).not.toBe(hashes[1]!.h);
});

it('still recognises a request stored under an unkeyed hash before the upgrade, and re-keys it', async () => {
  const newestKeyed = newKey('keyed');
  expect((await decide(newestKeyed, { case: refundCase() })).status).toBe(201);
  const key = newKey('legacy');
  const body = { case: refundCase() };
  const first = await decide(key, body);
  expect(first.status).toBe(201);
  // As an earlier build stored it: sha256 hex of the same text, no prefix.
  const unkeyed = createHash('sha256').update(`POST /v1/decisions/refund\n${canonicalJson({ body, query: {} })}`).digest('hex');
  await svc.sql('update idempotency_records set request_hash = ? where key = ?', [unkeyed, key]);
  const again = await decide(key, body);
  expect(again.status).toBe(201);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.text).toBe(first.text);
  const other = await decide(key, { case: refundCase({ requestedAmount: 1 }) });
  expect(other.status).toBe(422);
  expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');

  // Re-keyed (as every start does in the background): nothing guessable is left, and the request is still recognised.
  const keyed = await storedHash(newestKeyed);
  expect(await svc.provider(LegacyRequestHashes).run()).toBeGreaterThanOrEqual(1);
  const rekeyed = await storedHash(key);
  expect(rekeyed).toMatch(/^k0:[0-9a-f]{64}$/);
  expect(rekeyed).not.toContain(unkeyed);
  expect(await storedHash(newestKeyed)).toBe(keyed); // a keyed hash is left as it is
  expect(await svc.provider(LegacyRequestHashes).run()).toBe(0);
  const third = await decide(key, body);
  expect(third.status).toBe(201);
  expect(third.headers.get('idempotent-replayed')).toBe('true');
  expect(third.text).toBe(first.text);
  expect((await decide(key, { case: refundCase({ requestedAmount: 1 }) })).status).toBe(422);
});
