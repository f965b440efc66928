/**
 * Data minimisation, checked from the outside: the built service runs as a process of its own (debug logging) over a
 * database of its own; refund decisions, a refused case, a replayed request, a subject-access list and an erasure go
 * through it with distinctive raw customer and device ids. Then EVERY table of the database is
 * dumped row by row (`select t::text`) and every line the process printed is scanned: no raw value may appear.
 * PostgreSQL when TEST_DATABASE_URL is set, otherwise PGlite in a folder (read after the service stopped).
 * Gift card checks and redemptions add a raw card code, an e-mail and an IP.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { canonicalJson } from '../libs/decisions/index.js';
import { openDatabase } from '../libs/persistence/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newKey } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';
import { ServiceProcess } from './support/service-process.js';

const RAW = {
  customerA: 'cus-SCAN-Quokka-7731',
  customerB: 'cus-SCAN-Wombat-4410',
  device: 'dev-SCAN-Numbat-0099',
  card: 'GCSCANBILBY58237741',
  email: 'quokka.scan@example.org',
  ip: '198.18.77.231',
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let database: TestDatabase | undefined;
let folder: string | undefined;
let url: string;
let svc: ServiceProcess;
let counters: Record<string, () => number>;
let pseudonymA = '';
const refundIds: string[] = [];

beforeAll(async () => {
  if (process.env.TEST_DATABASE_URL) {
    database = await createTestDatabase('privacy_scan');
    url = database.url;
  } else {
    folder = await mkdtemp(join(tmpdir(), 'privacy-scan-'));
    url = `pglite://${folder}`;
  }
  svc = await ServiceProcess.onDatabase(url, { LOG_LEVEL: 'debug' });
  counters = Object.fromEntries(Object.entries(RAW).map(([name, v]) => [name, svc.countLines(new RegExp(escape(v), 'i'))]));

  const service = await svc.issueKey('scan', ['service']);
  const auditor = await svc.issueKey('scan', ['auditor']);
  const admin = await svc.issueKey('scan', ['admin']);
  const decide = async (body: unknown, idempotencyKey = newKey('scan')) => svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey, body });

  const first = refundCase({ customerId: RAW.customerA, deviceId: RAW.device });
  const k = newKey('scan');
  const made = [
    await decide({ case: first }, k),
    await decide({ case: refundCase({ customerId: RAW.customerA, disputeOpen: true }) }),
    await decide({ case: refundCase({ customerId: RAW.customerB, deviceId: RAW.device }) }),
    // The same request again: replayed from the stored answer.
    await decide({ case: first }, k),
  ];
  for (const r of made) expect(r.status).toBe(201);
  refundIds.push(...made.map((r) => r.body.refundId as string));
  const giftcard = async (type: string, c: Record<string, unknown>) =>
    svc.request('POST', `/v1/decisions/${type}`, { key: service, idempotencyKey: newKey('scan'), body: { case: c } });
  const card = { cardCode: RAW.card, ip: RAW.ip, deviceId: RAW.device, channel: 'web', requestedAt: '2026-03-02T09:00:00Z' };
  expect((await giftcard('giftcard-balance-check', { ...card, cardFound: true })).status).toBe(201);
  expect((await giftcard('giftcard-balance-check', { ...card, cardCode: `${RAW.card}X`, cardFound: false })).status).toBe(201);
  const redeemed = await giftcard('giftcard-redemption', { ...card, customerId: RAW.customerA, email: RAW.email, amount: 2500, currency: 'EUR' });
  expect(redeemed.status).toBe(201);
  expect(redeemed.body).not.toHaveProperty('cardCode'); // personal: in the stored case only, as pii_<hash>_7741
  // A refused case is stored too (its problem answer, under its key).
  expect((await decide({ case: refundCase({ customerId: RAW.customerA, requestedAmount: -5 }) })).status).toBe(400);
  // A subject-access list by the raw id, and an erasure of the other subject.
  const listed = await svc.request('GET', `/v1/decisions?customer=${encodeURIComponent(RAW.customerA)}`, { key: auditor });
  expect(listed.body.items.map((d: { type: string }) => d.type).sort()).toEqual(['giftcard-redemption', 'refund', 'refund']); // the redemption names the customer too
  const erased = await svc.request('POST', '/v1/subjects/erasure', { key: admin, idempotencyKey: newKey('scan'), body: { customer: RAW.customerB } });
  expect(erased.status).toBe(200);
  expect(erased.body.decisions).toBe(1);
  const stored = await svc.request('GET', `/v1/decisions/${made[0]!.body.id}`, { key: auditor });
  expect(stored.status).toBe(200);
  pseudonymA = (await svc.request('GET', `/v1/refunds/${made[0]!.body.refundId}`, { key: auditor })).body.customerId as string;
  expect(pseudonymA).toMatch(/^pii_/);
  // SIGTERM: the service flushes and stops; its database stays for the scan.
  await svc.stop();
});

afterAll(async () => {
  await database?.drop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** Every row of every table of the database, as text: `{table: [row, …]}`. */
async function dumpAll(): Promise<Record<string, string[]>> {
  const tablesSql = `select table_schema as s, table_name as t from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1, 2`;
  const quote = (id: string) => `"${id.replaceAll('"', '""')}"`;
  const out: Record<string, string[]> = {};
  if (database) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const { s, t } of (await c.query<{ s: string; t: string }>(tablesSql)).rows) {
        out[`${s}.${t}`] = (await c.query<{ row: string }>(`select t::text as row from ${quote(s)}.${quote(t)} t`)).rows.map((r) => r.row);
      }
    } finally {
      await c.end();
    }
    return out;
  }
  const db = await openDatabase(url);
  try {
    for (const { s, t } of await db.em().execute<{ s: string; t: string }[]>(tablesSql)) {
      out[`${s}.${t}`] = (await db.em().execute<{ row: string }[]>(`select t::text as row from ${quote(s)}.${quote(t)} t`)).map((r) => r.row);
    }
  } finally {
    await db.close();
  }
  return out;
}

describe('after a run, no raw personal value is anywhere', () => {
  it('in any table of the database', async () => {
    const dump = await dumpAll();
    const all = Object.values(dump).flat().join('\n');
    // The scan sees the data: the tables the run wrote, the refund ids (not personal), the pseudonym.
    for (const t of ['public.decisions', 'public.feature_events', 'public.refunds', 'public.idempotency_records', 'public.outbox_events', 'public.audit_log']) {
      expect(dump[t]?.length ?? 0).toBeGreaterThan(0);
    }
    for (const id of refundIds) expect(all).toContain(id);
    expect(all).toContain(pseudonymA);
    const found: string[] = [];
    for (const [table, rows] of Object.entries(dump)) {
      for (const [name, raw] of Object.entries(RAW)) {
        const n = rows.filter((r) => r.toLowerCase().includes(raw.toLowerCase())).length;
        if (n > 0) found.push(`${table}: ${n} row(s) hold ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  it("nor as a digest anyone could compute again: the erasure's request is stored under a keyed hash", async () => {
    // The erasure's body is the raw id alone: an unkeyed sha256 of it could be found again from a list of guesses.
    const text = `POST /v1/subjects/erasure\n${canonicalJson({ body: { customer: RAW.customerB }, query: {} })}`;
    const unkeyed = createHash('sha256').update(text).digest('hex');
    const hashes = (await dumpAll())['public.idempotency_records']!;
    expect(hashes.some((row) => row.includes(',k1:'))).toBe(true);
    expect(hashes.filter((row) => row.includes(unkeyed))).toEqual([]);
  });

  it('in any line the service printed (debug level)', () => {
    // The process printed at all (its start line, at least).
    expect(svc.log.length).toBeGreaterThan(0);
    expect(Object.fromEntries(Object.entries(counters).map(([name, n]) => [name, n()]))).toEqual(Object.fromEntries(Object.keys(RAW).map((name) => [name, 0])));
    for (const raw of Object.values(RAW)) expect(svc.log.toLowerCase()).not.toContain(raw.toLowerCase());
  });
});
