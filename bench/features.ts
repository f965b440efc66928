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
import { pacedLoad, refundBodies, runHttp, saturatedLoad, withService, type HttpOptions, type HttpRow, type HttpSetup, type PacedSplit } from './http.js';
import { formatRate, formatUs, type Summary } from './stats.js';

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
      `e.tenant = (select '${tenant}'::text) and e.entity = 'customer' and e.key = '${key}' and e.source = 'decision' and e.at > timestamptz '${at}' - interval '${days} days' and e.at <= timestamptz '${at}'${extra}`;
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

export interface FeaturesMixedOptions extends Pick<HttpOptions, 'root' | 'serverUrl' | 'connections' | 'seed' | 'serviceNodeArgs'> {
  /** Decisions per second, both sides together in the mixed stretch, each side alone in the blocks. */
  rate: number;
  /** Seconds of the mixed stretch measured (after `warmupSeconds` mixed). */
  mixedSeconds: number;
  warmupSeconds: number;
  /** Pairs of single-side blocks (off then on, on then off, …) and each block's measured seconds (after 1 s). */
  pairs: number;
  blockSeconds: number;
  synchronousCommit: 'on' | 'off';
  /**
   * Run the payout worker (PAYOUT_CONCURRENCY's default) or not (0): off, CPU per decision is the decision's alone.
   * On, it includes paying what was approved, and the off side approves more (the platform's counts send more to
   * review), so it pays more.
   */
  payouts: boolean;
  log: (line: string) => void;
}

interface SideCpu {
  service: number;
  postgres: number;
}

export interface FeaturesMixedResult {
  priorEvents: number;
  rate: number;
  seedSeconds: number;
  synchronousCommit: 'on' | 'off';
  payouts: boolean;
  /** Every request of one open-loop stream sent to a side at random: both sides under the same conditions, moment by moment. */
  mixed: { seconds: number; off: Summary; on: Summary; p50DeltaMs: number; p99DeltaMs: number; non2xx: number; errors: number; failed: { off: number; on: number } };
  /** CPU ms per decision of each single-side block, in pairs, and the medians of the pairs' on ÷ off. */
  blocks: { seconds: number; pairs: { off: SideCpu; on: SideCpu }[]; serviceRatio: number; postgresRatio: number; serviceRatioRange: [number, number] };
  /** The same at the HTTP row's load: wrk's `connections` closed loop, one side per block, in pairs. */
  saturated: {
    seconds: number;
    pairs: { off: SaturatedBlock; on: SaturatedBlock }[];
    serviceRatio: number;
    serviceRatioRange: [number, number];
    postgresRatio: number;
    throughputRatio: number;
    /** Median over the pairs of on's p99 − off's. */
    p99DeltaMs: number;
  };
}

interface SaturatedBlock extends SideCpu {
  perSecond: number;
  p99Ms: number;
  /** What PostgreSQL did per decision (serverWork). */
  server: ServerWork;
}

/**
 * What PostgreSQL did during a block, per decision, from its cumulative statistics: pages read into shared buffers (from
 * the OS cache or the disk) and pages found there, in the bench's database (the service's background jobs included);
 * WAL bytes and full-page images, server-wide (another database's work on the same server lands here too). Backends
 * report these up to a second late, mostly the block's own tail: indicative, to see where a side's PostgreSQL time
 * goes (a history larger than shared_buffers is read from the OS cache page by page). PostgreSQL 14 or later.
 */
export interface ServerWork {
  blocksRead: number;
  blocksHit: number;
  walBytes: number;
  walFpi: number;
}

async function serverCounters(c: pg.Client): Promise<ServerWork> {
  const r = await c.query<Record<keyof ServerWork, string>>(
    `select d.blks_read as "blocksRead", d.blks_hit as "blocksHit", w.wal_bytes as "walBytes", w.wal_fpi as "walFpi"
       from pg_stat_database d, pg_stat_wal w where d.datname = current_database()`,
  );
  const row = r.rows[0]!;
  return { blocksRead: Number(row.blocksRead), blocksHit: Number(row.blocksHit), walBytes: Number(row.walBytes), walFpi: Number(row.walFpi) };
}

function serverWork(before: ServerWork, after: ServerWork, decisions: number): ServerWork {
  const per = (k: keyof ServerWork) => Math.round(((after[k] - before[k]) / Math.max(1, decisions)) * 100) / 100;
  return { blocksRead: per('blocksRead'), blocksHit: per('blocksHit'), walBytes: Math.round(per('walBytes')), walFpi: per('walFpi') };
}

function formatServerWork(w: ServerWork): string {
  return `read ${w.blocksRead} hit ${w.blocksHit} WAL ${w.walBytes} B (${w.walFpi} FPI)`;
}

/**
 * `BENCH_ONLY=features-mixed`: issue 10's bound measured so that this machine's drift cancels out. One service, one
 * database with 1,000,000 prior events; two tenants, one on the newest built-in release (features on), one on
 * default@1.2.0 (off), each with the same seeded history. Latency: one open-loop stream at `rate`, each request sent to a side at random, so a stall of
 * the host (the paced rows' p99 is one, with features off too) lands on both sides alike. CPU per decision: it cannot
 * be split by request, so single-side blocks alternate (off, on, on, off, …) and each pair's on ÷ off is taken: at
 * `rate`, then at the HTTP row's load (wrk, `connections`, closed loop: each block's throughput, p99 and CPU).
 */
export async function runFeaturesMixed(o: FeaturesMixedOptions): Promise<FeaturesMixedResult> {
  const { log } = o;
  const offTenant = 'bench-off';
  log(`\nFeatures, mixed: one service and database with ${formatRate(PRIOR_EVENTS)} prior events; tenant bench on the newest built-in release (features on), ${offTenant} on ${FEATURES_OFF.name}@${FEATURES_OFF.version} (off); ${o.rate}/s open loop, synchronous_commit ${o.synchronousCommit}, payout worker ${o.payouts ? 'on' : 'off'}`);
  return withService(
    {
      root: o.root,
      store: 'postgresql',
      serverUrl: o.serverUrl,
      connections: o.connections,
      serviceNodeArgs: o.serviceNodeArgs,
      env: { PSEUDONYM_SECRET, ...(!o.payouts && { PAYOUT_CONCURRENCY: '0' }) },
      ...(o.synchronousCommit === 'off' && { databaseSettings: { synchronous_commit: 'off' } }),
    },
    async (s) => {
      // Both tenants alike: the same history, analyzed (an unseen tenant is planned from no statistics, tenant-scope.ts).
      const seedSeconds = (await seedHistory(s.databaseUrl, s.tenant, o.seed)) + (await seedHistory(s.databaseUrl, offTenant, o.seed));
      log(`  seeded ${formatRate(PRIOR_EVENTS)} events for each tenant in ${seedSeconds.toFixed(1)} s`);
      const publisher = await s.issueKey(['publisher'], offTenant);
      const activated = await s.request('POST', `/v1/releases/${FEATURES_OFF.name}/${FEATURES_OFF.version}/activate`, { authorization: `Bearer ${publisher}`, 'idempotency-key': 'bench-features-off' });
      if (activated.status !== 200) throw new Error(`activating ${FEATURES_OFF.name}@${FEATURES_OFF.version} failed: ${activated.status} ${activated.body}`);
      const keys = [await s.issueKey(['service'], offTenant), s.key] as const;
      const bodies = refundBodies(o.seed, { freshOrders: true });
      const run = `${process.pid}-${Date.now().toString(36)}`;
      // Side by request: the top bit of MurmurHash3's finalizer of n and the seed, independent of the body (n % 4,096)
      // and of the previous request's side.
      const random = (n: number): 0 | 1 => {
        let h = (n ^ Math.imul(o.seed, 0x9e3779b1)) >>> 0;
        h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
        h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
        return ((h ^ (h >>> 16)) >>> 31) as 0 | 1;
      };
      const load = (tag: string, split: PacedSplit | string, warmup: number, seconds: number) =>
        pacedLoad(s.agent, s.port, split, bodies, `${run}${tag}`, s.servicePid, s.database, o.rate, warmup, seconds);

      const m = await load('m', { sideOf: random, keys }, o.warmupSeconds, o.mixedSeconds);
      const non2xx = Object.entries(m.statuses).reduce((sum, [st, n]) => (Number(st) >= 200 && Number(st) < 300 ? sum : sum + n), 0);
      const [off, on] = m.sides;
      const mixed = { seconds: o.mixedSeconds, off, on, p50DeltaMs: (on.p50Us - off.p50Us) / 1e3, p99DeltaMs: (on.p99Us - off.p99Us) / 1e3, non2xx, errors: m.errors, failed: { off: m.failedBySide[0], on: m.failedBySide[1] } };
      log(`  mixed, ${o.mixedSeconds} s: off ${off.count} decisions p50 ${formatUs(off.p50Us)} p99 ${formatUs(off.p99Us)} max ${formatUs(off.maxUs)}; on ${on.count} p50 ${formatUs(on.p50Us)} p99 ${formatUs(on.p99Us)} max ${formatUs(on.maxUs)}; non-2xx ${non2xx} errors ${m.errors} (failed: off ${m.failedBySide[0]}, on ${m.failedBySide[1]})`);
      log(`  mixed on − off: p50 ${mixed.p50DeltaMs >= 0 ? '+' : ''}${mixed.p50DeltaMs.toFixed(2)} ms, p99 ${mixed.p99DeltaMs >= 0 ? '+' : ''}${mixed.p99DeltaMs.toFixed(2)} ms (<= ${TARGET_FEATURE_P99_MS} ms: ${mixed.p99DeltaMs <= TARGET_FEATURE_P99_MS ? 'met' : 'MISSED'})`);

      const pairs: { off: SideCpu; on: SideCpu }[] = [];
      for (let i = 0; i < o.pairs; i++) {
        const cpu: Partial<Record<'off' | 'on', SideCpu>> = {};
        for (const side of i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
          const b = await load(`b${i}s${side}`, keys[side], 1, o.blockSeconds);
          if (!b.cpu) throw new Error('CPU per decision needs /proc (Linux)');
          cpu[side === 1 ? 'on' : 'off'] = { service: b.cpu.msPerRequest.service, postgres: b.cpu.msPerRequest.postgres };
        }
        pairs.push({ off: cpu.off!, on: cpu.on! });
        log(`  block pair ${i + 1}: service ms/decision off ${cpu.off!.service} on ${cpu.on!.service} (${(cpu.on!.service / cpu.off!.service).toFixed(3)}), PostgreSQL off ${cpu.off!.postgres} on ${cpu.on!.postgres}`);
      }
      const serviceRatios = pairs.map((p) => p.on.service / p.off.service);
      const blocks = {
        seconds: o.blockSeconds,
        pairs,
        serviceRatio: median(serviceRatios),
        postgresRatio: median(pairs.map((p) => p.on.postgres / p.off.postgres)),
        serviceRatioRange: [Math.min(...serviceRatios), Math.max(...serviceRatios)] as [number, number],
      };
      log(
        `  blocks on ÷ off, median of ${o.pairs} pairs: service CPU per decision ${blocks.serviceRatio.toFixed(3)} (${blocks.serviceRatioRange.map((r) => r.toFixed(3)).join('–')}; <= ${1 + TARGET_FEATURE_CPU_SHARE}: ${blocks.serviceRatio <= 1 + TARGET_FEATURE_CPU_SHARE ? 'met' : 'MISSED'}), PostgreSQL ${blocks.postgresRatio.toFixed(3)}`,
      );

      const saturatedPairs: { off: SaturatedBlock; on: SaturatedBlock }[] = [];
      const stats = new pg.Client({ connectionString: s.databaseUrl });
      stats.on('error', () => undefined); // a connection lost while idle fails the next read instead of the process
      await stats.connect();
      try {
        for (let i = 0; i < o.pairs; i++) {
          const got: Partial<Record<'off' | 'on', SaturatedBlock>> = {};
          for (const side of i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
            await saturatedLoad(s.port, keys[side], bodies, `${run}sw${i}s${side}`, s.servicePid, s.database, o.connections, 1, log);
            const from = await serverCounters(stats);
            const b = await saturatedLoad(s.port, keys[side], bodies, `${run}s${i}s${side}`, s.servicePid, s.database, o.connections, o.blockSeconds, log);
            const server = serverWork(from, await serverCounters(stats), b.summary.count);
            if (!b.cpu) throw new Error('CPU per decision needs /proc (Linux)');
            got[side === 1 ? 'on' : 'off'] = { service: b.cpu.msPerRequest.service, postgres: b.cpu.msPerRequest.postgres, perSecond: b.summary.perSecond, p99Ms: b.summary.p99Us / 1e3, server };
          }
          const pair = { off: got.off!, on: got.on! };
          saturatedPairs.push(pair);
          log(
            `  saturated pair ${i + 1}: ${Math.round(pair.off.perSecond)} / ${Math.round(pair.on.perSecond)} per s, p99 ${pair.off.p99Ms.toFixed(1)} / ${pair.on.p99Ms.toFixed(1)} ms, service ms/decision ${pair.off.service} / ${pair.on.service} (${(pair.on.service / pair.off.service).toFixed(3)}), PostgreSQL ${pair.off.postgres} / ${pair.on.postgres}`,
          );
          log(`    PostgreSQL pages and WAL per decision: off ${formatServerWork(pair.off.server)}; on ${formatServerWork(pair.on.server)}`);
        }
      } finally {
        await stats.end().catch(() => undefined); // a failure inside the loop is the one to report
      }
      const satRatios = saturatedPairs.map((p) => p.on.service / p.off.service);
      const saturated = {
        seconds: o.blockSeconds,
        pairs: saturatedPairs,
        serviceRatio: median(satRatios),
        serviceRatioRange: [Math.min(...satRatios), Math.max(...satRatios)] as [number, number],
        postgresRatio: median(saturatedPairs.map((p) => p.on.postgres / p.off.postgres)),
        throughputRatio: median(saturatedPairs.map((p) => p.on.perSecond / p.off.perSecond)),
        p99DeltaMs: median(saturatedPairs.map((p) => p.on.p99Ms - p.off.p99Ms)),
      };
      log(
        `  saturated on ÷ off, median of ${o.pairs} pairs: throughput ${saturated.throughputRatio.toFixed(3)}, service CPU per decision ${saturated.serviceRatio.toFixed(3)} (${saturated.serviceRatioRange.map((r) => r.toFixed(3)).join('–')}; <= ${1 + TARGET_FEATURE_CPU_SHARE}: ${saturated.serviceRatio <= 1 + TARGET_FEATURE_CPU_SHARE ? 'met' : 'MISSED'}), PostgreSQL ${saturated.postgresRatio.toFixed(3)}, p99 on − off ${saturated.p99DeltaMs >= 0 ? '+' : ''}${saturated.p99DeltaMs.toFixed(1)} ms`,
      );
      const pagesRead = (side: 'off' | 'on') => median(saturatedPairs.map((p) => p[side].server.blocksRead)).toFixed(2);
      log(`  saturated, pages read into shared buffers per decision (medians): off ${pagesRead('off')}, on ${pagesRead('on')}`);
      return { priorEvents: PRIOR_EVENTS, rate: o.rate, seedSeconds, synchronousCommit: o.synchronousCommit, payouts: o.payouts, mixed, blocks, saturated };
    },
  );
}
