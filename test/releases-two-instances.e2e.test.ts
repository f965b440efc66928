/**
 * Hot activation across instances: two services on one PostgreSQL database. An activation through A must decide on
 * B within 5 s with no restart (LISTEN/NOTIFY, polling as the fallback), and a rollback through B must reach A.
 */
import pg from 'pg';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';
import { refundPolicyWithLimit } from './support/release-content.js';

const SWITCH_LIMIT_MS = 5000;
const BASE = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' };
const bigRefund = () => refundCase({ requestedAmount: 30000, order: { capturedAmount: 40000 } });

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
if (!process.env.TEST_DATABASE_URL) {
  console.warn('two-instance hot activation skipped: set TEST_DATABASE_URL (an in-memory PGlite cannot be shared between two services)');
}

onPostgres('two instances on one PostgreSQL database (skipped without TEST_DATABASE_URL: an in-memory PGlite cannot be shared)', () => {
  let a: TestService;
  let b: TestService;
  let keys: { author: string; publisher: string; service: string };

  beforeAll(async () => {
    a = await TestService.start('two_instances');
    b = await TestService.join(a);
    keys = {
      author: await a.issueKey('acme', ['author']),
      publisher: await a.issueKey('acme', ['publisher'], 'release-manager'),
      service: await a.issueKey('acme', ['service']),
    };
    const post = (path: string, body: unknown) => a.request('POST', path, { key: keys.author, idempotencyKey: newKey(), body });
    expect((await post('/v1/rule-packs', await refundPolicyWithLimit(20000, '1.1.0'))).status).toBe(201);
    expect((await post('/v1/releases', { name: 'acme-main', version: '1.1.0', components: { ...BASE, 'refund-policy': '1.1.0' } })).status).toBe(201);
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  /** Decides on `svc` until the answer comes from release `name`; the time that took (ms). */
  async function decidesWith(svc: TestService, name: string, outcome: string): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const d = await svc.request('POST', '/v1/decisions/refund', { key: keys.service, idempotencyKey: newKey(), body: { case: bigRefund() } });
      expect(d.status).toBe(201);
      const elapsed = performance.now() - t0;
      if (d.body.release.name === name) {
        expect(d.body.outcome).toBe(outcome);
        return elapsed;
      }
      if (elapsed > SWITCH_LIMIT_MS * 2) throw new Error(`${svc.baseUrl} still decides with ${d.body.release.name} after ${Math.round(elapsed)} ms`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  function publish(svc: TestService, path: string) {
    return svc.request('POST', path, { key: keys.publisher, idempotencyKey: newKey() });
  }

  it('an activation through A decides on B within 5 s', async () => {
    expect(await decidesWith(b, 'default', 'APPROVE')).toBeLessThan(SWITCH_LIMIT_MS);
    const r = await publish(a, '/v1/releases/acme-main/1.1.0/activate');
    expect(r.status).toBe(200);
    const elapsed = await decidesWith(b, 'acme-main', 'REVIEW');
    console.log(`activation through A reached B after ${Math.round(elapsed)} ms`);
    expect(elapsed).toBeLessThan(SWITCH_LIMIT_MS);
    expect((await b.request('GET', '/v1/releases/active', { key: keys.service })).body).toMatchObject({ name: 'acme-main', activatedBy: { name: 'release-manager' } });
  });

  it('a rollback through B reaches A within 5 s', async () => {
    const r = await publish(b, '/v1/releases/rollback');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'default', version: '1.8.0' });
    const elapsed = await decidesWith(a, 'default', 'APPROVE');
    console.log(`rollback through B reached A after ${Math.round(elapsed)} ms`);
    expect(elapsed).toBeLessThan(SWITCH_LIMIT_MS);
    // Active again for the next test.
    expect((await publish(b, '/v1/releases/acme-main/1.1.0/activate')).status).toBe(200);
  });

  it('without LISTEN (RELEASE_LISTEN=false), an instance follows by polling alone, within 5 s', async () => {
    const c = await TestService.join(a, { releaseListen: false });
    try {
      expect(await decidesWith(c, 'acme-main', 'REVIEW')).toBeLessThan(SWITCH_LIMIT_MS);
      expect((await publish(a, '/v1/releases/rollback')).status).toBe(200);
      const elapsed = await decidesWith(c, 'default', 'APPROVE');
      console.log(`rollback through A reached a polling-only instance after ${Math.round(elapsed)} ms (poll every 2 s)`);
      expect(elapsed).toBeLessThan(SWITCH_LIMIT_MS);
    } finally {
      await c.stop();
    }
  });

  it("with B's LISTEN connection killed, B still follows (catch-up on reconnect, or the poll) and listens again", async () => {
    const admin = new pg.Client({ connectionString: a.databaseUrl });
    await admin.connect();
    try {
      const listeners = `select pid from pg_stat_activity where datname = current_database() and application_name = 'decision-api release listener'`;
      expect((await admin.query(listeners)).rowCount).toBe(2);
      await admin.query(`select pg_terminate_backend(pid) from (${listeners}) l`);

      const r = await publish(a, '/v1/releases/acme-main/1.1.0/activate');
      expect(r.status).toBe(200);
      const elapsed = await decidesWith(b, 'acme-main', 'REVIEW');
      console.log(`activation with B's listener killed reached B after ${Math.round(elapsed)} ms`);
      expect(elapsed).toBeLessThan(SWITCH_LIMIT_MS);

      const until = Date.now() + 10_000;
      while ((await admin.query(listeners)).rowCount !== 2) {
        if (Date.now() > until) throw new Error('listeners did not reconnect');
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      await admin.end();
    }
  });
});
