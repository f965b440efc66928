/**
 * The database going away, on a PostgreSQL server this file starts itself: stopped, killed, frozen. Every route that
 * needs it answers 503 DATABASE_UNAVAILABLE with Retry-After in bounded time, /readyz answers at once, the outage is
 * logged once (not a stack per request), no acknowledged decision is lost, and the service recovers by itself.
 */
import { randomUUID } from 'node:crypto';
import { Logger, type LoggerService } from '@nestjs/common';
import pgClient from 'pg';
import { newKey, TestService, type HttpResult } from './support/harness.js';
import { findPostgresBin, OwnPostgres } from './support/own-postgres.js';
import { refundCase } from './support/refund-cases.js';

// Skipped only where there is no PostgreSQL to start and no server was named either (a laptop on PGlite).
const runs = findPostgresBin() !== undefined || process.env.TEST_DATABASE_URL !== undefined;
const describeWithPostgres = runs ? describe : describe.skip;

const lines: { level: string; message: string }[] = [];
const capture: LoggerService = {
  log: (m: unknown) => lines.push({ level: 'log', message: String(m) }),
  warn: (m: unknown) => lines.push({ level: 'warn', message: String(m) }),
  error: (m: unknown) => lines.push({ level: 'error', message: String(m) }),
  fatal: (m: unknown) => lines.push({ level: 'fatal', message: String(m) }),
  debug: () => undefined,
  verbose: () => undefined,
};
const outageStarts = () => lines.filter((l) => l.level === 'warn' && l.message.startsWith('database unavailable')).length;
const outageEnds = () => lines.filter((l) => l.level === 'log' && l.message.startsWith('database available again')).length;
const errors = () => lines.filter((l) => l.level === 'error' || l.level === 'fatal');

/** A hang guard, not a speed test: the bug this file covers made these calls wait forever. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function eventually<T>(ms: number, what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const got = await attempt();
    if (got !== undefined) return got;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let pg: OwnPostgres;
let dbUrl: string;
let svc: TestService;
let key: string;
let auditor: string;

const decide = (idempotencyKey = newKey('fault')) =>
  svc.request('POST', '/v1/decisions/refund', { key, idempotencyKey, body: { case: refundCase() } });

function expectUnavailable(r: HttpResult): void {
  expect({ status: r.status, code: r.body?.code }).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE' });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(r.body.retryAfter).toBe(Number(r.headers.get('retry-after')));
  expect(r.text).not.toMatch(/ at |\.ts:|\.js:/);
}

async function expectNotReady(): Promise<void> {
  const r = await within(3_000, '/readyz', svc.request('GET', '/readyz'));
  expect(r.status).toBe(503);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

/** Back to 2xx without restarting the service, then the one recovery line. */
async function expectRecovery(endsBefore: number): Promise<void> {
  await eventually(30_000, 'a decision after the database returned', async () => ((await decide()).status === 201 ? true : undefined));
  expect((await within(3_000, '/readyz', svc.request('GET', '/readyz'))).status).toBe(200);
  await eventually(5_000, 'the recovery log line', () => Promise.resolve(outageEnds() > endsBefore ? true : undefined));
}

describeWithPostgres('the database away', () => {
  beforeAll(async () => {
    pg = await OwnPostgres.start();
    const url = (dbUrl = await pg.createDatabase('faults'));
    // Short bounds so a frozen server turns into 503 quickly here; production defaults are in config.ts.
    svc = await TestService.onDatabase(url, {
      dbAcquireTimeoutMs: 1_000,
      dbStatementTimeoutMs: 1_000,
      dbIdleInTransactionTimeoutMs: 2_000,
      dbProbeTimeoutMs: 500,
      releasePollMs: 500,
      // The failure budget does not refill within the test: the last test spends it and relies on that.
      authFailuresPerMinute: 1,
    });
    key = await svc.issueKey('acme', ['service']);
    auditor = await svc.issueKey('acme', ['auditor']);
    Logger.overrideLogger(capture);
  });
  afterAll(async () => {
    pg?.thaw();
    await svc?.stop();
    await pg?.destroy();
  });

  it('bounds every pooled connection with the configured timeouts', async () => {
    const pooled = (q: string) => svc.db.em().execute(q);
    expect(await pooled('show statement_timeout')).toEqual([{ statement_timeout: '1s' }]);
    expect(await pooled('show idle_in_transaction_session_timeout')).toEqual([{ idle_in_transaction_session_timeout: '2s' }]);
    await expect(pooled('select pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
  });

  it('stopped: 503 DATABASE_UNAVAILABLE with Retry-After, /readyz 503 at once, one log line each way, then 2xx again', async () => {
    expect((await decide()).status).toBe(201);
    const [starts, ends] = [outageStarts(), outageEnds()];
    await pg.stop();

    const answers = await within(10_000, 'decisions while stopped', Promise.all(Array.from({ length: 20 }, () => decide())));
    for (const r of answers) expectUnavailable(r);
    // Reads too, and with a key the service has not seen yet (the key lookup itself needs the database).
    expectUnavailable(await within(10_000, 'a list while stopped', svc.request('GET', '/v1/decisions', { key: auditor })));
    await expectNotReady();
    expect((await svc.request('GET', '/healthz')).status).toBe(200);

    expect(outageStarts()).toBe(starts + 1);
    expect(errors()).toEqual([]);

    await pg.restart();
    await expectRecovery(ends);
    expect(outageStarts()).toBe(starts + 1);
    expect(outageEnds()).toBe(ends + 1);
  });

  it('killed under load: 503s while down, every acknowledged decision is stored, and it recovers', async () => {
    const acknowledged: string[] = [];
    const refused: string[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    const worker = async () => {
      while (running) {
        const idem = newKey('load');
        const r = await within(15_000, 'a decision under load', decide(idem));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 201) acknowledged.push(r.body.id as string);
        else {
          expectUnavailable(r);
          refused.push(idem);
        }
      }
    };
    const ends = outageEnds();
    const load = Promise.all(Array.from({ length: 4 }, worker));
    await new Promise((r) => setTimeout(r, 1_000));
    await pg.kill();
    await new Promise((r) => setTimeout(r, 1_500));
    running = false;
    await load;
    expect(statuses.get(503)).toBeGreaterThan(0);
    expect([...statuses.keys()].sort()).toEqual([201, 503]);

    await pg.restart();
    await expectRecovery(ends);
    for (const id of acknowledged) expect((await svc.request('GET', `/v1/decisions/${id}`, { key: auditor })).status).toBe(200);
    // A refused request retried under its key is decided now (or replayed, had its commit gone through unacknowledged).
    for (const idem of refused.slice(0, 10)) expect([200, 201]).toContain((await decide(idem)).status);
    console.log(`killed under load: ${acknowledged.length} acknowledged (all stored), ${refused.length} answered 503`);
    expect(errors()).toEqual([]);
  });

  it('frozen (SIGSTOP): requests turn into 503 in bounded time, /readyz still answers, and thawing brings 2xx back', async () => {
    // Warm the pool: idle connections to a frozen server are the case that used to wait forever.
    await Promise.all(Array.from({ length: 4 }, () => decide()));
    const ends = outageEnds();
    pg.freeze();
    try {
      const answers = await within(15_000, 'decisions while frozen', Promise.all(Array.from({ length: 8 }, () => decide())));
      for (const r of answers) expectUnavailable(r);
      await expectNotReady();
      await expectNotReady();
      expect(errors()).toEqual([]);
    } finally {
      pg.thaw();
    }
    await expectRecovery(ends);
  });

  it('a state change held up past the statement timeout (its key, then its account, locked by another session) answers 503, commits nothing, and its retry performs it once', async () => {
    const account = `acct-fault-${randomUUID()}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${account}`, { key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    const transactionId = `tx-fault-${randomUUID()}`;
    const idempotencyKey = newKey('held-up');
    const purchase = () =>
      within(10_000, 'a purchase held up', svc.request('POST', `/v1/ledger/accounts/${account}/transactions`, {
        key,
        idempotencyKey,
        body: { transactionId, amount: 10_000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' },
      }));
    const other = new pgClient.Client({ connectionString: dbUrl });
    await other.connect();
    try {
      // The key claimed by a transaction that neither commits nor rolls back: the claim (which travels with the
      // purchase's first statement) waits on it until the statement timeout.
      await other.query('begin');
      await other.query(`insert into idempotency_records (tenant, key, request_hash, method, path, created_at) values ('acme', $1, 'other', 'POST', '/other', now())`, [idempotencyKey]);
      expectUnavailable(await purchase());
      await other.query('rollback');
      // The account locked: the claim goes through, the lock and read waits; the claim is rolled back with it.
      await other.query('begin');
      await other.query(`select 1 from ledger_accounts where tenant = 'acme' and account_id = $1 for update`, [account]);
      expectUnavailable(await purchase());
      await other.query('rollback');
    } finally {
      await other.end();
    }
    expect((await svc.request('GET', `/v1/ledger/transactions/${transactionId}`, { key: auditor })).status).toBe(404);
    const check = new pgClient.Client({ connectionString: dbUrl });
    await check.connect();
    const claims = await check.query<{ n: number }>('select count(*)::int as n from idempotency_records where key = $1', [idempotencyKey]).finally(() => check.end());
    expect(claims.rows).toEqual([{ n: 0 }]);
    // Retried under its key: performed now, once; the same request again replays it.
    const done = await purchase();
    expect(done.status).toBe(201);
    const again = await purchase();
    expect([again.status, again.headers.get('idempotent-replayed'), again.text]).toEqual([201, 'true', done.text]);
    expect((await svc.request('GET', `/v1/ledger/accounts/${account}`, { key: auditor })).body).toMatchObject({ balance: expect.any(Number) });
    expect(errors()).toEqual([]);
  });

  it('the release listener connects again by itself', async () => {
    await eventually(30_000, 'the LISTEN connection', async () => {
      const [row] = await pg.sql<{ n: string }>(
        `select count(*) as n from pg_stat_activity where application_name = 'decision-api release listener' and query ilike 'listen%'`,
      );
      return Number(row!.n) === 1 ? true : undefined;
    });
  });

  it('wrong API keys past the failure budget are refused without a query: 429, not 503, while the database is down', async () => {
    const wrong = (i: number) => svc.request('GET', '/v1/decisions', { key: `dp_wrong_${i}_${'x'.repeat(40)}` });
    const spent = await Promise.all(Array.from({ length: 30 }, (_, i) => wrong(i)));
    expect(spent.filter((r) => r.status === 401)).toHaveLength(20); // the burst; no refill within this test
    await pg.kill();
    try {
      // Refused by the limiter alone: had a lookup run, the answer would be 503 DATABASE_UNAVAILABLE.
      const refused = await Promise.all(Array.from({ length: 10 }, (_, i) => wrong(100 + i)));
      for (const r of refused) expect({ status: r.status, code: r.body?.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    } finally {
      await pg.restart();
    }
  });
});
