/**
 * Review queue benchmark (issue 9): `GET /v1/reviews` latency with 100,000 open items (plus closed ones) in one
 * tenant, inserted with SQL. Rows: the first page, deep pages (following nextCursor), the first page with 16 requests
 * at once, and filters (overdue, an amount range, a selective amount that matches few items). Target: p99 <= 50 ms.
 *
 * Standalone: `node dist/bench/review-queue.js` after the bench build, with BENCH_REVIEWS_DATABASE_URL (a PostgreSQL
 * server URL; default postgres://postgres@127.0.0.1:5432/test), BENCH_REVIEWS_OPEN (100000), BENCH_REVIEWS_REQUESTS (2000).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { request, withBenchService } from './ledger.js';
import { formatUs, summarise, table } from './stats.js';

export interface ReviewQueueBenchOptions {
  root: string;
  serverUrl: string;
  open: number;
  requests: number;
  log?: (line: string) => void;
}

export interface ReviewQueueRow {
  name: string;
  count: number;
  concurrency: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  items: number;
}

export interface ReviewQueueBenchResult {
  open: number;
  closed: number;
  rows: ReviewQueueRow[];
  targetP99Ms: number;
}

const TARGET_P99_MS = 50;

/** Open items with deadlines spread over the next days (a tenth already past), amounts 1.00–10,000.00; closed ones besides. */
async function seed(databaseUrl: string, open: number): Promise<number> {
  const closed = Math.round(open / 10);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(
      `insert into reviews (id, tenant, type, decision_id, refund_id, amount, currency, state, deadline, lease_minutes, required_approvals, requested_by, created_at)
       select gen_random_uuid(), 'bench', 'refund', gen_random_uuid(), 'rf-' || i, 100 + (i * 7919) % 1000000, 'EUR',
              case when i <= $1::int then 'OPEN' else (array['APPROVED','DENIED','CANCELED'])[1 + i % 3] end,
              now() + ((i % $1::int) - $1::int / 10) * interval '7 seconds', 15, 1 + (i % 5 = 0)::int, 'svc', now()
         from generate_series(1, $1::int + $2::int) i`,
      [open, closed],
    );
    await db.query('analyze reviews');
  } finally {
    await db.end();
  }
  return closed;
}

export async function runReviewQueueBench(o: ReviewQueueBenchOptions): Promise<ReviewQueueBenchResult> {
  const log = o.log ?? console.log;
  return withBenchService(o, 'reviews', 16, ['reviewer'], async ({ agent, port, key, databaseUrl }) => {
    const closed = await seed(databaseUrl, o.open);
    const headers = { authorization: `Bearer ${key}` };
    const get = async (path: string) => {
      const r = await request(agent, port, 'GET', path, headers);
      if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${r.body.slice(0, 300)}`);
      return JSON.parse(r.body) as { items: unknown[]; nextCursor: string | null };
    };
    const rows: ReviewQueueRow[] = [];
    /** `n` requests, `concurrency` at a time; `next(i, prev)` gives each request's path. */
    const measure = async (name: string, concurrency: number, path: (i: number) => Promise<string> | string) => {
      for (let i = 0; i < 50; i++) await get(await path(i)); // warm-up
      const lat: number[] = [];
      let items = 0;
      let i = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (i < o.requests) {
            const p = await path(i++);
            const s = process.hrtime.bigint();
            const page = await get(p);
            lat.push(Number(process.hrtime.bigint() - s));
            items += page.items.length;
          }
        }),
      );
      const s = summarise(Float64Array.from(lat), Number(process.hrtime.bigint() - t0));
      rows.push({ name, count: lat.length, concurrency, p50Us: s.p50Us, p99Us: s.p99Us, maxUs: s.maxUs, items: Math.round(items / lat.length) });
    };
    await measure('first page (limit 50)', 1, () => '/v1/reviews');
    // Deep pages: walk the open part 500 items at a time, restarting when it runs out.
    let cursor: string | null = null;
    await measure('next pages by cursor (limit 50)', 1, async () => {
      const path = `/v1/reviews?limit=50${cursor ? `&cursor=${cursor}` : ''}`;
      cursor = (await get(`/v1/reviews?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).nextCursor;
      return path;
    });
    await measure('first page (limit 50), 16 at once', 16, () => '/v1/reviews');
    await measure('first page, limit 500', 1, () => '/v1/reviews?limit=500');
    await measure('overdue=true', 1, () => '/v1/reviews?overdue=true');
    await measure('minAmount=500000&maxAmount=600000', 1, () => '/v1/reviews?minAmount=500000&maxAmount=600000');
    await measure('state=DENIED', 1, () => '/v1/reviews?state=DENIED');
    await measure('selective: maxAmount=150 (few matches, scans the open part)', 1, () => '/v1/reviews?state=OPEN&maxAmount=150');
    log(`\nReview queue: GET /v1/reviews on PostgreSQL with ${o.open.toLocaleString('en-US')} open and ${closed.toLocaleString('en-US')} closed items (target p99 <= ${TARGET_P99_MS} ms)`);
    log(
      table(
        ['request', 'concurrency', 'requests', 'items/page', 'p50', 'p99', 'max', 'target'],
        rows.map((r) => [r.name, String(r.concurrency), String(r.count), String(r.items), formatUs(r.p50Us), formatUs(r.p99Us), formatUs(r.maxUs), r.p99Us / 1e3 <= TARGET_P99_MS ? 'met' : 'MISSED']),
      ),
    );
    return { open: o.open, closed, rows, targetP99Ms: TARGET_P99_MS };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
  await runReviewQueueBench({
    root,
    serverUrl: process.env.BENCH_REVIEWS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    open: Number(process.env.BENCH_REVIEWS_OPEN ?? 100_000),
    requests: Number(process.env.BENCH_REVIEWS_REQUESTS ?? 2_000),
  });
}
