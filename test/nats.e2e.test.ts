/**
 * With NATS_URL, events reach JetStream once each and in order per tenant, across a crash: the service (a child
 * process) is killed with SIGKILL while events are being written and published, restarted on the same database, and
 * the stream — consumed here — holds every event of the tenant exactly once, sequences contiguous from 1. A stream and
 * subject prefix of its own per run keep parallel runs apart. Needs TEST_NATS_URL (.ci/run starts a nats-server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connect, type NatsConnection } from 'nats';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newKey } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';
import { ServiceProcess } from './support/service-process.js';
import { eventually } from './support/webhook-receiver.js';

const natsUrl = process.env.TEST_NATS_URL;
const maybe = natsUrl ? describe : describe.skip;

const run = `${Date.now().toString(36)}${process.pid}`;
const stream = `TEST_${run}`;
const prefix = `test_${run}`;
const tenant = `nats-${run}`;

let database: TestDatabase;
let pgliteDir: string | undefined;
let nc: NatsConnection;
let svc: ServiceProcess | undefined;

async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
  if (database.kind !== 'postgresql') throw new Error('sql() needs PostgreSQL');
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    return (await c.query(query, params)).rows as T[];
  } finally {
    await c.end();
  }
}

const start = () =>
  ServiceProcess.onDatabase(database.url, { NATS_URL: natsUrl!, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix, OUTBOX_POLL_MS: '20' });

maybe('NATS JetStream', () => {
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl });
    if (process.env.TEST_DATABASE_URL) database = await createTestDatabase('nats');
    else {
      // PGlite in a folder: the restarted process must find the first one's events.
      pgliteDir = mkdtempSync(join(tmpdir(), 'nats-e2e-'));
      database = { url: `pglite://${pgliteDir}`, kind: 'pglite', drop: () => Promise.resolve(rmSync(pgliteDir!, { recursive: true, force: true })) };
    }
  });
  afterAll(async () => {
    await svc?.kill();
    await database?.drop();
    if (nc) {
      await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
      await nc.close();
    }
  });

  it('publishes every event once, in order, across a crash and restart of the service', async () => {
    svc = await start();
    const publisher = await svc.issueKey(tenant, ['publisher']);
    const service = await svc.issueKey(tenant, ['service']);
    /** release.activated events (activate default 1.0.0, roll back to 1.1.0), and a decision, per round; failures while the service is down are expected. */
    let stop = false;
    const load = async () => {
      let ok = 0;
      while (!stop) {
        const s = svc!;
        const a = await s.request('POST', '/v1/releases/default/1.0.0/activate', { key: publisher, idempotencyKey: newKey('a'), timeoutMs: 5_000 }).catch(() => undefined);
        const b = await s.request('POST', '/v1/releases/rollback', { key: publisher, idempotencyKey: newKey('r'), timeoutMs: 5_000 }).catch(() => undefined);
        await s.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey('d'), body: { case: refundCase({ refundId: newKey('rf') }) }, timeoutMs: 5_000 }).catch(() => undefined);
        if (a?.status === 200 && b?.status === 200) ok += 2;
        else await new Promise((r) => setTimeout(r, 50));
      }
      return ok;
    };
    const jsm = await nc.jetstreamManager();
    const streamMessages = async () => (await jsm.streams.info(stream).catch(() => undefined))?.state.messages ?? 0;

    const loading = load();
    // Crash while events are being written and published: some are published, some numbered only, some not yet numbered.
    await eventually('events in the stream', async () => ((await streamMessages()) >= 6 ? true : undefined));
    await svc.kill();
    svc = await start();
    await eventually('more events after the restart', async () => ((await streamMessages()) >= 20 ? true : undefined), 60_000);
    await svc.kill();
    svc = await start();
    await eventually('more events after the second restart', async () => ((await streamMessages()) >= 30 ? true : undefined), 60_000);
    stop = true;
    expect(await loading).toBeGreaterThan(0);

    // Everything the outbox holds for the tenant, once published.
    const count = async () => {
      if (database.kind === 'postgresql') {
        const [r] = await sql<{ n: string; pending: string }>(
          'select count(*) as n, count(*) filter (where sequence is null or nats_pending) as pending from outbox_events where tenant = $1',
          [tenant],
        );
        return Number(r!.pending) === 0 ? Number(r!.n) : undefined;
      }
      return undefined;
    };
    const total = database.kind === 'postgresql' ? await eventually('the outbox drained to NATS', count) : undefined;

    if (database.kind === 'postgresql') {
      // A crash between JetStream's acknowledgement and the outbox's mark, made certain: the republish is dropped.
      await sql('update outbox_events set nats_pending = true where tenant = $1 and sequence <= 5', [tenant]);
      await eventually('the republish', count);
    }

    // Read the whole stream (it is this run's alone).
    const info = await jsm.streams.info(stream);
    const messages: { id: string; header: string | undefined; subject: string; sequence: number; type: string; tenant: string }[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      const e = m.json<{ id: string; sequence: number; type: string; tenant: string }>();
      messages.push({ id: e.id, header: m.header.get('Nats-Msg-Id'), subject: m.subject, sequence: e.sequence, type: e.type, tenant: e.tenant });
    }
    if (total !== undefined) expect(messages).toHaveLength(total);
    expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
    expect(messages.map((m) => m.sequence)).toEqual(messages.map((_, i) => i + 1));
    for (const m of messages) {
      expect(m.header).toBe(m.id);
      expect(m.tenant).toBe(tenant);
      expect(m.subject).toBe(`${prefix}.${tenant}.${m.type}`);
    }
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  });
});
