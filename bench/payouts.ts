/**
 * Payout execution benchmark (issue 9): APPROVED refunds executed per second by the built service's worker through
 * the simulated provider (no latency), on PostgreSQL. The refunds are inserted APPROVED in one statement (as decisions
 * and reviewers would leave them, without their entry transition rows); the clock runs from that commit until the
 * last one is SUCCEEDED. Two rows: plain refunds, and refunds carrying a reward reference, so each SUCCEEDED also posts
 * its ledger clawback (spread over 50 reward accounts).
 *
 * Standalone: `node dist/bench/payouts.js` after the bench build; BENCH_DATABASE_URL (a PostgreSQL server URL),
 * BENCH_PAYOUT_REFUNDS (default 5000), BENCH_PAYOUT_CONCURRENCY (default 32).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { request, withBenchService } from './ledger.js';

export interface PayoutBenchOptions {
  root: string;
  serverUrl: string;
  refunds: number;
  concurrency: number;
  log?: (line: string) => void;
}

export interface PayoutBenchRow {
  name: string;
  refunds: number;
  seconds: number;
  perSecond: number;
  /** CPU the service process spent per refund (user + system), in ms: what the rate would be on a machine of its own. */
  serviceCpuMsPerRefund: number | null;
  /** CPU PostgreSQL's backends serving the service spent per refund, in ms. */
  postgresCpuMsPerRefund: number | null;
  /** Cores everything else kept busy meanwhile (the machine is shared): neither the service nor its backends. */
  othersCores: number | null;
}

/** CPU ms of every backend connected to the bench database, by pid (a backend that appears later starts from 0). */
async function backendsCpu(db: pg.Client, dbName: string): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName]);
  const out = new Map<number, number>();
  for (const r of rows) {
    const ms = cpuMs(r.pid);
    if (ms !== null) out.set(r.pid, ms);
  }
  return out;
}

function spent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** utime + stime of a process, in ms (Linux /proc; null elsewhere). */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return null;
  }
}

/** Busy ms of the whole machine (all cores) from /proc/stat. */
function machineBusyMs(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * 1000) / 100;
  } catch {
    return null;
  }
}

const ACCOUNTS = 50;

async function run(o: PayoutBenchOptions, withReward: boolean): Promise<PayoutBenchRow> {
  const env = { PAYMENT_PROVIDER: 'simulated', SIMULATED_PROVIDER_LATENCY_MS: '0', PAYOUT_CONCURRENCY: String(o.concurrency), PAYOUT_POLL_MS: '20' };
  const label = withReward ? 'payouts_claw' : 'payouts';
  return withBenchService({ serverUrl: o.serverUrl, root: o.root, env }, label, 8, ['service'], async ({ agent, port, key, databaseUrl, pid }) => {
    const send = async (method: string, path: string, body: unknown, idem?: string) => {
      const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      if (idem) headers['idempotency-key'] = idem;
      const r = await request(agent, port, method, path, headers, JSON.stringify(body));
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    };
    if (withReward) {
      // One settled purchase per account, large enough for every refund that claws back from it.
      for (let a = 0; a < ACCOUNTS; a++) {
        await send('PUT', `/v1/ledger/accounts/acc-${a}`, { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
        await send('POST', `/v1/ledger/accounts/acc-${a}/transactions`, { transactionId: `tx-${a}`, amount: 100_000_000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' }, `p-${a}`);
        await send('POST', `/v1/ledger/transactions/tx-${a}/settle`, { settledAt: '2026-11-03T10:00:00Z' }, `s-${a}`);
      }
    }
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const started = performance.now();
      const dbName = new URL(databaseUrl).pathname.slice(1);
      const pg0 = await backendsCpu(db, dbName);
      const cpu0 = cpuMs(pid);
      const busy0 = machineBusyMs();
      await db.query(
        `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount,
                              currency, reward, requested_by, decision_id, created_at, updated_at)
         select 'bench', 'rf-' || i, 'refund', 'order-' || i, 'cust', 'APPROVED', 1000 + i % 100, 1000 + i % 100, 5000, 'EUR',
                case when $2 then jsonb_build_object('accountId', 'acc-' || (i % ${ACCOUNTS}), 'transactionId', 'tx-' || (i % ${ACCOUNTS})) end,
                'bench', gen_random_uuid(), now(), now()
           from generate_series(1, $1::int) i`,
        [o.refunds, withReward],
      );
      for (;;) {
        const { rows } = await db.query<{ done: string; other: string }>(
          "select count(*) filter (where state = 'SUCCEEDED')::text as done, count(*) filter (where state not in ('APPROVED', 'PROCESSING', 'SUCCEEDED'))::text as other from refunds",
        );
        if (Number(rows[0]!.other) > 0) throw new Error(`${rows[0]!.other} refunds ended neither SUCCEEDED nor in execution`);
        if (Number(rows[0]!.done) === o.refunds) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu1 = cpuMs(pid);
      const busy1 = machineBusyMs();
      const pgMs = spent(pg0, await backendsCpu(db, dbName));
      const serviceCpuMsPerRefund = cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / o.refunds : null;
      const postgresCpuMsPerRefund = pg0.size > 0 || pgMs > 0 ? pgMs / o.refunds : null;
      const othersCores =
        busy0 !== null && busy1 !== null && cpu0 !== null && cpu1 !== null ? Math.max(0, busy1 - busy0 - (cpu1 - cpu0) - pgMs) / 1000 / seconds : null;
      if (withReward) {
        const { rows } = await db.query<{ n: string }>("select count(*)::text as n from refunds where clawback->>'status' = 'posted'");
        if (Number(rows[0]!.n) !== o.refunds) throw new Error(`only ${rows[0]!.n} of ${o.refunds} clawbacks posted`);
      }
      const row = {
        name: withReward ? 'payouts with ledger clawback' : 'payouts',
        refunds: o.refunds,
        seconds,
        perSecond: o.refunds / seconds,
        serviceCpuMsPerRefund,
        postgresCpuMsPerRefund,
        othersCores,
      };
      o.log?.(
        `  ${row.name}: ${row.refunds} refunds APPROVED → SUCCEEDED in ${seconds.toFixed(2)} s = ${row.perSecond.toFixed(0)}/s (concurrency ${o.concurrency}); ` +
          `CPU per refund: service ${serviceCpuMsPerRefund?.toFixed(2) ?? '?'} ms, PostgreSQL ${postgresCpuMsPerRefund?.toFixed(2) ?? '?'} ms; other processes ${othersCores?.toFixed(2) ?? '?'} cores busy`,
      );
      return row;
    } finally {
      await db.end();
    }
  });
}

export async function runPayoutBench(o: PayoutBenchOptions): Promise<PayoutBenchRow[]> {
  o.log?.(`\nPayout execution, simulated provider (no latency), PostgreSQL, ${o.refunds} refunds per row`);
  return [await run(o, false), await run(o, true)];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runPayoutBench({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    serverUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    refunds: Number(process.env.BENCH_PAYOUT_REFUNDS ?? 5000),
    concurrency: Number(process.env.BENCH_PAYOUT_CONCURRENCY ?? 32),
    log: (l) => console.log(l),
  });
  console.log(JSON.stringify(rows));
}
