/**
 * Console benchmark (issue 13): the initial JavaScript the console ships (raw, gzip, brotli: the build writes both next
 * to each asset) against the 300 KB target, and how long its pages take to show their content in Debian's Chromium
 * with 100,000 stored decisions in one tenant — anchored on the bare API call the page makes (a ratio: what the console
 * adds to the API on this machine, whatever its speed today).
 *
 * The decisions: 300 decided through the API (real documents, traces, reasons), then multiplied with SQL to N (new
 * UUIDv7-shaped ids spread over the last 30 days, the document's id rewritten to match); review items come from the
 * REVIEW ones the API opened. `BENCH_ONLY=console`; standalone: `node dist/bench/console.js` after the bench build.
 * BENCH_CONSOLE_DECISIONS (100000), BENCH_CONSOLE_LOADS (10 per page and mode), BENCH_DATABASE_URL.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { request, withBenchService } from './ledger.js';
import { table } from './stats.js';

export interface AssetSize {
  file: string;
  raw: number;
  gzip: number;
  brotli: number;
}

/** The scripts and styles index.html loads before anything renders (entry script, modulepreloads, stylesheets). */
export function initialAssets(indexHtml: string): string[] {
  const refs = [...indexHtml.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  return [...new Set(refs)];
}

export function assetSizes(distConsole: string): { initial: AssetSize[]; initialJs: AssetSize; allJs: AssetSize } {
  const html = readFileSync(join(distConsole, 'index.html'), 'utf8');
  const size = (f: string) => (p: string) => {
    try {
      return statSync(join(distConsole, p.replace(/^\/console\//, '') + f)).size;
    } catch {
      return NaN;
    }
  };
  const initial = initialAssets(html).map((p) => ({ file: p, raw: size('')(p), gzip: size('.gz')(p), brotli: size('.br')(p) }));
  const sum = (xs: AssetSize[], file: string) => xs.reduce((a, x) => ({ file, raw: a.raw + x.raw, gzip: a.gzip + x.gzip, brotli: a.brotli + x.brotli }), { file, raw: 0, gzip: 0, brotli: 0 });
  const every = readdirSync(join(distConsole, 'assets'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => `assets/${f}`)
    .map((p) => ({ file: p, raw: size('')(p), gzip: size('.gz')(p), brotli: size('.br')(p) }));
  return { initial, initialJs: sum(initial.filter((a) => a.file.endsWith('.js')), 'initial JavaScript'), allJs: sum(every, 'all JavaScript (lazy chunks too)') };
}

export interface PageTiming {
  page: string;
  mode: 'cold' | 'warm';
  loads: number;
  p50Ms: number;
  p95Ms: number;
}

export interface ConsoleBenchResult {
  decisions: number;
  assets: ReturnType<typeof assetSizes>;
  targetInitialJsKb: number;
  pages: PageTiming[];
  anchor: { call: string; p50Ms: number };
}

const TARGET_KB = 300;

/** As test/support/browser.ts launches it (the bench build compiles bench/ only). */
const launchBrowser = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function multiply(databaseUrl: string, tenant: string, total: number): Promise<number> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const [{ n }] = (await db.query<{ n: string }>('select count(*) as n from decisions where tenant = $1', [tenant])).rows as [{ n: string }];
    const have = Number(n);
    const copies = Math.ceil((total - have) / have);
    // Each copy: a new time (spread over 30 days before now), a UUIDv7-shaped id from it, the document's id and createdAt rewritten.
    await db.query(
      `insert into decisions (id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, idempotency_key, evaluated_at, created_at, actor_id, actor_role)
       select x.id, d.tenant, d.domain, d.outcome, d.risk_score, d.release_name, d.release_version, d.components, d.case_data,
              jsonb_set(jsonb_set(d.document::jsonb, '{id}', to_jsonb(x.id::text)), '{createdAt}', to_jsonb(x.at_text))::json,
              null, t.at, t.at, d.actor_id, d.actor_role
         from decisions d
         cross join generate_series(1, $2::int) c
         cross join lateral (
           -- Naming the outer row makes PostgreSQL draw random() per row (an uncorrelated subquery runs once).
           select now() - (random() * interval '30 days') + (c * 0 + length(d.id::text) * 0) * interval '1 second' as at
         ) t
         cross join lateral (
           select (lpad(to_hex((extract(epoch from t.at) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid as id,
                  to_char(t.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at_text
         ) x
        where d.tenant = $1 and d.idempotency_key is not null
        limit $3::int`,
      [tenant, copies, total - have],
    );
    await db.query('analyze decisions');
    const [{ m }] = (await db.query<{ m: string }>('select count(*) as m from decisions where tenant = $1', [tenant])).rows as [{ m: string }];
    return Number(m);
  } finally {
    await db.end();
  }
}

export async function runConsoleBench(o: { root: string; serverUrl: string; decisions: number; loads: number; log?: (l: string) => void }): Promise<ConsoleBenchResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const assets = assetSizes(join(o.root, 'dist/console'));
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  log(
    table(
      ['initial asset', 'raw', 'gzip', 'brotli'],
      [...assets.initial, assets.initialJs, assets.allJs].map((a) => [a.file, kb(a.raw), kb(a.gzip), kb(a.brotli)]),
    ),
  );
  log(`  initial JavaScript ${kb(assets.initialJs.gzip)} gzip / ${kb(assets.initialJs.brotli)} brotli — target <= ${TARGET_KB} KB compressed: ${assets.initialJs.gzip <= TARGET_KB * 1024 ? 'met' : 'MISSED'}`);

  return withBenchService(o, 'console', 8, ['service', 'auditor', 'reviewer'], async ({ agent, port, key, databaseUrl }) => {
    const cases = JSON.parse(readFileSync(join(o.root, 'docs/examples/refund-cases.json'), 'utf8')) as Record<string, unknown>[];
    const run = Date.now().toString(36);
    for (let i = 0; i < 300; i++) {
      const c = { ...cases[i % cases.length]!, refundId: `rf-${run}-${i}`, orderId: `ord-${run}-${i}`, customerId: `cus-${run}-${i % 97}` };
      const r = await request(agent, port, 'POST', '/v1/decisions/refund', { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `bench-${run}-${i}` }, JSON.stringify({ case: c }));
      if (r.status !== 201) throw new Error(`seed decision ${r.status} ${r.body}`);
    }
    const decisions = await multiply(databaseUrl, 'bench', o.decisions);
    log(`  ${decisions.toLocaleString('en')} stored decisions in tenant bench`);

    // The anchor: the API call behind the decision list, from this process, keep-alive.
    const anchor: number[] = [];
    for (let i = 0; i < 30; i++) {
      const s = performance.now();
      await request(agent, port, 'GET', '/v1/decisions?limit=50', { authorization: `Bearer ${key}` });
      anchor.push(performance.now() - s);
    }
    const one = JSON.parse((await request(agent, port, 'GET', '/v1/decisions?limit=1', { authorization: `Bearer ${key}` })).body) as { items: { id: string }[] };
    const who = JSON.parse((await request(agent, port, 'GET', '/v1/session', { authorization: `Bearer ${key}` })).body) as Record<string, unknown>;

    const base = `http://127.0.0.1:${port}/console/`;
    const pages: [string, string, string][] = [
      ['sign-in', '', '#api-key'],
      ['decisions', '#/decisions', 'tbody tr'],
      ['decision', `#/decisions/${one.items[0]!.id}`, 'text=Why this decision'],
      ['reviews', '#/reviews', 'tbody tr'],
      ['audit', '#/audit', 'tbody tr'],
    ];
    const browser: Browser = await launchBrowser();
    const timings: PageTiming[] = [];
    try {
      for (const [name, hash, ready] of pages) {
        for (const mode of ['cold', 'warm'] as const) {
          const ms: number[] = [];
          const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
          if (name !== 'sign-in') {
            // Signed in as the console keeps it: the session in this tab's storage.
            await context.addInitScript(`sessionStorage.setItem('decision-console.session', ${JSON.stringify(JSON.stringify({ key, ...who }))})`);
          }
          const page = await context.newPage();
          if (mode === 'warm') await page.goto(base + hash).then(() => page.locator(ready).first().waitFor());
          for (let i = 0; i < o.loads; i++) {
            if (mode === 'cold') await context.clearCookies();
            const cdp = mode === 'cold' ? await context.newCDPSession(page) : undefined;
            await cdp?.send('Network.clearBrowserCache');
            await page.goto('about:blank');
            const s = performance.now();
            await page.goto(base + hash);
            await page.locator(ready).first().waitFor();
            ms.push(performance.now() - s);
            await cdp?.detach();
          }
          await context.close();
          timings.push({ page: name, mode, loads: ms.length, p50Ms: pct(ms, 50), p95Ms: pct(ms, 95) });
        }
      }
    } finally {
      await browser.close();
    }
    const anchorP50 = pct(anchor, 50);
    log(
      table(
        ['page', 'cache', 'loads', 'p50', 'p95', 'p50 ÷ API call'],
        timings.map((t) => [t.page, t.mode, String(t.loads), `${t.p50Ms.toFixed(0)} ms`, `${t.p95Ms.toFixed(0)} ms`, (t.p50Ms / anchorP50).toFixed(1)]),
      ),
    );
    log(`  anchor GET /v1/decisions?limit=50 p50 ${anchorP50.toFixed(1)} ms; target: every page < 1,000 ms: ${timings.every((t) => t.p95Ms < 1000) ? 'met (p95)' : 'MISSED'}`);
    return { decisions, assets, targetInitialJsKb: TARGET_KB, pages: timings, anchor: { call: 'GET /v1/decisions?limit=50', p50Ms: anchorP50 } };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  await runConsoleBench({
    root,
    serverUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    decisions: Number(process.env.BENCH_CONSOLE_DECISIONS ?? 100_000),
    loads: Number(process.env.BENCH_CONSOLE_LOADS ?? 10),
  });
}
