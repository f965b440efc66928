/**
 * What a transaction's separate BEGIN round trip costs (libs/persistence/pipelined-begin.ts): the same short
 * transaction (BEGIN, two selects with parameters, COMMIT) through the product's database layer (MikroORM, Kysely, the
 * named statements), with the BEGIN on its own (DB_PIPELINE_BEGIN=false) and sent with the first select, on 4 lanes
 * over a pool of 4. Rounds alternate the order; the first round warms up both. Client CPU per transaction and
 * transactions per second, each round, then the medians of the rest.
 *
 * Standalone, on a throwaway database of the server BENCH_DATABASE_URL names (default the local test server):
 * `node dist/bench/begin-pipeline.js` after `npm run bench` compiled it (or `swc bench -d dist`).
 */
import { runIfMain } from './stats.js';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../libs/persistence/index.js';

const LANES = 4;

interface Side {
  perSecond: number;
  cpuUsPerTransaction: number;
}

async function measure(url: string, pipelineBegin: boolean, transactions: number): Promise<Side> {
  const db = await openDatabase(url, { poolSize: LANES, pipelineBegin, migrate: false });
  try {
    const work = (i: number) =>
      db.em().transactional(async (em) => {
        const k = em.getKysely();
        await sql`select ${i}::int as a`.execute(k);
        await sql`select ${i}::int + 1 as b`.execute(k);
      });
    for (let i = 0; i < 500; i++) await work(i);
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: LANES }, async () => { while (next < transactions) await work(next++); }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    return { perSecond: transactions / seconds, cpuUsPerTransaction: (used.user + used.system) / transactions };
  } finally {
    await db.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runBeginPipeline(o: { serverUrl: string; rounds: number; transactions: number; log: (line: string) => void }): Promise<void> {
  const name = `dp_begin_${process.pid}`;
  const admin = new pg.Client({ connectionString: o.serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(o.serverUrl);
  url.pathname = `/${name}`;
  const sides: Record<'separate' | 'pipelined', Side[]> = { separate: [], pipelined: [] };
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const pipelined of round % 2 ? [true, false] : [false, true]) {
        const s = await measure(url.toString(), pipelined, o.transactions);
        if (round > 0) sides[pipelined ? 'pipelined' : 'separate'].push(s);
        o.log(`  round ${round + 1}${round === 0 ? ' (warm-up)' : ''}, BEGIN ${pipelined ? 'with the first statement' : 'on its own'}: ${Math.round(s.perSecond)} transactions/s, ${s.cpuUsPerTransaction.toFixed(0)} µs client CPU each`);
      }
    }
  } finally {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
  const m = (k: 'separate' | 'pipelined') => ({ perSecond: median(sides[k].map((s) => s.perSecond)), cpu: median(sides[k].map((s) => s.cpuUsPerTransaction)) });
  const sep = m('separate');
  const pip = m('pipelined');
  o.log(`medians: on its own ${Math.round(sep.perSecond)}/s ${sep.cpu.toFixed(0)} µs; with the first statement ${Math.round(pip.perSecond)}/s ${pip.cpu.toFixed(0)} µs; throughput ${(pip.perSecond / sep.perSecond).toFixed(2)}×, client CPU ${(pip.cpu / sep.cpu).toFixed(2)}×`);
}

runIfMain(import.meta.url, () =>
  runBeginPipeline({
    serverUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    rounds: Number(process.env.BENCH_BEGIN_ROUNDS ?? 7),
    transactions: Number(process.env.BENCH_BEGIN_TRANSACTIONS ?? 5_000),
    log: (line) => console.log(line),
  }),
);
