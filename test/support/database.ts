/**
 * A throwaway database per test file: a fresh PostgreSQL database on TEST_DATABASE_URL's server when it is set (by the
 * caller, or by global-setup.ts pointing it at the container Testcontainers started for the run), otherwise an in-memory
 * PGlite.
 */
import pg from 'pg';

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
