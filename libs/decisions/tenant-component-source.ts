/** A tenant's components: what the tenant stored (immutable, per version), then the repository's built-in files. */
import type { ComponentDigest, ComponentSource, ReleaseManifest } from './release.js';

/** The tenant's own immutable store (the database); undefined means "not stored by this tenant". */
export interface TenantComponentStore {
  pack(tenant: string, name: string, version: string): Promise<unknown>;
  bundle(tenant: string, name: string, version: string): Promise<Uint8Array | undefined>;
  type(tenant: string, name: string, version: string): Promise<unknown>;
  digest(tenant: string, name: string, version: string): Promise<ComponentDigest | undefined>;
  release(tenant: string, name: string, version: string): Promise<ReleaseManifest | undefined>;
}

/** The built-in catalogue every tenant starts with (FileComponentSource). */
export interface BuiltinComponents extends ComponentSource {
  digest(name: string, version: string): Promise<ComponentDigest | undefined>;
  release(name: string, version: string): Promise<ReleaseManifest | undefined>;
}

export class TenantComponentSource implements ComponentSource {
  /**
   * Found digests only. Both layers are immutable per name@version, and a tenant cannot store a version the built-in
   * catalogue has (identical content is answered from the catalogue, other content is a conflict), so a hit never
   * changes; a miss may become a hit with the next upload.
   */
  private readonly digests = new Map<string, ComponentDigest>();

  constructor(
    readonly tenant: string,
    private readonly store: TenantComponentStore,
    private readonly builtin: BuiltinComponents,
  ) {}

  async pack(name: string, version: string): Promise<unknown> {
    const stored = await this.store.pack(this.tenant, name, version);
    return stored !== undefined ? stored : this.builtin.pack(name, version);
  }

  async bundle(name: string, version: string): Promise<Uint8Array | undefined> {
    return (await this.store.bundle(this.tenant, name, version)) ?? this.builtin.bundle(name, version);
  }

  async type(name: string, version: string): Promise<unknown> {
    const stored = await this.store.type(this.tenant, name, version);
    return stored !== undefined ? stored : this.builtin.type(name, version);
  }

  async digest(name: string, version: string): Promise<ComponentDigest | undefined> {
    const key = `${name}@${version}`;
    const hit = this.digests.get(key);
    if (hit) return hit;
    const found = (await this.store.digest(this.tenant, name, version)) ?? (await this.builtin.digest(name, version));
    if (found) this.digests.set(key, found);
    return found;
  }

  /** The release manifest and whether it is built in, or undefined. */
  async release(name: string, version: string): Promise<{ manifest: ReleaseManifest; builtin: boolean } | undefined> {
    const stored = await this.store.release(this.tenant, name, version);
    if (stored) return { manifest: stored, builtin: false };
    const builtin = await this.builtin.release(name, version);
    return builtin && { manifest: builtin, builtin: true };
  }
}
