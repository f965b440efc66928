/** Releases: exact component versions, compiled once and cached, resolved per domain by what the components are. */
import { DomainError } from '../errors/index.js';
import { compilePack, validatePack, type CompiledPack } from '../rules/index.js';
import { LoadedPolicy } from '../policies/index.js';
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

/** Where component content comes from (the repository's files, later a tenant's immutable store). */
export interface ComponentSource {
  /** A rule pack's JSON, or undefined when there is no pack of that name and version. */
  pack(name: string, version: string): Promise<unknown>;
  /** A policy bundle's `.tar.gz` bytes, or undefined. */
  bundle(name: string, version: string): Promise<Uint8Array | undefined>;
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

/** Compiles releases from a component source and keeps them, so replaying an old decision compiles its release once. */
export class ReleaseCompiler {
  private readonly cache = new Map<string, Promise<CompiledRelease>>();

  constructor(private readonly source: ComponentSource) {}

  compile(manifest: ReleaseManifest): Promise<CompiledRelease> {
    const key = `${manifest.name}@${manifest.version}#${JSON.stringify(manifest.components)}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.build(manifest);
      // A failed compile must not be cached: the next call may come after the component is fixed or uploaded.
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async build(manifest: ReleaseManifest): Promise<CompiledRelease> {
    const packs = new Map<string, CompiledPack>();
    const policies = new Map<string, LoadedPolicy>();
    for (const [name, version] of Object.entries(manifest.components)) {
      const packJson = await this.source.pack(name, version);
      if (packJson !== undefined) {
        const pack = validatePack(packJson);
        if (pack.name !== name || pack.version !== version) {
          throw new DomainError('RELEASE_COMPONENT_MISMATCH', `component ${name}@${version} contains pack ${pack.name}@${pack.version}`, 'unprocessable');
        }
        packs.set(name, compilePack(pack));
        continue;
      }
      const bytes = await this.source.bundle(name, version);
      if (bytes !== undefined) {
        policies.set(name, await LoadedPolicy.load(bytes, { expectName: name, expectVersion: version }));
        continue;
      }
      throw new DomainError(
        'RELEASE_COMPONENT_NOT_FOUND',
        `release ${manifest.name}@${manifest.version} names ${name}@${version}, which is neither a stored rule pack nor a policy bundle`,
        'unprocessable',
        [{ path: `/components/${name}`, message: `no pack or bundle ${name}@${version}` }],
      );
    }
    return new CompiledRelease(manifest, packs, policies);
  }
}
