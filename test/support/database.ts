/**
 * A throwaway database per test file: a fresh PostgreSQL database on TEST_DATABASE_URL's server when it is set (by the
 * caller, or by global-setup.ts pointing it at the container Testcontainers started for the run), otherwise an in-memory
 * PGlite.
 */
import pg from 'pg';
import type { Database } from '../../libs/persistence/database.js';
import { withParameters } from '../../libs/persistence/statement-parameters.js';

export interface TestDatabase {
  url: string;
  kind: 'postgresql' | 'pglite';
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) return { url: 'pglite://memory', kind: 'pglite', drop: async () => {} };
  const name = `dp_e2e_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'postgresql',
    drop: async () => {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

/**
 * EXPLAIN of `text` (with `?` placeholders) for these text arguments, planned as the service plans a statement marked
 * GENERIC_INDEX_PLAN once a connection has named it: a generic plan, with sequential and bitmap scans off.
 */
export async function genericIndexPlan(db: Database, text: string, args: readonly string[]): Promise<string> {
  const literal = (a: string) => `'${a.replaceAll("'", "''")}'`;
  return db.em().transactional(async (em) => {
    for (const set of ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_bitmapscan = off']) await em.execute(`set local ${set}`);
    await em.execute(`prepare generic_index_probe (${args.map(() => 'text').join(', ')}) as ${withParameters(text, args).sql}`);
    const rows = await em.execute<Record<string, string>[]>(`explain execute generic_index_probe(${args.map(literal).join(', ')})`);
    await em.execute('deallocate generic_index_probe');
    return rows.map((r) => Object.values(r)[0]).join('\n');
  });
}
