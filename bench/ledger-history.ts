/**
 * A ledger write's cost as the account's history grows (issue 11, the ledger's write path): one account of the
 * cashback-default program on a throwaway PostgreSQL database, purchases settled one by one through the in-process
 * `Ledger` over the PostgreSQL store, each settle timed; the median of the last 50 settles before each history size.
 *
 *   node dist/bench/ledger-history.js [tree]
 *
 * `tree` (default: this one) is a built checkout whose dist/libs are measured, so a baseline worktree can be timed with
 * the same script. BENCH_LEDGER_DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const SIZES = [10, 100, 500, 2_000];
const SAMPLE = 50;

interface Libs {
  ledger: Record<string, any>; // another tree's build, loaded by path
  persistence: Record<string, any>;
  rules: Record<string, any>;
}

export async function ledgerHistoryBench(tree: string, serverUrl: string): Promise<{ transactions: number; settleMedianMs: number }[]> {
  const load = (lib: string) => import(pathToFileURL(join(tree, 'dist/libs', lib, 'index.js')).href) as Promise<Record<string, any>>;
  const libs: Libs = { ledger: await load('ledger'), persistence: await load('persistence'), rules: await load('rules') };
  const name = `bench_ledger_history_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = await libs.persistence.openDatabase(url.toString());
  try {
    const pack = libs.rules.validatePack(JSON.parse(readFileSync(join(tree, 'rule-packs/cashback-default/1.0.0.json'), 'utf8')));
    const gate = await libs.ledger.OpaRedemptionGate.load(readFileSync(join(tree, 'policies/bundles/redemption-gate/1.0.0.tar.gz')));
    const store = new libs.persistence.PgLedgerStore(db.em(), new libs.persistence.OutboxRepository());
    const ledger = new libs.ledger.Ledger(store, new libs.ledger.StaticProgramResolver([libs.ledger.programFromPack(pack)]), gate);
    await ledger.openAccount('bench', 'a', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    // One purchase an hour from 2024-01-01: 2,000 of them span three billing periods.
    const at = (i: number) => new Date(Date.parse('2024-01-01T00:00:00Z') + i * 3_600_000).toISOString();
    let n = 0;
    const settleOne = async (): Promise<number> => {
      const id = `t${n}`;
      await ledger.recordPurchase('bench', 'a', { transactionId: id, amount: 1_000 + (n % 97), category: 'GROCERY', occurredAt: at(n) });
      const started = performance.now();
      await ledger.settle('bench', id, { settledAt: at(n) });
      n++;
      return performance.now() - started;
    };
    const rows: { transactions: number; settleMedianMs: number }[] = [];
    for (const size of SIZES) {
      while (n < size - SAMPLE) await settleOne();
      const times: number[] = [];
      while (n < size) times.push(await settleOne());
      times.sort((a, b) => a - b);
      rows.push({ transactions: size, settleMedianMs: times[times.length >> 1]! });
    }
    return rows;
  } finally {
    await db.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tree = process.argv[2] ?? join(fileURLToPath(new URL('.', import.meta.url)), '../..');
  const rows = await ledgerHistoryBench(tree, process.env.BENCH_LEDGER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  console.log(`Ledger settle vs the account's history (${tree}): ${rows.map((r) => `${r.transactions} transactions ${r.settleMedianMs.toFixed(2)} ms`).join(', ')}`);
}
