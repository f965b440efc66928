/** A tenant's immutable catalogue: rule packs, policy bundles and release manifests, each with its content hash. */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { ComponentDigest, ReleaseManifest, TenantComponentStore } from '../decisions/index.js';
import { pgTimestamp } from './timestamps.js';

export type Row = Record<string, unknown>;

// pg answers jsonb parsed, bytea as Buffer and timestamptz as Date; PGlite may answer strings or Uint8Array. Normalise.
export const rowJson = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
export const rowDate = pgTimestamp;
/** A nullable text column: null stays null. */
export const rowText = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v));

export interface StoredMeta {
  name: string;
  version: string;
  sha256: string;
  uploadedBy: string;
  uploadedAt: Date;
}
export interface StoredPackMeta extends StoredMeta {
  kind: string;
  description: string;
}
export interface StoredBundleMeta extends StoredMeta {
  sizeBytes: number;
  entrypoints: string[];
}
export interface StoredTypeMeta extends StoredMeta {
  description: string;
}
export interface StoredRelease extends StoredMeta {
  manifest: ReleaseManifest;
}

const meta = (r: Row): StoredMeta => ({
  name: String(r.name),
  version: String(r.version),
  sha256: String(r.sha256),
  uploadedBy: String(r.uploaded_by),
  uploadedAt: rowDate(r.uploaded_at),
});
const packMeta = (r: Row): StoredPackMeta => ({ ...meta(r), kind: String(r.kind), description: rowText(r.description) ?? '' });
const PACK_META = `name, version, kind, sha256, content->>'description' as description, uploaded_by, uploaded_at`;

export class CatalogueRepository {
  /**
   * Serialises, until the transaction ends, every upload of one tenant's name@version whatever its kind: a pack, a
   * bundle and a decision type live in different tables, so no unique index stops two kinds racing to the same name.
   */
  async lockComponentName(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<void> {
    await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`component:${tenant}/${name}@${version}`]);
  }

  /** Inserts unless (tenant, name, version) exists; false when it did (the caller compares hashes). */
  async insertPack(
    em: SqlEntityManager,
    p: { tenant: string; name: string; version: string; kind: string; sha256: string; content: unknown; by: string; at: Date },
  ): Promise<boolean> {
    const rows = await em.execute<Row[]>(
      `insert into rule_packs (tenant, name, version, kind, sha256, content, uploaded_by, uploaded_at)
       values (?, ?, ?, ?, ?, ?::jsonb, ?, ?) on conflict do nothing returning name`,
      [p.tenant, p.name, p.version, p.kind, p.sha256, JSON.stringify(p.content), p.by, p.at],
    );
    return rows.length === 1;
  }

  async packMeta(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<StoredPackMeta | undefined> {
    const rows = await em.execute<Row[]>(`select ${PACK_META} from rule_packs where tenant = ? and name = ? and version = ?`, [tenant, name, version]);
    return rows[0] && packMeta(rows[0]);
  }

  async packContent(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<unknown> {
    const rows = await em.execute<Row[]>(`select content from rule_packs where tenant = ? and name = ? and version = ?`, [tenant, name, version]);
    return rows[0] ? rowJson(rows[0].content) : undefined;
  }

  /** Every pack the tenant stored, without content. */
  async listPacks(em: SqlEntityManager, tenant: string): Promise<StoredPackMeta[]> {
    const rows = await em.execute<Row[]>(`select ${PACK_META} from rule_packs where tenant = ?`, [tenant]);
    return rows.map(packMeta);
  }

  async insertBundle(
    em: SqlEntityManager,
    b: { tenant: string; name: string; version: string; sha256: string; entrypoints: readonly string[]; content: Uint8Array; by: string; at: Date },
  ): Promise<boolean> {
    const rows = await em.execute<Row[]>(
      `insert into policy_bundles (tenant, name, version, sha256, size_bytes, entrypoints, content, uploaded_by, uploaded_at)
       values (?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?) on conflict do nothing returning name`,
      [b.tenant, b.name, b.version, b.sha256, b.content.byteLength, JSON.stringify(b.entrypoints), Buffer.from(b.content), b.by, b.at],
    );
    return rows.length === 1;
  }

  async bundleMeta(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<StoredBundleMeta | undefined> {
    const rows = await em.execute<Row[]>(
      `select name, version, sha256, size_bytes, entrypoints, uploaded_by, uploaded_at from policy_bundles where tenant = ? and name = ? and version = ?`,
      [tenant, name, version],
    );
    const r = rows[0];
    return r && { ...meta(r), sizeBytes: Number(r.size_bytes), entrypoints: rowJson<string[]>(r.entrypoints) };
  }

  async bundleContent(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<Uint8Array | undefined> {
    const rows = await em.execute<Row[]>(`select content from policy_bundles where tenant = ? and name = ? and version = ?`, [tenant, name, version]);
    const v = rows[0]?.content;
    return v === undefined ? undefined : (v as Uint8Array);
  }

  async insertType(
    em: SqlEntityManager,
    t: { tenant: string; name: string; version: string; sha256: string; content: unknown; by: string; at: Date },
  ): Promise<boolean> {
    const rows = await em.execute<Row[]>(
      `insert into decision_types (tenant, name, version, sha256, content, uploaded_by, uploaded_at)
       values (?, ?, ?, ?, ?::jsonb, ?, ?) on conflict do nothing returning name`,
      [t.tenant, t.name, t.version, t.sha256, JSON.stringify(t.content), t.by, t.at],
    );
    return rows.length === 1;
  }

  async typeMeta(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<StoredTypeMeta | undefined> {
    const rows = await em.execute<Row[]>(
      `select name, version, sha256, content->>'description' as description, uploaded_by, uploaded_at from decision_types where tenant = ? and name = ? and version = ?`,
      [tenant, name, version],
    );
    const r = rows[0];
    return r && { ...meta(r), description: rowText(r.description) ?? '' };
  }

  async typeContent(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<unknown> {
    const rows = await em.execute<Row[]>(`select content from decision_types where tenant = ? and name = ? and version = ?`, [tenant, name, version]);
    return rows[0] ? rowJson(rows[0].content) : undefined;
  }

  async insertRelease(
    em: SqlEntityManager,
    r: { tenant: string; manifest: ReleaseManifest; sha256: string; by: string; at: Date },
  ): Promise<boolean> {
    const rows = await em.execute<Row[]>(
      `insert into releases (tenant, name, version, sha256, description, components, created_by, created_at)
       values (?, ?, ?, ?, ?, ?::jsonb, ?, ?) on conflict do nothing returning name`,
      [r.tenant, r.manifest.name, r.manifest.version, r.sha256, r.manifest.description ?? null, JSON.stringify(r.manifest.components), r.by, r.at],
    );
    return rows.length === 1;
  }

  async release(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<StoredRelease | undefined> {
    const rows = await em.execute<Row[]>(
      `select name, version, sha256, description, components, created_by as uploaded_by, created_at as uploaded_at
       from releases where tenant = ? and name = ? and version = ?`,
      [tenant, name, version],
    );
    const r = rows[0];
    if (!r) return undefined;
    // jsonb keeps its own key order; answer components sorted by name.
    const components = Object.fromEntries(Object.entries(rowJson<Record<string, string>>(r.components)).sort(([a], [b]) => (a < b ? -1 : 1)));
    const manifest: ReleaseManifest = { name: String(r.name), version: String(r.version), components };
    const description = rowText(r.description);
    if (description !== null) manifest.description = description;
    return { ...meta(r), manifest };
  }

  /**
   * The tenant's stored releases, newest first; `after` is the last of the previous page. Ordered by the millisecond
   * (what the cursor, an ISO string, can hold), so a page boundary never skips a row stored in the same millisecond.
   */
  async releases(em: SqlEntityManager, tenant: string, limit: number, after?: { createdAt: string; name: string; version: string }): Promise<StoredRelease[]> {
    const rows = await em.execute<Row[]>(
      `select name, version, sha256, description, components, created_by as uploaded_by, created_at as uploaded_at
       from releases where tenant = ?${after ? " and (date_trunc('milliseconds', created_at), name, version) < (?::timestamptz, ?, ?)" : ''}
       order by date_trunc('milliseconds', created_at) desc, name desc, version desc limit ?`,
      after ? [tenant, after.createdAt, after.name, after.version, limit] : [tenant, limit],
    );
    return rows.map((r) => {
      const components = Object.fromEntries(Object.entries(rowJson<Record<string, string>>(r.components)).sort(([a], [b]) => (a < b ? -1 : 1)));
      const manifest: ReleaseManifest = { name: String(r.name), version: String(r.version), components };
      const description = rowText(r.description);
      if (description !== null) manifest.description = description;
      return { ...meta(r), manifest };
    });
  }

  /** What name@version is in the tenant's store (a pack, a bundle or a decision type) and its content hash. */
  async digest(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<ComponentDigest | undefined> {
    const rows = await em.execute<Row[]>(
      `select 'pack' as kind, sha256 from rule_packs where tenant = ? and name = ? and version = ?
       union all
       select 'bundle' as kind, sha256 from policy_bundles where tenant = ? and name = ? and version = ?
       union all
       select 'type' as kind, sha256 from decision_types where tenant = ? and name = ? and version = ?`,
      [tenant, name, version, tenant, name, version, tenant, name, version],
    );
    const r = rows[0];
    return r && { kind: r.kind === 'pack' ? 'pack' : r.kind === 'bundle' ? 'bundle' : 'type', sha256: String(r.sha256) };
  }
}

/**
 * The tenant store the release compiler reads through. `em` is called per query: the registry hands a fresh fork
 * each time, a request hands its own transaction's manager (PGlite has one connection: a query outside the open
 * transaction would wait for it forever).
 */
export class DbComponentStore implements TenantComponentStore {
  constructor(
    private readonly em: () => SqlEntityManager,
    private readonly repo: CatalogueRepository,
  ) {}

  pack(tenant: string, name: string, version: string): Promise<unknown> {
    return this.repo.packContent(this.em(), tenant, name, version);
  }

  bundle(tenant: string, name: string, version: string): Promise<Uint8Array | undefined> {
    return this.repo.bundleContent(this.em(), tenant, name, version);
  }

  type(tenant: string, name: string, version: string): Promise<unknown> {
    return this.repo.typeContent(this.em(), tenant, name, version);
  }

  digest(tenant: string, name: string, version: string): Promise<ComponentDigest | undefined> {
    return this.repo.digest(this.em(), tenant, name, version);
  }

  async release(tenant: string, name: string, version: string): Promise<ReleaseManifest | undefined> {
    return (await this.repo.release(this.em(), tenant, name, version))?.manifest;
  }
}

/** Builds component stores over one repository; injected, so the release registry never `new`s a store. */
export class DbComponentStoreFactory {
  constructor(private readonly repo: CatalogueRepository) {}

  create(em: () => SqlEntityManager): DbComponentStore {
    return new DbComponentStore(em, this.repo);
  }
}
