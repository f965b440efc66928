/** Guessing credentials is limited per source address: ADMIN_TOKEN and API keys share one budget of failures. */
import { ADMIN_TOKEN, newKey, TestService, type HttpResult } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
// A budget that does not refill within a test (1 a minute), so what the limiter does is not a race with the clock.
let frozenBudget: TestService;

beforeAll(async () => {
  svc = await TestService.start('auth_limits', { authFailuresPerMinute: 60 });
  frozenBudget = await TestService.start('auth_limits_fixed', { authFailuresPerMinute: 1 });
});
afterAll(async () => {
  await svc?.stop();
  await frozenBudget?.stop();
});

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

/** As long as the last refusal said: then one more attempt is allowed. */
async function waitAsTold(rs: HttpResult[]): Promise<void> {
  const wait = Number(rs.filter((r) => r.status === 429).at(-1)!.headers.get('retry-after'));
  await new Promise((r) => setTimeout(r, wait * 1000 + 200));
}

const issueOn = (on: TestService, token: string) =>
  on.request('POST', '/v1/admin/api-keys', { key: token, body: { tenant: 'acme', roles: ['service'], name: 'n' } });
const issue = (token: string) => issueOn(svc, token);

it('500 wrong ADMIN_TOKEN guesses in a burst: the first few are 401, the rest 429 with Retry-After; then the right token works', async () => {
  const rs = await burst(500, 50, (i) => issue(`wrong-admin-token-guess-${i}`));
  const t = tally(rs);
  console.log(`500 wrong admin tokens: ${JSON.stringify(t)}`);
  expect(Object.keys(t).sort()).toEqual(['401', '429']);
  // 20 in the burst, then one a second while the burst lasts.
  expect(t[429]).toBeGreaterThanOrEqual(450);
  for (const r of rs.filter((x) => x.status === 429)) expectRateLimited(r);
  await waitAsTold(rs);
  expect((await issue(ADMIN_TOKEN)).status).toBe(201);
});

it('wrong API keys share the budget with the admin token: past it, 429 before any lookup; a key already in use keeps working', async () => {
  const service = await frozenBudget.issueKey('acme', ['service']);
  const decide = (key: string) => frozenBudget.request('POST', '/v1/decisions/refund', { key, idempotencyKey: newKey(), body: { case: refundCase() } });
  expect((await decide(service)).status).toBe(201);
  // Short, so that the valid key is still in the 5 s key cache at the end.
  const rs = await burst(40, 20, (i) => decide(`dp_wrong_${i}_${'x'.repeat(40)}`));
  expect(tally(rs)).toEqual({ 401: 20, 429: 20 });
  for (const r of rs.filter((x) => x.status === 429)) expectRateLimited(r);
  // A guess at the admin token from the same address is refused as well, and so is the right token: one budget.
  expect((await issueOn(frozenBudget, 'wrong-admin-token-guess-x')).status).toBe(429);
  expect((await issueOn(frozenBudget, ADMIN_TOKEN)).status).toBe(429);
  // The key this address just used successfully is still known (cached): the guesses do not lock it out.
  expect((await decide(service)).status).toBe(201);
});
