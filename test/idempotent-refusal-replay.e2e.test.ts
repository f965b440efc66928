/**
 * A request sent again with its Idempotency-Key gets its first answer (api-contract.md §1, Idempotency), also where its
 * effect would now refuse before its first SQL statement. The claim of such a command is held (HELD,
 * prepared-statements.ts) until the transaction's next statement, so that refusal comes before the claim reaches the
 * database and cannot meet the stored key there: the mechanism (http/idempotent-command.ts, execute) must look the
 * answer up itself.
 *
 * The one such effect the API has: a redemption (refusesBeforeWriting, ledger.service.ts) asks the release registry
 * for the redemption gate before any statement, and an instance whose tenant's active release cannot be loaded refuses
 * there with 503 RELEASE_UNAVAILABLE (release.registry.ts, active). Two instances of a rolling deploy: A ships a pack
 * version B lacks; a release built on it is activated through A; a redemption answered by A is retried on B.
 */
import { contentRoot, repoRoot, type ContentRoot } from './support/content-root.js';
import { newKey, TestService, type HttpResult } from './support/harness.js';
import { refundPolicyWithLimit } from './support/release-content.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
if (!process.env.TEST_DATABASE_URL) {
  console.warn('refusal-before-the-claim replay skipped: set TEST_DATABASE_URL (it takes two instances on one database; PGlite also never holds a claim)');
}

onPostgres('a replay whose effect now refuses before its first statement (skipped without TEST_DATABASE_URL: two instances)', () => {
  let root: ContentRoot;
  let a: TestService;
  let b: TestService | undefined;
  let keys: { service: string; author: string; publisher: string };

  beforeAll(async () => {
    // refund-policy@99.0.0 (a version no release ships) is built in on A only: B runs the repository's content, as an instance of the previous build.
    root = await contentRoot([await refundPolicyWithLimit(20000, '99.0.0')]);
    a = await TestService.start('idempotent_refusal_replay', { contentRoot: root.dir });
    keys = {
      service: await a.issueKey('acme', ['service']),
      author: await a.issueKey('acme', ['author']),
      publisher: await a.issueKey('acme', ['publisher']),
    };
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await root?.remove();
  });

  const send = (svc: TestService, path: string, key: string, body?: unknown, idempotencyKey = newKey()): Promise<HttpResult> =>
    svc.request('POST', path, { key, idempotencyKey, body });

  it('a redemption answered 201 by A and retried on B, which cannot load the active release, gets that 201 again', async () => {
    // An account with a reward of 500 (cashback-default: 5% on groceries, at settlement), all on A.
    const account = `acct-${newKey()}`;
    const opened = await a.request('PUT', `/v1/ledger/accounts/${account}`, { key: keys.service, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } });
    expect(opened.status).toBe(201);
    const transactionId = `tx-${newKey()}`;
    expect((await send(a, `/v1/ledger/accounts/${account}/transactions`, keys.service, { transactionId, amount: 10000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' })).status).toBe(201);
    expect((await send(a, `/v1/ledger/transactions/${transactionId}/settle`, keys.service, { settledAt: '2026-03-02T10:00:00Z' })).status).toBe(200);

    const path = `/v1/ledger/accounts/${account}/redemptions`;
    const k = newKey('redeem');
    const body = { redemptionId: `rd-${newKey()}`, amount: 300, at: '2026-03-03T00:00:00Z' };
    const first = await send(a, path, keys.service, body, k);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ redemptionId: body.redemptionId, amount: 300, balance: 200 });

    // The tenant's active release moves, through A, to one built on A's pack.
    const release = { name: 'acme-edge', version: '1.0.0', components: { 'refund-policy': '99.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } };
    expect((await send(a, '/v1/releases', keys.author, release)).status).toBe(201);
    expect((await send(a, '/v1/releases/acme-edge/1.0.0/activate', keys.publisher)).status).toBe(200);

    // B starts after the activation: it cannot load the tenant's release and, having none loaded, refuses to guess.
    b = await TestService.join(a, { contentRoot: repoRoot });
    const active = await b.request('GET', '/v1/releases/active', { key: keys.service });
    expect(active.status).toBe(503);
    expect(active.body.code).toBe('RELEASE_UNAVAILABLE');

    // The retry is B's first claim: a fresh instance holds it (its text is not named yet), so the redemption's refusal
    // comes before the claim goes out, and without the look-up in execute() it would be answered 503.
    const replay = await send(b, path, keys.service, body, k);
    expect({ status: replay.status, code: replay.status === 201 ? undefined : replay.body?.code }).toEqual({ status: 201, code: undefined });
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // The refusal it was spared is real: the same redemption under a new key is refused on B.
    const fresh = await send(b, path, keys.service, body);
    expect(fresh.status).toBe(503);
    expect(fresh.body.code).toBe('RELEASE_UNAVAILABLE');

    // One effect: 300 redeemed once.
    const view = await a.request('GET', `/v1/ledger/accounts/${account}`, { key: keys.service });
    expect(view.body).toMatchObject({ balance: 200, redeemed: 300 });
  });
});
