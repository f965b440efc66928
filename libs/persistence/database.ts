/** Opens the store named by a DATABASE_URL (PostgreSQL server or embedded PGlite) and applies migrations. */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM as PgliteMikroORM } from '@mikro-orm/pglite';
import { MikroORM as PostgresMikroORM } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DomainError } from '../errors/index.js';
import { entities } from './entities.js';
import { migrationsList } from './migrations/index.js';

export type StoreKind = 'postgresql' | 'pglite';

export interface DatabaseOptions {
  /** Apply pending migrations on open (the service does; tools that only read may not). */
  migrate?: boolean;
  /** Connection pool size for PostgreSQL (PGlite is a single connection). */
  poolSize?: number;
  debug?: boolean;
}

export interface Database {
  readonly kind: StoreKind;
  readonly orm: MikroORM;
  /** A fresh EntityManager; callers fork per unit of work so identity maps never leak across requests. */
  em(): SqlEntityManager;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Parses `postgres://…`, `postgresql://…`, `pglite://memory` or `pglite://<dir>`. */
export function parseDatabaseUrl(url: string): { kind: StoreKind; target: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgresql', target: url };
  if (url.startsWith('pglite://')) {
    const rest = url.slice('pglite://'.length);
    if (rest === '') throw new DomainError('CONFIG_INVALID', 'DATABASE_URL pglite:// needs a folder or "memory"', 'invalid');
    return { kind: 'pglite', target: rest === 'memory' ? 'memory://' : rest };
  }
  throw new DomainError(
    'CONFIG_INVALID',
    `DATABASE_URL must start with postgres://, postgresql:// or pglite:// (got "${url.split(':')[0]}:…")`,
    'invalid',
  );
}

export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const { kind, target } = parseDatabaseUrl(url);
  const common = {
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, snapshot: false, snapshotOnMigrate: false, silent: true, tableName: 'schema_migrations' },
    debug: options.debug ?? false,
    // Entities are defined with defineEntity; no reflection or discovery of files.
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
  };
  let orm: MikroORM;
  if (kind === 'postgresql') {
    orm = await PostgresMikroORM.init({ ...common, clientUrl: target, pool: { min: 0, max: options.poolSize ?? 20 } });
  } else {
    if (target !== 'memory://') mkdirSync(resolve(target), { recursive: true });
    orm = await PgliteMikroORM.init({ ...common, dbName: target === 'memory://' ? 'memory://' : resolve(target) });
  }
  if (options.migrate ?? true) await orm.migrator.up();
  const db: Database = {
    kind,
    orm,
    em: () => orm.em.fork() as unknown as SqlEntityManager,
    ping: async () => {
      await (orm.em.fork() as unknown as SqlEntityManager).execute('select 1');
    },
    close: () => orm.close(true),
  };
  return db;
}
