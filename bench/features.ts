/**
 * `BENCH_ONLY=features`: what the platform's own history costs a refund decision. The HTTP row's load (same bodies,
 * same connections) on PostgreSQL with 1,000,000 prior refund decisions in feature_events (with their refunds and
 * transitions), features on (the default release:
 * refund@1.2.0 locks the customer's key, counts four features and records its events) against features off (the
 * tenant activates default@1.2.0: refund@1.1.0, no history). Each run is a fresh service and database seeded alike;
 * the runs alternate off, on, off, on… and the medians are compared.
 */
import { join } from 'node:path';
import pg from 'pg';
import { pseudonymizer, tenantKey } from '../libs/decisions/index.js';
import { formatDiskFlush, probeDiskFlush, type DiskFlushProbe } from './disk.js';
import { runHttp, type HttpOptions, type HttpRow, type HttpSetup } from './http.js';
import { formatRate, formatUs } from './stats.js';

/** Issue 10's bounds: features add at most this share to the service's CPU per decision, and this much to p99. */
export const TARGET_FEATURE_CPU_SHARE = 0.15;
export const TARGET_FEATURE_P99_MS = 2;

const PRIOR_EVENTS = 1_000_000;
/** The bench cases' customers are cus_1 … cus_100000 (bench/cases.ts). */
const CUSTOMERS = 100_000;
/** Any fixed secret: the bench computes the customers' pseudonyms to seed their history. */
const PSEUDONYM_SECRET = 'bench-pseudonym-secret-0123456789abcdef';
/** The built-in release before features: refund@1.1.0 with the same packs and policy. */
const FEATURES_OFF = { name: 'default', version: '1.2.0' };

export interface FeaturesBenchOptions extends Pick<HttpOptions, 'root' | 'serverUrl' | 'connections' | 'warmupSeconds' | 'seconds' | 'seed' | 'serviceNodeArgs'> {
  rounds: number;
  /**
   * The paced rows' arrival rate as a share of the first features-off row's saturated throughput (both sides then run
   * at that same rate), or 0 for none.
   */
  pacedShare: number;
  /** When set, each service runs under `node --cpu-prof` writing to `<profileDir>/<on|off>-<round>`. */
  profileDir?: string;
  /**
   * `off` runs both sides on databases with `synchronous_commit = off`: an answer then does not wait for the disk to
   * flush its commit. Not how the product runs; it takes the disk's flush stalls (shared by both sides, and on this
   * machine's disk the p99 of a paced row) out of the comparison, so what features add to p99 can be seen.
   */
  synchronousCommit: 'on' | 'off';
  /** Seconds of the disk flush probe before the first row and after the last (0: none). */
  diskProbeSeconds: number;
  log: (line: string) => void;
}

export interface FeaturesBenchResult {
  priorEvents: number;
  synchronousCommit: 'on' | 'off';
  /** The disk's flush latency before the first row and after the last (bench/disk.ts). */
  diskFlush: { before?: DiskFlushProbe; after?: DiskFlushProbe };
  seedSeconds: number[];
  off: HttpRow[];
  on: HttpRow[];
  /** Medians over the rounds. */
  median: {
    off: { perSecond: number; p50Us: number; p99Us: number; serviceMs: number; postgresMs: number };
    on: { perSecond: number; p50Us: number; p99Us: number; serviceMs: number; postgresMs: number };
  };
  /** on ÷ off of the medians; p99 as a difference in ms. */
  ratio: { perSecond: number; serviceCpu: number; postgresCpu: number; p99DeltaMs: number; p50DeltaMs: number };
  /** Both sides at one fixed arrival rate (HttpOptions.paced): medians, and on ÷ off / on − off. */
  paced?: {
    rate: number;
    median: { off: PacedMedian; on: PacedMedian };
    ratio: { serviceCpu: number; postgresCpu: number; p99DeltaMs: number; p50DeltaMs: number };
  };
  explain?: string;
}

/**
 * 1,000,000 prior refund decisions of the bench tenant, each with its refund and that refund's transitions, as the
 * service would have left them: 90% keyed by a bench customer (about 9 each, uniformly), 10% by devices nobody asks
 * about; 80% APPROVE (refund APPROVED, PROCESSING, SUCCEEDED), 10% REVIEW (IN_REVIEW), 10% DENY (DENIED); business
 * times spread over the 400 days up to the end of the bench cases' month (2026-03-11 … 2026-04-10), so the 30-day
 * windows hold about 7% of a customer's events and the 365-day ones about 90%. Refund-source features
 * (goodwillRefunds12m) read the states on the decision's rows (Migration20261208000000); the refunds and their
 * transitions are seeded too, as the service leaves them.
 */
export async function seedHistory(url: string, tenant: string, seedValue: number): Promise<number> {
  const hash = pseudonymizer(tenantKey(Buffer.from(PSEUDONYM_SECRET, 'utf8'), tenant));
  const keys = Array.from({ length: CUSTOMERS }, (_, i) => hash(`cus_${i + 1}`));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const started = process.hrtime.bigint();
  try {
    // The customers' pseudonyms as a table to join on (subscripting a 100,000-element text[] per row walks the array).
    await c.query('create temp table bench_customers (i int primary key, key text not null)');
    await c.query('insert into bench_customers select i, k from unnest($1::text[]) with ordinality as u(k, i)', [keys]);
    await c.query('select setseed($1)', [(seedValue % 1000) / 1000]);
    await c.query(
      `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at,
                                  refund_states, refund_amount)
       select $1, e.entity, e.key, 'decision', 'refund', timestamptz '2026-04-10T12:00:00Z' - (r.t * 400 * 86400) * interval '1 second',
              r.outcome, '{}', r.amount,
              jsonb_build_object('reasonCode', (array['DAMAGED','NOT_AS_DESCRIBED','CHANGED_MIND','OTHER','GOODWILL','NOT_RECEIVED'])[1 + floor(r.c * 6)::int], 'channel', 'customer_portal'),
              jsonb_build_object(e.entity, e.key), gen_random_uuid(), now(),
              case r.outcome when 'APPROVE' then '{APPROVED,PROCESSING,SUCCEEDED}'::text[] when 'REVIEW' then '{IN_REVIEW}' else '{DENIED}' end,
              case when r.outcome = 'APPROVE' then r.amount else 0 end
         from (select g, random() as k, random() as t, random() as c, random() as d,
                      (array['APPROVE','APPROVE','APPROVE','APPROVE','APPROVE','APPROVE','APPROVE','APPROVE','REVIEW','DENY'])[1 + floor(random() * 10)::int] as outcome,
                      300 + floor(random() * 15000)::bigint as amount
                 from generate_series(1, $2::int) g) r
         left join bench_customers bc on r.d < 0.9 and bc.i = 1 + floor(r.k * $3)::int
        cross join lateral (
          select case when r.d < 0.9 then 'customer' else 'device' end as entity,
                 case when r.d < 0.9 then bc.key else 'pii_device_' || floor(r.k * 50000)::int end as key
        ) e`,
      [tenant, PRIOR_EVENTS, CUSTOMERS],
    );
    await c.query(
      `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at)
       select tenant, 'bench_' || decision_id, 'refund', 'bench_' || decision_id, key,
              case outcome when 'APPROVE' then 'SUCCEEDED' when 'REVIEW' then 'IN_REVIEW' else 'DENIED' end,
              amount, case when outcome = 'APPROVE' then amount else 0 end, amount, 'EUR', 'bench', decision_id, at, at
         from feature_events where tenant = $1`,
      [tenant],
    );
    // The rows above carry their refunds' states already (as the decision's write and the trigger leave them): the
    // trigger of Migration20261208000000 would only append them again, so the seed's inserts skip triggers.
    await c.query(`set session_replication_role = replica`);
    await c.query(
      `insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, at)
       select gen_random_uuid(), r.tenant, r.refund_id, s.from_state, s.to_state, 'bench', 'system', r.created_at
         from refunds r
        cross join lateral (values (null, case r.state when 'SUCCEEDED' then 'APPROVED' else r.state end),
                                   ('APPROVED', case when r.state = 'SUCCEEDED' then 'PROCESSING' end),
                                   ('PROCESSING', case when r.state = 'SUCCEEDED' then 'SUCCEEDED' end)) s(from_state, to_state)
        where r.tenant = $1 and s.to_state is not null`,
      [tenant],
    );
    await c.query(`set session_replication_role = origin`);
    // Vacuumed and checkpointed before the load: otherwise the measured run pays for the seed (the first reads of
    // fresh rows set their hint bits and dirty every page; a checkpoint of the seed's WAL lands in the window).
    await c.query('vacuum analyze feature_events');
    await c.query('vacuum analyze refunds');
    await c.query('vacuum analyze refund_transitions');
    await c.query('checkpoint');
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await c.end();
  }
}

/** EXPLAIN ANALYZE of the features statement a bench case runs (the first customer's four features), for the record. */
async function explainValues(url: string, tenant: string): Promise<string> {
  const hash = pseudonymizer(tenantKey(Buffer.from(PSEUDONYM_SECRET, 'utf8'), tenant));
  const key = hash('cus_1');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const at = '2026-03-20T12:00:00Z';
    const where = (days: number, extra = '') =>
      `e.tenant = '${tenant}' and e.entity = 'customer' and e.key = '${key}' and e.source = 'decision' and e.at > timestamptz '${at}' - interval '${days} days' and e.at <= timestamptz '${at}'${extra}`;
    // As FeatureHistoryRepository.values writes them (libs/persistence/feature-history.repository.ts).
    const r = await c.query(
      `explain (analyze, buffers, costs off) select
         (select count(*)::int from feature_events e where ${where(30, ` and e.kind = any('{refund}'::text[])`)}) as f0,
         (select coalesce(sum((select count(*) from unnest(e.refund_states) s where s = any('{APPROVED}'::text[]))), 0)::int from feature_events e
           where ${where(365, ` and e.refund_states && '{APPROVED}'::text[] and e.attributes @> '{"reasonCode":"GOODWILL"}'::jsonb`)}) as f1`,
    );
    return r.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
  } finally {
    await c.end();
  }
}

/** Where PostgreSQL keeps its data (and WAL), to say whether the disk probe ran on that device; undefined if not allowed. */
async function postgresDataDirectory(url: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return ((await c.query<{ data_directory: string }>('show data_directory')).rows[0]?.data_directory) ?? undefined;
  } catch {
    return undefined;
  } finally {
    await c.end();
  }
}

interface PacedMedian {
  p50Us: number;
  p99Us: number;
  serviceMs: number;
  postgresMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function medians(rows: HttpRow[]): FeaturesBenchResult['median']['on'] {
  return {
    perSecond: median(rows.map((r) => r.perSecond)),
    p50Us: median(rows.map((r) => r.p50Us)),
    p99Us: median(rows.map((r) => r.p99Us)),
    serviceMs: median(rows.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.service] : []))),
    postgresMs: median(rows.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.postgres] : []))),
  };
}

function pacedMedians(rows: HttpRow[]): PacedMedian {
  const paced = rows.flatMap((r) => (r.paced ? [r.paced] : []));
  return {
    p50Us: median(paced.map((r) => r.p50Us)),
    p99Us: median(paced.map((r) => r.p99Us)),
    serviceMs: median(paced.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.service] : []))),
    postgresMs: median(paced.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.postgres] : []))),
  };
}

export async function runFeaturesBench(o: FeaturesBenchOptions, waitQuiet: (what: string) => Promise<unknown>): Promise<FeaturesBenchResult> {
  const { log } = o;
  log(`\nFeatures: POST /v1/decisions/refund on PostgreSQL with ${formatRate(PRIOR_EVENTS)} prior events, features off (default@1.2.0, refund@1.1.0) vs on (the newest built-in release), ${o.rounds} round(s) alternating, synchronous_commit ${o.synchronousCommit}`);
  const dataDir = await postgresDataDirectory(o.serverUrl);
  const probe = (when: string): DiskFlushProbe | undefined => {
    if (o.diskProbeSeconds <= 0) return undefined;
    const p = probeDiskFlush(o.diskProbeSeconds, dataDir);
    log(`  disk flush (fdatasync of 8 KiB) ${when}, ${o.diskProbeSeconds} s: ${formatDiskFlush(p)}`);
    return p;
  };
  const diskFlush: FeaturesBenchResult['diskFlush'] = {};
  diskFlush.before = probe('before the rows');
  const seedSeconds: number[] = [];
  let explain: string | undefined;
  // Fixed by the first row (features off): every paced row, on or off, runs at this rate.
  let pacedRate: number | undefined;
  const row = (on: boolean, round: number): HttpOptions => ({
    root: o.root,
    store: 'postgresql',
    serverUrl: o.serverUrl,
    connections: o.connections,
    warmupSeconds: o.warmupSeconds,
    seconds: o.seconds,
    seed: o.seed,
    serviceNodeArgs: o.serviceNodeArgs,
    env: { PSEUDONYM_SECRET },
    // Both sides must decide the same mix: with the bench's orders refunded again and again, the faster side would
    // answer more cheap DENYs (order already refunded) and look cheaper per decision.
    freshOrders: true,
    ...(o.synchronousCommit === 'off' && { databaseSettings: { synchronous_commit: 'off' } }),
    name: `features ${on ? 'on' : 'off'} (round ${round})`,
    ...(o.profileDir && { profileDir: join(o.profileDir, `${on ? 'on' : 'off'}-${round}`) }),
    ...(o.pacedShare > 0 && {
      paced: { rate: (saturated) => (pacedRate ??= Math.max(1, Math.round(saturated.perSecond * o.pacedShare))), warmupSeconds: o.warmupSeconds, seconds: o.seconds },
    }),
    prepare: async (s: HttpSetup) => {
      const took = await seedHistory(s.databaseUrl, s.tenant, o.seed);
      seedSeconds.push(took);
      log(`  seeded ${formatRate(PRIOR_EVENTS)} events in ${took.toFixed(1)} s`);
      if (on && explain === undefined) explain = await explainValues(s.databaseUrl, s.tenant);
      if (!on) {
        const publisher = await s.issueKey(['publisher']);
        const r = await s.request('POST', `/v1/releases/${FEATURES_OFF.name}/${FEATURES_OFF.version}/activate`, { authorization: `Bearer ${publisher}`, 'idempotency-key': `bench-features-off-${round}` });
        if (r.status !== 200) throw new Error(`activating ${FEATURES_OFF.name}@${FEATURES_OFF.version} failed: ${r.status} ${r.body}`);
      }
    },
  });
  const off: HttpRow[] = [];
  const on: HttpRow[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const side of [false, true]) {
      await waitQuiet(`features ${side ? 'on' : 'off'}, round ${round}`);
      (side ? on : off).push(await runHttp(row(side, round), log));
    }
  }
  diskFlush.after = probe('after the rows');
  const m = { off: medians(off), on: medians(on) };
  const ratio = {
    perSecond: m.on.perSecond / m.off.perSecond,
    serviceCpu: m.on.serviceMs / m.off.serviceMs,
    postgresCpu: m.on.postgresMs / m.off.postgresMs,
    p99DeltaMs: (m.on.p99Us - m.off.p99Us) / 1e3,
    p50DeltaMs: (m.on.p50Us - m.off.p50Us) / 1e3,
  };
  let paced: FeaturesBenchResult['paced'];
  if (pacedRate !== undefined) {
    const pm = { off: pacedMedians(off), on: pacedMedians(on) };
    paced = {
      rate: pacedRate,
      median: pm,
      ratio: { serviceCpu: pm.on.serviceMs / pm.off.serviceMs, postgresCpu: pm.on.postgresMs / pm.off.postgresMs, p99DeltaMs: (pm.on.p99Us - pm.off.p99Us) / 1e3, p50DeltaMs: (pm.on.p50Us - pm.off.p50Us) / 1e3 },
    };
  }
  const cpuOk = ratio.serviceCpu <= 1 + TARGET_FEATURE_CPU_SHARE;
  const p99Ok = ratio.p99DeltaMs <= TARGET_FEATURE_P99_MS;
  log(`\nFeatures, medians of ${o.rounds} round(s): off ${formatRate(m.off.perSecond)}/s p50 ${formatUs(m.off.p50Us)} p99 ${formatUs(m.off.p99Us)}, CPU ms/decision service ${m.off.serviceMs.toFixed(2)} postgres ${m.off.postgresMs.toFixed(2)}`);
  log(`                              on  ${formatRate(m.on.perSecond)}/s p50 ${formatUs(m.on.p50Us)} p99 ${formatUs(m.on.p99Us)}, CPU ms/decision service ${m.on.serviceMs.toFixed(2)} postgres ${m.on.postgresMs.toFixed(2)}`);
  log(`  on/off: throughput ${ratio.perSecond.toFixed(3)}, service CPU per decision ${ratio.serviceCpu.toFixed(3)}, PostgreSQL CPU per decision ${ratio.postgresCpu.toFixed(3)}, p50 ${ratio.p50DeltaMs >= 0 ? '+' : ''}${ratio.p50DeltaMs.toFixed(1)} ms, p99 ${ratio.p99DeltaMs >= 0 ? '+' : ''}${ratio.p99DeltaMs.toFixed(1)} ms`);
  log(`  features add <= ${TARGET_FEATURE_CPU_SHARE * 100}% service CPU per decision: ${cpuOk ? 'met' : 'MISSED'}; <= ${TARGET_FEATURE_P99_MS} ms to p99: ${p99Ok ? 'met' : 'MISSED'}`);
  if (paced) {
    const pm = paced.median;
    log(`  paced at ${paced.rate}/s (${Math.round(o.pacedShare * 100)}% of the first off row's throughput), medians: off p50 ${formatUs(pm.off.p50Us)} p99 ${formatUs(pm.off.p99Us)}, CPU ms/decision service ${pm.off.serviceMs.toFixed(2)} postgres ${pm.off.postgresMs.toFixed(2)}`);
    log(`                                                                 on  p50 ${formatUs(pm.on.p50Us)} p99 ${formatUs(pm.on.p99Us)}, CPU ms/decision service ${pm.on.serviceMs.toFixed(2)} postgres ${pm.on.postgresMs.toFixed(2)}`);
    log(`  paced on/off: service CPU per decision ${paced.ratio.serviceCpu.toFixed(3)}, PostgreSQL ${paced.ratio.postgresCpu.toFixed(3)}, p50 ${paced.ratio.p50DeltaMs >= 0 ? '+' : ''}${paced.ratio.p50DeltaMs.toFixed(2)} ms, p99 ${paced.ratio.p99DeltaMs >= 0 ? '+' : ''}${paced.ratio.p99DeltaMs.toFixed(2)} ms (<= ${TARGET_FEATURE_P99_MS} ms: ${paced.ratio.p99DeltaMs <= TARGET_FEATURE_P99_MS ? 'met' : 'MISSED'})`);
  }
  if (explain) log(`\n  The features statement of one bench customer, EXPLAIN ANALYZE (refundCount30d and goodwillRefunds12m):\n${explain.split('\n').map((l) => `    ${l}`).join('\n')}`);
  return { priorEvents: PRIOR_EVENTS, synchronousCommit: o.synchronousCommit, diskFlush, seedSeconds, off, on, median: m, ratio, ...(paced && { paced }), ...(explain && { explain }) };
}
