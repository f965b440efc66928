/** Releases: exact component versions, compiled once and cached, resolved per domain by what the components are. */
import { DomainError } from '../errors/index.js';
import { compilePack, validatePack, type CompiledPack } from '../rules/index.js';
import { LoadedPolicy, POLICY_BUNDLE_MISMATCH } from '../policies/index.js';
import { canonicalJson, packDigest, sha256Hex } from './content-hash.js';
import { REFUND_POLICY_KIND, REFUND_RISK_ENTRYPOINT, type RefundComponents } from './refund/refund-decider.js';

export interface ReleaseManifest {
  name: string;
  version: string;
  description?: string;
  /** component name → exact version; each is a rule pack or a policy bundle. */
  components: Record<string, string>;
}

export interface ReleaseRef {
  name: string;
  version: string;
  components: Record<string, string>;
}

/** What a component is and its content hash: packDigest of a pack's JSON, sha256 of a bundle's bytes. */
export interface ComponentDigest {
  kind: 'pack' | 'bundle';
  sha256: string;
}

/** Where component content comes from (the repository's files, or a tenant's immutable store over them). */
export interface ComponentSource {
  /** A rule pack's JSON, or undefined when there is no pack of that name and version. */
  pack(name: string, version: string): Promise<unknown>;
  /** A policy bundle's `.tar.gz` bytes, or undefined. */
  bundle(name: string, version: string): Promise<Uint8Array | undefined>;
  /**
   * The component's kind and content hash without its content, for sources that know it cheaply. Without it the
   * compiler reads the content to hash it.
   */
  digest?(name: string, version: string): Promise<ComponentDigest | undefined>;
}

export class CompiledRelease {
  readonly ref: ReleaseRef;
  private refundComponents?: RefundComponents;

  constructor(
    readonly manifest: ReleaseManifest,
    readonly packs: ReadonlyMap<string, CompiledPack>,
    readonly policies: ReadonlyMap<string, LoadedPolicy>,
  ) {
    this.ref = { name: manifest.name, version: manifest.version, components: { ...manifest.components } };
  }

  get id(): string {
    return `${this.manifest.name}@${this.manifest.version}`;
  }

  /** The one policy bundle in this release exposing `entrypoint`. */
  policyFor(entrypoint: string): LoadedPolicy {
    const found = [...this.policies.values()].filter((p) => p.entrypoints.includes(entrypoint));
    if (found.length !== 1) {
      throw new DomainError(
        'RELEASE_INCOMPLETE',
        `release ${this.id} must have exactly one bundle exposing ${entrypoint} (has ${found.length})`,
        'unprocessable',
      );
    }
    return found[0]!;
  }

  /** The refund domain's pack and risk policy; found by pack kind and Wasm entrypoint, not by name. */
  refund(): RefundComponents {
    if (this.refundComponents) return this.refundComponents;
    const packs = [...this.packs.values()].filter((p) => p.kind === REFUND_POLICY_KIND);
    const risks = [...this.policies.values()].filter((p) => p.entrypoints.includes(REFUND_RISK_ENTRYPOINT));
    if (packs.length !== 1 || risks.length !== 1) {
      throw new DomainError(
        'RELEASE_INCOMPLETE',
        `release ${this.id} must have exactly one ${REFUND_POLICY_KIND} pack (has ${packs.length}) and one bundle exposing ${REFUND_RISK_ENTRYPOINT} (has ${risks.length})`,
        'unprocessable',
      );
    }
    this.refundComponents = { policyPack: packs[0]!, riskPolicy: risks[0]! };
    return this.refundComponents;
  }
}

/**
 * Compiled packs, bundles and releases keyed by content hash. Compilers share one, so identical content (the built-in
 * release every tenant starts on, a pack two tenants uploaded alike) is compiled once per process.
 */
export class CompileCache {
  readonly packs = new Map<string, Promise<CompiledPack>>();
  readonly policies = new Map<string, Promise<LoadedPolicy>>();
  readonly releases = new Map<string, Promise<CompiledRelease>>();
}

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let hit = map.get(key);
  if (!hit) {
    const made = make();
    // A failed compile must not be cached: the next call may come after the component is fixed or uploaded.
    made.catch(() => {
      if (map.get(key) === made) map.delete(key);
    });
    map.set(key, made);
    hit = made;
  }
  return hit;
}

interface Resolved extends ComponentDigest {
  name: string;
  version: string;
  /** The content when hashing needed it anyway (sources without `digest`). */
  content?: unknown;
}

/** Compiles releases from a component source, cached by content, so replaying an old decision compiles its release once. */
export class ReleaseCompiler {
  constructor(
    private readonly source: ComponentSource,
    private readonly cache: CompileCache = new CompileCache(),
  ) {}

  async compile(manifest: ReleaseManifest): Promise<CompiledRelease> {
    const resolved = await this.resolveAll(manifest);
    const key = sha256Hex(
      canonicalJson({
        name: manifest.name,
        version: manifest.version,
        // No description: it is not content, and decisions pin releases without it (one compile serves both).
        // Sorted: the same components listed in another order are the same release.
        components: resolved.map((r) => [r.name, r.version, r.kind, r.sha256]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)),
      }),
    );
    return memo(this.cache.releases, key, () => this.build(manifest, resolved));
  }

  /** Every component's kind and hash; every missing one is named at once. */
  private async resolveAll(manifest: ReleaseManifest): Promise<Resolved[]> {
    const out: Resolved[] = [];
    const missing: string[] = [];
    for (const [name, version] of Object.entries(manifest.components)) {
      const r = await this.resolve(name, version);
      if (r) out.push(r);
      else missing.push(name);
    }
    if (missing.length > 0) {
      const list = missing.map((n) => `${n}@${manifest.components[n]}`).join(', ');
      throw new DomainError(
        'RELEASE_COMPONENT_NOT_FOUND',
        `release ${manifest.name}@${manifest.version} names ${list}, which ${missing.length === 1 ? 'is' : 'are'} neither a stored rule pack nor a policy bundle`,
        'unprocessable',
        missing.map((n) => ({ path: `/components/${n}`, message: `no pack or bundle ${n}@${manifest.components[n]}` })),
      );
    }
    return out;
  }

  private async resolve(name: string, version: string): Promise<Resolved | undefined> {
    if (this.source.digest) {
      const d = await this.source.digest(name, version);
      return d && { name, version, ...d };
    }
    const pack = await this.source.pack(name, version);
    if (pack !== undefined) return { name, version, kind: 'pack', sha256: packDigest(pack), content: pack };
    const bytes = await this.source.bundle(name, version);
    if (bytes !== undefined) return { name, version, kind: 'bundle', sha256: sha256Hex(bytes), content: bytes };
    return undefined;
  }

  private async build(manifest: ReleaseManifest, resolved: Resolved[]): Promise<CompiledRelease> {
    const packs = new Map<string, CompiledPack>();
    const policies = new Map<string, LoadedPolicy>();
    for (const r of resolved) {
      const { name, version } = r;
      switch (r.kind) {
        case 'pack': {
          const pack = await memo(this.cache.packs, r.sha256, async () => compilePack(validatePack(r.content ?? (await this.content(r)))));
          if (pack.name !== name || pack.version !== version) {
            throw new DomainError('RELEASE_COMPONENT_MISMATCH', `component ${name}@${version} contains pack ${pack.ref}`, 'unprocessable');
          }
          packs.set(name, pack);
          break;
        }
        case 'bundle': {
          const policy = await memo(this.cache.policies, r.sha256, async () =>
            LoadedPolicy.load((r.content as Uint8Array | undefined) ?? ((await this.content(r)) as Uint8Array)),
          );
          if (policy.name !== name || policy.version !== version) {
            throw new DomainError(POLICY_BUNDLE_MISMATCH, `bundle is ${policy.ref}, expected ${name}@${version}`, 'unprocessable', [
              { path: `/components/${name}`, message: `the bundle's manifest names ${policy.ref}` },
            ]);
          }
          policies.set(name, policy);
          break;
        }
      }
    }
    return new CompiledRelease(manifest, packs, policies);
  }

  private async content(r: Resolved): Promise<unknown> {
    const content = r.kind === 'pack' ? await this.source.pack(r.name, r.version) : await this.source.bundle(r.name, r.version);
    if (content === undefined) {
      throw new DomainError('RELEASE_COMPONENT_NOT_FOUND', `${r.name}@${r.version} disappeared while compiling`, 'unprocessable', [
        { path: `/components/${r.name}`, message: `no pack or bundle ${r.name}@${r.version}` },
      ]);
    }
    return content;
  }
}
