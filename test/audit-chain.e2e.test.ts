/**
 * The audit trail an auditor can trust (issue 12 item 4): every change names its actor; each tenant's audit rows form
 * a hash chain that GET /v1/audit/verify walks, naming the first broken link when a row is edited or deleted behind the
 * service's back; GET /v1/audit/export streams a time range as NDJSON whose lines re-verify offline.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { chainNext, ChainVerifier, type ChainedAuditRow } from '../libs/audit/index.js';
import { RetentionSweeper } from '../apps/decision-api/retention/retention-sweeper.js';
import { ReviewOverdueSweeper } from '../apps/decision-api/reviews/overdue-sweeper.js';
import { ADMIN_TOKEN, newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const bin = resolve(import.meta.dirname, '..', 'bin', 'decisions.js');

/** `decisions audit verify <file> --json` as a real process (the built CLI). */
async function cliVerify(text: string): Promise<{ code: number; report: { ok: boolean; tenants: { fromSeq: number; checked: number; firstBroken: { id: string; reason: string } | null }[] } }> {
  const file = join(await mkdtemp(join(tmpdir(), 'audit-export-')), 'audit.ndjson');
  await writeFile(file, text);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'audit', 'verify', file, '--json']);
    return { code: 0, report: JSON.parse(stdout) };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, report: JSON.parse(err.stdout) };
  }
}

describe(`audit chain on ${onPostgres ? 'PostgreSQL' : 'PGlite'}`, () => {
  let svc: TestService;

  async function issue(tenant: string, roles: string[], name = 'k'): Promise<{ id: string; key: string }> {
    const r = await svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant, roles, name } });
    expect(r.status).toBe(201);
    return r.body;
  }

  /** A tenant with an admin and an auditor key. */
  async function tenant(name: string) {
    const admin = await issue(name, ['admin'], 'admin');
    const auditor = await issue(name, ['auditor'], 'auditor');
    return { admin, auditor };
  }

  const verify = (key: string) => svc.request('GET', '/v1/audit/verify', { key });

  async function rows(key: string): Promise<ChainedAuditRow[]> {
    const all: ChainedAuditRow[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: { items: ChainedAuditRow[]; nextCursor: string | null } } = await svc.request('GET', `/v1/audit?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(r.status).toBe(200);
      all.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    return all.sort((a, b) => a.seq - b.seq);
  }

  /**
   * SQL as a database administrator would run it, on a connection of its own, around the append-only trigger (PGlite
   * has one connection: the service's).
   */
  async function behindTheServicesBack(statement: string, params: unknown[]): Promise<void> {
    if (!onPostgres) {
      await svc.sql('alter table audit_log disable trigger audit_log_append_only');
      await svc.sql(statement.replace(/\$\d+/g, '?'), params);
      await svc.sql('alter table audit_log enable trigger audit_log_append_only');
      return;
    }
    const c = new pg.Client({ connectionString: svc.databaseUrl });
    await c.connect();
    try {
      await c.query('alter table audit_log disable trigger audit_log_append_only');
      await c.query(statement, params);
      await c.query('alter table audit_log enable trigger audit_log_append_only');
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    svc = await TestService.start('audit_chain');
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('verifies an intact chain: seq 1, 2, 3, … each linked to the one before', async () => {
    const t = await tenant('intact');
    const r = await svc.request('POST', `/v1/api-keys/${t.admin.id}/rotate`, { key: t.admin.key, idempotencyKey: newKey(), body: {} });
    expect(r.status).toBe(201);
    const chain = await rows(t.auditor.key);
    expect(chain.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(chain[0]!.prevHash).toBeNull();
    expect(chain[1]!.prevHash).toBe(chain[0]!.hash);
    expect(chain[2]).toMatchObject({ action: 'api_key.rotated', actor: t.admin.id, actorRole: 'admin', prevHash: chain[1]!.hash });
    expect(chain[0]).toMatchObject({ action: 'api_key.issued', actor: 'admin-token', actorRole: 'admin' });
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: 3, firstBroken: null });
  });

  it('keeps one chain under 20 concurrent appends in one tenant: ok, seqs contiguous', async () => {
    const t = await tenant('concurrent');
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.request('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant: 'concurrent', roles: ['service'], name: `k${i}` } })));
    expect(made.map((r) => r.status)).toEqual(Array(20).fill(201));
    const chain = await rows(t.auditor.key);
    expect(chain.map((x) => x.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: 22, firstBroken: null });
  });

  it('names a row edited in the database with the trigger disabled (content hash mismatch)', async () => {
    const t = await tenant('edited');
    await issue('edited', ['service'], 'victim');
    const chain = await rows(t.auditor.key);
    const target = chain[1]!;
    await behindTheServicesBack(`update audit_log set details = jsonb_set(details, '{name}', '"someone else"') where id = $1`, [target.id]);
    const r = await verify(t.auditor.key);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      ok: false,
      checked: 2,
      firstBroken: { id: target.id, seq: 2, at: target.at, reason: 'content_hash_mismatch', expected: expect.any(String), found: target.hash },
    });
    // Reported, never repaired: the same answer again, and the row as tampered.
    expect((await verify(t.auditor.key)).body).toEqual(r.body);
  });

  it('names the row after a deleted one (missing seq)', async () => {
    const t = await tenant('deleted');
    for (const n of ['a', 'b', 'c']) await issue('deleted', ['service'], n);
    const chain = await rows(t.auditor.key);
    await behindTheServicesBack('delete from audit_log where id = $1', [chain[2]!.id]);
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 3,
      firstBroken: { id: chain[3]!.id, seq: 4, at: chain[3]!.at, reason: 'missing_seq', expected: 3, found: 4 },
    });
  });

  it('finds rows deleted from the end of the chain (the recorded head is further on)', async () => {
    const t = await tenant('truncated');
    await issue('truncated', ['service'], 'last');
    const chain = await rows(t.auditor.key);
    await behindTheServicesBack('delete from audit_log where id = $1', [chain[2]!.id]);
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 2,
      firstBroken: { id: null, seq: 3, at: null, reason: 'missing_seq', expected: 3, found: 2 },
    });
  });

  it('finds a row inserted past the head around the chain trigger', async () => {
    const t = await tenant('appended');
    const chain = await rows(t.auditor.key);
    const last = chain.at(-1)!;
    const forged = chainNext({ seq: last.seq, hash: last.hash }, { ...last, id: '01900000-0000-7000-8000-00000000abcd', action: 'api_key.issued', subjectId: 'ghost' });
    const c = onPostgres ? new pg.Client({ connectionString: svc.databaseUrl }) : undefined;
    const run = (q: string, params: unknown[] = []) => {
      let n = 0;
      return c ? c.query(q.replace(/\?/g, () => `$${++n}`), params) : svc.sql(q, params);
    };
    await c?.connect();
    try {
      await run('alter table audit_log disable trigger audit_log_chain');
      await run(
        `insert into audit_log (id, tenant, seq, at, actor, actor_role, action, subject_type, subject_id, details, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)`,
        [forged.id, forged.tenant, forged.seq, forged.at, forged.actor, forged.actorRole, forged.action, forged.subjectType, forged.subjectId, JSON.stringify(forged.details), forged.prevHash, forged.hash],
      );
      await run('alter table audit_log enable trigger audit_log_chain');
    } finally {
      await c?.end();
    }
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 3,
      firstBroken: { id: forged.id, seq: 3, at: forged.at, reason: 'head_mismatch', expected: 2, found: 3 },
    });
  });

  it('reports a chain whose head row was deleted (trigger disabled): rows without a head are past it', async () => {
    const t = await tenant('headless');
    const chain = await rows(t.auditor.key);
    const c = onPostgres ? new pg.Client({ connectionString: svc.databaseUrl }) : undefined;
    const run = (q: string, params: unknown[] = []) => {
      let n = 0;
      return c ? c.query(q.replace(/\?/g, () => `$${++n}`), params) : svc.sql(q, params);
    };
    await c?.connect();
    try {
      await run('alter table audit_chain_heads disable trigger audit_chain_heads_no_delete');
      await run('delete from audit_chain_heads where tenant = ?', ['headless']);
      await run('alter table audit_chain_heads enable trigger audit_chain_heads_no_delete');
    } finally {
      await c?.end();
    }
    expect((await verify(t.auditor.key)).body).toEqual({
      ok: false,
      checked: 1,
      firstBroken: { id: chain[0]!.id, seq: 1, at: chain[0]!.at, reason: 'head_mismatch', expected: 0, found: 1 },
    });
  });

  it('refuses an UPDATE of a chain head that no audit row made (no trigger disabled)', async () => {
    const t = await tenant('rewound');
    await issue('rewound', ['service'], 'x');
    const chain = await rows(t.auditor.key);
    const rewind = 'update audit_chain_heads set seq = 1, hash = ? where tenant = ?';
    if (onPostgres) {
      const c = new pg.Client({ connectionString: svc.databaseUrl });
      await c.connect();
      try {
        await expect(c.query(rewind.replace('?', '$1').replace('?', '$2'), [chain[0]!.hash, 'rewound'])).rejects.toThrow(/audit_chain_heads moves only with an audit_log row/);
        await expect(c.query(`update audit_chain_heads set last_at = '2000-01-01T00:00:00Z' where tenant = 'rewound'`)).rejects.toThrow(/moves only/);
      } finally {
        await c.end();
      }
    } else {
      await expect(svc.sql(rewind, [chain[0]!.hash, 'rewound'])).rejects.toThrow(/audit_chain_heads moves only with an audit_log row/);
    }
    // The append's own locking upsert (a no-op update) and the chain trigger's update still pass.
    await issue('rewound', ['service'], 'y');
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: 4, firstBroken: null });
  });

  (onPostgres ? it : it.skip)('stamps a row after it waited for its chain: exports of consecutive ranges hold every seq', async () => {
    const t = await tenant('tiled');
    const holder = new pg.Client({ connectionString: svc.databaseUrl });
    await holder.connect();
    let pending: Promise<unknown> | undefined;
    try {
      await holder.query('begin');
      await holder.query(`select seq from audit_chain_heads where tenant = 'tiled' for update`);
      // An append that has stamped its request time and now waits for the tenant's chain head.
      pending = issue('tiled', ['service'], 'waited');
      // Until the append is seen waiting (pg_stat_activity is read outside the holder's transaction: inside one, it is
      // a snapshot taken once).
      for (;;) {
        const [waiting] = await svc.sql<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%audit_chain_heads%'`,
        );
        if (waiting!.n > 0) break;
      }
      const b = new Date().toISOString();
      const first = await svc.request('GET', `/v1/audit/export?from=2000-01-01T00:00:00Z&to=${b}`, { key: t.auditor.key });
      expect(first.status).toBe(200);
      await holder.query('commit');
      await pending;
      await issue('tiled', ['service'], 'after');
      const second = await svc.request('GET', `/v1/audit/export?from=${b}&to=2100-01-01T00:00:00Z`, { key: t.auditor.key });
      expect(second.status).toBe(200);
      const seqs = `${first.text}${second.text}`.trimEnd().split('\n').map((l) => (JSON.parse(l) as ChainedAuditRow).seq);
      expect(seqs).toEqual([1, 2, 3, 4]);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
      await pending;
    }
    // `at` never goes back along the chain.
    const chain = await rows(t.auditor.key);
    expect(chain.map((r) => r.at)).toEqual([...chain.map((r) => r.at)].sort());
  });

  it('records the actor of each kind of change: audit rows for administrative changes, columns on decisions and ledger entries', async () => {
    const t = await tenant('actors');
    const [service, reviewer, publisher] = [await issue('actors', ['service'], 'svc'), await issue('actors', ['reviewer'], 'rev'), await issue('actors', ['publisher'], 'pub')];
    const post = (key: string, path: string, body?: unknown) => svc.request('POST', path, { key, idempotencyKey: newKey(), body });

    // A decision (the hot path): its actor is a column of its own row, shown in the list.
    const decided = await post(service.key, '/v1/decisions/refund', { case: refundCase({ refundId: 'rf-actor', disputeOpen: true }) });
    expect(decided.status).toBe(201);
    const listed = await svc.request('GET', '/v1/decisions?limit=5', { key: t.auditor.key });
    expect(listed.body.items.find((d: { id: string }) => d.id === decided.body.id)).toMatchObject({ actor: { id: service.id, role: 'service' } });

    // A ledger write: each entry names its actor, written by the write statement.
    const account = `acct-actor-${Date.now().toString(36)}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${account}`, { key: service.key, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    expect((await post(service.key, `/v1/ledger/accounts/${account}/transactions`, { transactionId: 'tx-actor', amount: 10000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' })).status).toBe(201);
    expect((await post(service.key, '/v1/ledger/transactions/tx-actor/settle', { settledAt: '2026-03-02T10:00:00Z' })).status).toBe(200);
    const entries = await svc.sql<{ actor_id: string; actor_role: string }>('select actor_id, actor_role from ledger_entries where tenant = ? and account_id = ?', ['actors', account]);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e).toEqual({ actor_id: service.id, actor_role: 'service' });
    const listedEntries = await svc.request('GET', `/v1/ledger/accounts/${account}/entries`, { key: t.auditor.key });
    expect(listedEntries.body.items.length).toBe(entries.length);
    for (const e of listedEntries.body.items) expect(e.actor).toEqual({ id: service.id, role: 'service' });

    // Ledger writes that write no entry (a statement program rewards at close): a purchase, its settlement, a refund.
    const statementAccount = `${account}-st`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${statementAccount}`, { key: service.key, body: { program: 'issuer-b', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    expect((await post(service.key, `/v1/ledger/accounts/${statementAccount}/transactions`, { transactionId: 'tx-no-entry', amount: 5000, category: 'GROCERY', occurredAt: '2026-03-03T10:00:00Z' })).status).toBe(201);
    expect((await post(service.key, '/v1/ledger/transactions/tx-no-entry/settle', { settledAt: '2026-03-03T10:00:00Z' })).status).toBe(200);
    expect((await post(service.key, '/v1/ledger/transactions/tx-no-entry/refunds', { refundId: 'rf-no-entry', amount: 1000, at: '2026-03-03T11:00:00Z' })).status).toBe(201);
    expect(await svc.sql('select 1 from ledger_entries where tenant = ? and transaction_id = ?', ['actors', 'tx-no-entry'])).toEqual([]);
    expect(await svc.sql('select actor_id, actor_role from ledger_transactions where tenant = ? and transaction_id = ?', ['actors', 'tx-no-entry'])).toEqual([{ actor_id: service.id, actor_role: 'service' }]);
    expect(await svc.sql('select actor_id, actor_role from ledger_adjustments where tenant = ? and transaction_id = ?', ['actors', 'tx-no-entry'])).toEqual([{ actor_id: service.id, actor_role: 'service' }]);
    expect((await svc.request('GET', '/v1/ledger/transactions/tx-no-entry', { key: t.auditor.key })).body).toMatchObject({ transactionId: 'tx-no-entry', refunded: 1000, actor: { id: service.id, role: 'service' } });

    // A review claimed and released; a webhook registered and deleted; a release activated: audit rows.
    const [review] = await svc.sql<{ id: string }>('select id from reviews where tenant = ? and decision_id = ?', ['actors', decided.body.id]);
    expect((await post(reviewer.key, `/v1/reviews/${review!.id}/claim`)).status).toBe(200);
    expect((await post(reviewer.key, `/v1/reviews/${review!.id}/release`)).status).toBe(200);
    const hook = await post(t.admin.key, '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['refund.state_changed'] });
    expect(hook.status).toBe(201);
    expect((await svc.request('DELETE', `/v1/webhooks/${hook.body.id}`, { key: t.admin.key })).status).toBe(204);
    const activated = await post(publisher.key, '/v1/releases/default/1.2.0/activate');
    expect(activated.status).toBe(200);

    // The platform's own work: the overdue sweep and the retention purge, actor `system`.
    await svc.sql('update reviews set deadline = ? where id = ?', [new Date(Date.now() - 60_000).toISOString(), review!.id]);
    expect(await svc.provider(ReviewOverdueSweeper).sweep()).toBe(1);
    expect(await svc.provider(RetentionSweeper).sweep(new Date(Date.now() + 20 * 365 * 24 * 3600_000))).toBeGreaterThan(0);

    const chain = await rows(t.auditor.key);
    const by = (action: string) => chain.filter((r) => r.action === action).map((r) => ({ actor: r.actor, actorRole: r.actorRole, subjectId: r.subjectId }));
    expect(by('review.claimed')).toEqual([{ actor: reviewer.id, actorRole: 'reviewer', subjectId: review!.id }]);
    expect(by('review.released')).toEqual([{ actor: reviewer.id, actorRole: 'reviewer', subjectId: review!.id }]);
    expect(by('webhook.registered')).toEqual([{ actor: t.admin.id, actorRole: 'admin', subjectId: hook.body.id }]);
    expect(by('webhook.deleted')).toEqual([{ actor: t.admin.id, actorRole: 'admin', subjectId: hook.body.id }]);
    expect(by('release.activated')).toEqual([{ actor: publisher.id, actorRole: 'publisher', subjectId: 'default@1.2.0' }]);
    expect(by('ledger.account_opened')).toEqual([account, statementAccount].map((subjectId) => ({ actor: service.id, actorRole: 'service', subjectId })));
    expect(by('review.marked_overdue')).toEqual([{ actor: 'system', actorRole: 'system', subjectId: review!.id }]);
    expect(by('retention.decisions_purged')).toEqual([{ actor: 'system', actorRole: 'system', subjectId: 'actors' }]);
    expect((await verify(t.auditor.key)).body).toEqual({ ok: true, checked: chain.length, firstBroken: null });
  });

  it('exports a time range as NDJSON whose lines re-verify offline', async () => {
    const t = await tenant('exported');
    for (const n of ['a', 'b', 'c', 'd']) await issue('exported', ['service'], n);
    const chain = await rows(t.auditor.key);
    const from = chain[1]!.at;
    const to = new Date(Date.parse(chain[4]!.at) + 1).toISOString();
    const r = await svc.request('GET', `/v1/audit/export?from=${from}&to=${to}`, { key: t.auditor.key });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = r.text.trimEnd().split('\n').map((l) => JSON.parse(l) as ChainedAuditRow);
    const inRange = chain.filter((x) => x.at >= from && x.at < to);
    expect(lines).toEqual(inRange);
    // Offline: from the first line's link, every line must hash and link as the chain says.
    const v = new ChainVerifier({ seq: lines[0]!.seq - 1, hash: lines[0]!.prevHash });
    for (const line of lines) expect(v.push(line)).toBe(true);
    expect(v.checked).toBe(lines.length);
    // An edited line is caught offline too.
    const edited = new ChainVerifier({ seq: lines[0]!.seq - 1, hash: lines[0]!.prevHash });
    expect(lines.map((l, i) => edited.push(i === 1 ? { ...l, actor: 'someone else' } : l))).toContain(false);
    // The same offline, with the CLI: the export as downloaded passes; one edited line is named.
    const passed = await cliVerify(r.text);
    expect(passed.code).toBe(0);
    expect(passed.report).toEqual({ ok: true, tenants: [{ tenant: 'exported', fromSeq: lines[0]!.seq, toSeq: lines.at(-1)!.seq, checked: lines.length, firstBroken: null }] });
    const tampered = r.text.replace(`"subjectId":"${lines[2]!.subjectId}"`, '"subjectId":"forged"');
    const caught = await cliVerify(tampered);
    expect(caught.code).toBe(1);
    expect(caught.report.tenants[0]!.firstBroken).toMatchObject({ id: lines[2]!.id, reason: 'content_hash_mismatch' });
  });

  it('refuses bad and unknown query parameters with 400 naming them', async () => {
    const t = await tenant('badquery');
    const bad = await svc.request('GET', '/v1/audit/export?from=yesterday&to=2026-13-01T00:00:00Z', { key: t.auditor.key });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query:from', 'query:to']);
    const missing = await svc.request('GET', '/v1/audit/export', { key: t.auditor.key });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query:from', 'query:to']);
    const backwards = await svc.request('GET', '/v1/audit/export?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', { key: t.auditor.key });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ path: 'query:to', message: 'must be after from' }]);
    const unknown = await svc.request('GET', '/v1/audit/export?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&tenant=other', { key: t.auditor.key });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ path: 'query:tenant', message: expect.any(String) }]);
    const unknownOnVerify = await svc.request('GET', '/v1/audit/verify?tenant=other', { key: t.auditor.key });
    expect(unknownOnVerify.status).toBe(400);
  });

  it('refuses other roles (403) and never shows another tenant\'s chain', async () => {
    const t = await tenant('mine');
    const other = await tenant('theirs');
    await issue('theirs', ['service'], 'x');
    for (const path of ['/v1/audit/verify', '/v1/audit/export?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z']) {
      expect((await svc.request('GET', path, { key: t.admin.key })).status).toBe(403);
      expect((await svc.request('GET', path)).status).toBe(401);
    }
    expect((await verify(t.auditor.key)).body).toMatchObject({ ok: true, checked: 2 });
    expect((await verify(other.auditor.key)).body).toMatchObject({ ok: true, checked: 3 });
    const mine = await svc.request('GET', '/v1/audit/export?from=2026-01-01T00:00:00Z&to=2100-01-01T00:00:00Z', { key: t.auditor.key });
    const tenants = new Set(mine.text.trimEnd().split('\n').map((l) => (JSON.parse(l) as ChainedAuditRow).tenant));
    expect([...tenants]).toEqual(['mine']);
  });
});
