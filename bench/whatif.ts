/**
 * Ledger what-if benchmark (issue 8): simulateLedger in-process on scripts of 1,000 to 10,000 events of several shapes
 * (the quadratic implementation took 0.9 s, 13 s and 86 s on the mixed one), then the built service: one 10,000-event
 * what-if, and four at once while /healthz is polled, with its slowest answer.
 *
 * Standalone: `node dist/bench/whatif.js` after the bench build, with BENCH_WHATIF_DATABASE_URL (a PostgreSQL server URL;
 * default postgres://postgres@127.0.0.1:5432/test) and BENCH_WHATIF_SIZES (default 1000,4000,10000).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OpaRedemptionGate, programFromPack, simulateLedger, type LedgerEvent, type RewardProgram } from '../libs/ledger/index.js';
import { validatePack } from '../libs/rules/index.js';
import { request, withBenchService } from './ledger.js';
import { table } from './stats.js';

export interface WhatIfBenchOptions {
  root: string;
  serverUrl: string;
  sizes: number[];
  log?: (line: string) => void;
}

export interface WhatIfBenchResult {
  inProcess: { shape: string; program: string; events: number; seconds: number }[];
  http: { single10kSeconds: number; fourAtOnceSeconds: number; slowestHealthzMs: number; answerBytes: number } | null;
}

const DAY = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString().replace('.000', '');
const month = (start: number, k: number) => Date.UTC(2000 + Math.floor(k / 12), k % 12, 1) + start;

/** The shapes: an ordinary monthly mix, and three that grew one of the old implementation's quadratic terms. */
export const SHAPES: Record<string, (n: number) => LedgerEvent[]> = {
  /** Monthly: 20 purchases settled, every third partly refunded, every fifth a redemption, then the close. */
  mixed: (n) => {
    const events: LedgerEvent[] = [];
    for (let i = 0, m = 0; events.length < n; i++) {
      const base = month(0, m);
      events.push({ op: 'purchase', transactionId: `t${i}`, amount: 10_000 + i, category: i % 2 ? 'GROCERY' : 'BOOKS', occurredAt: at(base + DAY) });
      events.push({ op: 'settle', transactionId: `t${i}`, settledAt: at(base + 2 * DAY) });
      if (i % 3 === 0) events.push({ op: 'refund', transactionId: `t${i}`, refundId: `r${i}`, amount: 1_000, at: at(base + 3 * DAY) });
      if (i % 5 === 0) events.push({ op: 'redeem', redemptionId: `d${i}`, amount: 10, at: at(base + 26 * DAY) });
      if (i % 20 === 19) events.push({ op: 'close', periodEnd: at(month(0, ++m)) });
    }
    return events.slice(0, n);
  },
  /** One purchase, then a close per month: the closed periods grow with every event. */
  closes: (n) => [
    { op: 'purchase', transactionId: 't', amount: 1000, category: 'GROCERY', occurredAt: at(month(0, 0) + DAY) },
    ...Array.from({ length: n - 1 }, (_, k): LedgerEvent => ({ op: 'close', periodEnd: at(month(0, k + 1)) })),
  ],
  /** A purchase settled in a new month each time: the per-period cap usage grows with every reward. */
  periods: (n) =>
    Array.from({ length: n }, (_, i): LedgerEvent =>
      i % 2 === 0
        ? { op: 'purchase', transactionId: `t${i >> 1}`, amount: 1000, category: 'GROCERY', occurredAt: at(Date.UTC(1900, i >> 1, 2)) }
        : { op: 'settle', transactionId: `t${i >> 1}`, settledAt: at(Date.UTC(1900, i >> 1, 3)) },
    ),
  /** Refunds dated far ahead wait through every close (statement clawback): each close had to pass all of them. */
  deferred: (n) => {
    const third = Math.floor(n / 3);
    const events: LedgerEvent[] = [];
    for (let k = 0; k < third; k++) {
      events.push({ op: 'purchase', transactionId: `t${k}`, amount: 1000, category: 'GROCERY', occurredAt: at(month(0, 0) + DAY) });
      events.push({ op: 'settle', transactionId: `t${k}`, settledAt: at(month(0, 0) + 2 * DAY) });
    }
    events.push({ op: 'close', periodEnd: at(month(0, 1)) });
    for (let k = 0; events.length < n && k < third; k++) events.push({ op: 'refund', transactionId: `t${k}`, refundId: `r${k}`, amount: 10, at: at(Date.UTC(9000, 0, 2)) });
    for (let k = 2; events.length < n; k++) events.push({ op: 'close', periodEnd: at(month(0, k)) });
    return events;
  },
};

async function program(root: string, name: string): Promise<RewardProgram> {
  return programFromPack(validatePack(JSON.parse(await readFile(join(root, 'rule-packs', name, '1.0.0.json'), 'utf8'))));
}

export async function runWhatIfInProcess(root: string, sizes: number[]): Promise<WhatIfBenchResult['inProcess']> {
  const gate = await OpaRedemptionGate.load(await readFile(join(root, 'policies/bundles/redemption-gate/1.0.0.tar.gz')));
  const rows: WhatIfBenchResult['inProcess'] = [];
  const runs: [string, string][] = [
    ['mixed', 'cashback-default'],
    ['mixed', 'issuer-d'],
    ['closes', 'issuer-d'],
    ['periods', 'cashback-default'],
    ['deferred', 'issuer-d'],
  ];
  for (const [shape, name] of runs) {
    const p = await program(root, name);
    await simulateLedger(p, SHAPES[shape]!(200), gate); // warm-up (validators compiled, code optimised)
    for (const n of sizes) {
      const events = SHAPES[shape]!(n);
      const t0 = performance.now();
      await simulateLedger(p, events, gate);
      rows.push({ shape, program: name, events: n, seconds: (performance.now() - t0) / 1000 });
    }
  }
  return rows;
}

export async function runWhatIfHttp(o: WhatIfBenchOptions): Promise<WhatIfBenchResult['http']> {
  return withBenchService(o, 'whatif', 16, ['author'], async ({ agent, port, key }) => {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const pack = JSON.parse(await readFile(join(o.root, 'rule-packs/issuer-d/1.0.0.json'), 'utf8')) as unknown;
    const whatIf = async (n: number) => {
      const r = await request(agent, port, 'POST', '/v1/simulations/ledger', headers, JSON.stringify({ program: pack, events: SHAPES.mixed!(n) }));
      if (r.status !== 200) throw new Error(`what-if answered ${r.status}: ${r.body.slice(0, 300)}`);
      return r.body.length;
    };
    await whatIf(200); // warm-up
    let t0 = performance.now();
    const answerBytes = await whatIf(10_000);
    const single10kSeconds = (performance.now() - t0) / 1000;

    let polling = true;
    let slowestHealthzMs = 0;
    const probe = (async () => {
      while (polling) {
        const s = performance.now();
        await request(agent, port, 'GET', '/healthz', {});
        slowestHealthzMs = Math.max(slowestHealthzMs, performance.now() - s);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    t0 = performance.now();
    await Promise.all(Array.from({ length: 4 }, () => whatIf(10_000)));
    const fourAtOnceSeconds = (performance.now() - t0) / 1000;
    polling = false;
    await probe;
    return { single10kSeconds, fourAtOnceSeconds, slowestHealthzMs, answerBytes };
  });
}

export async function runWhatIfBench(o: WhatIfBenchOptions): Promise<WhatIfBenchResult> {
  const log = o.log ?? console.log;
  const inProcess = await runWhatIfInProcess(o.root, o.sizes);
  log('\nLedger what-if, in-process (simulateLedger, warm)');
  log(table(['shape', 'program', 'events', 'seconds', 'µs/event'], inProcess.map((r) => [r.shape, r.program, String(r.events), r.seconds.toFixed(3), ((r.seconds * 1e6) / r.events).toFixed(0)])));
  const httpRow = await runWhatIfHttp(o);
  if (httpRow) {
    log(
      `\nLedger what-if over HTTP (10,000 events, ${(httpRow.answerBytes / 1e6).toFixed(1)} MB answer): ${httpRow.single10kSeconds.toFixed(2)} s alone, ` +
        `four at once ${httpRow.fourAtOnceSeconds.toFixed(2)} s with the slowest /healthz meanwhile ${httpRow.slowestHealthzMs.toFixed(0)} ms`,
    );
  }
  return { inProcess, http: httpRow };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
  await runWhatIfBench({
    root,
    serverUrl: process.env.BENCH_WHATIF_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    sizes: (process.env.BENCH_WHATIF_SIZES ?? '1000,4000,10000').split(',').map(Number),
  });
}
