/** Guessing credentials is limited per source address: ADMIN_TOKEN and API keys share one budget of failures. */
import { ADMIN_TOKEN, newKey, TestService, type HttpResult } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;

beforeAll(async () => {
  svc = await TestService.start('auth_limits');
});
afterAll(() => svc?.stop());

/** `n` requests, `parallel` at a time: a burst without opening 500 sockets at once. */
async function burst(n: number, parallel: number, send: (i: number) => Promise<HttpResult>): Promise<HttpResult[]> {
  const out: HttpResult[] = [];
  for (let i = 0; i < n; i += parallel) out.push(...(await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, (_, j) => send(i + j)))));
  return out;
}

function tally(rs: HttpResult[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const r of rs) t[r.status] = (t[r.status] ?? 0) + 1;
  return t;
}

function expectRateLimited(r: HttpResult): void {
  expect(r.body?.code).toBe('RATE_LIMITED');
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

async function waitForBudget(rs: HttpResult[]): Promise<void> {
  const wait = Math.max(...rs.filter((r) => r.status === 429).map((r) => Number(r.headers.get('retry-after'))));
  // Enough for the whole burst budget to refill, not just one token.
  await new Promise((r) => setTimeout(r, Math.max(wait, 4) * 1000 + 200));
}

const issue = (token: string) => svc.request('POST', '/v1/admin/api-keys', { key: token, body: { tenant: 'acme', roles: ['service'], name: 'n' } });

it('500 wrong ADMIN_TOKEN guesses in a burst: the first few are 401, the rest 429 with Retry-After; then the right token works', async () => {
  const rs = await burst(500, 50, (i) => issue(`wrong-admin-token-guess-${i}`));
  const t = tally(rs);
  console.log(`500 wrong admin tokens: ${JSON.stringify(t)}`);
  expect(Object.keys(t).sort()).toEqual(['401', '429']);
  expect(t[429]).toBeGreaterThanOrEqual(450);
  for (const r of rs.filter((x) => x.status === 429)) expectRateLimited(r);
  await waitForBudget(rs);
  expect((await issue(ADMIN_TOKEN)).status).toBe(201);
});

it('wrong API keys share the budget: past it, 429 before any lookup; a key already in use keeps working', async () => {
  const service = await svc.issueKey('acme', ['service']);
  const decide = (key: string) => svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase() } });
  expect((await decide(service)).status).toBe(201);
  const rs = await burst(200, 50, (i) => decide(`dp_wrong_${i}_${'x'.repeat(40)}`));
  const t = tally(rs);
  expect(Object.keys(t).sort()).toEqual(['401', '429']);
  expect(t[429]).toBeGreaterThanOrEqual(150);
  for (const r of rs.filter((x) => x.status === 429)) expectRateLimited(r);
  // A guess at the admin token from the same address is refused as well: one budget for both.
  expect((await issue('wrong-admin-token-guess-x')).status).toBe(429);
  // The key this address just used successfully is still known (cached): the guesses do not lock it out.
  expect((await decide(service)).status).toBe(201);
  await waitForBudget(rs);
});
