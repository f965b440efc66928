/** Releases: exact component versions (decision types, packs, bundles), compiled once and cached; types bound on first use. */
import { DomainError } from '../errors/index.js';
import { compilePack, validatePack, type CompiledPack, type RulePack } from '../rules/index.js';
// Not in the rules package's index: only a release's own portable content may skip validatePack.
import { adoptValidatedPack } from '../rules/validate.js';
import { DEFAULT_EVALUATION_BUDGET, LoadedPolicy, POLICY_BUNDLE_MISMATCH, type EvaluationBudget } from '../policies/index.js';
import { canonicalJson, packDigest, sha256Hex } from './content-hash.js';
import { validateDecisionType, type DecisionTypeDocument } from './types/decision-type.js';
import { bindDecisionType, DECISION_TYPE_NOT_FOUND, type BoundDecisionType } from './types/pipeline.js';

/**
 * The decision types of a release that names none: releases made before types were components decide refunds and
 * redemptions exactly as they did, with the built-in type documents of that time. Component versions, not policy.
 */
export const IMPLIED_DECISION_TYPES: Readonly<Record<string, string>> = Object.freeze({ refund: '1.0.0', redemption: '1.0.0' });

export interface ReleaseManifest {
  name: string;
  version: string;
  description?: string;
  /** component name → exact version; each is a decision type, a rule pack or a policy bundle. */
  components: Record<string, string>;
}

export interface ReleaseRef {
  name: string;
  version: string;
  components: Record<string, string>;
}

/** What a component is and its content hash: packDigest of a pack's or type's JSON, sha256 of a bundle's bytes. */
export interface ComponentDigest {
  kind: 'type' | 'pack' | 'bundle';
  sha256: string;
}

/** Where component content comes from (the repository's files, or a tenant's immutable store over them). */
export interface ComponentSource {
  /** A rule pack's JSON, or undefined when there is no pack of that name and version. */
  pack(name: string, version: string): Promise<unknown>;
  /** A policy bundle's `.tar.gz` bytes, or undefined. */
  bundle(name: string, version: string): Promise<Uint8Array | undefined>;
  /** A decision type's JSON, or undefined. */
  type(name: string, version: string): Promise<unknown>;
  /**
   * The component's kind and content hash without its content, for sources that know it cheaply. Without it the
   * compiler reads the content to hash it.
   */
  digest?(name: string, version: string): Promise<ComponentDigest | undefined>;
}

export class CompiledRelease {
  readonly ref: ReleaseRef;
  private readonly bound = new Map<string, BoundDecisionType>();
  private outcomeVocabulary?: string[];

  constructor(
    readonly manifest: ReleaseManifest,
    readonly packs: ReadonlyMap<string, CompiledPack>,
    readonly policies: ReadonlyMap<string, LoadedPolicy>,
    /** component name → decision type document (the implied built-ins when the manifest names none). */
    readonly types: ReadonlyMap<string, DecisionTypeDocument> = new Map(),
    /** false: the types are IMPLIED_DECISION_TYPES, not named by the manifest. */
    readonly declaresTypes = true,
  ) {
    this.ref = { name: manifest.name, version: manifest.version, components: { ...manifest.components } };
  }

  get id(): string {
    return `${this.manifest.name}@${this.manifest.version}`;
  }

  /** Decision type names this release serves (a type's component name is its name). */
  get typeNames(): string[] {
    return [...this.types.keys()];
  }

  /** Every outcome any of its types can give: what a decision list may filter by. */
  get outcomes(): readonly string[] {
    this.outcomeVocabulary ??= [...new Set([...this.types.values()].flatMap((t) => t.outcomes))];
    return this.outcomeVocabulary;
  }

  hasType(name: string): boolean {
    return this.types.has(name);
  }

  /**
   * The decision type `name` bound to this release's packs and bundles (bound on first use, then kept).
   * @throws DECISION_TYPE_NOT_FOUND (404) when the release has no such type; RELEASE_INCOMPLETE / RELEASE_TYPE_CHECK_FAILED (422) when it cannot serve it.
   */
  decisionType(name: string): BoundDecisionType {
    const hit = this.bound.get(name);
    if (hit) return hit;
    const doc = this.types.get(name);
    if (!doc) throw new DomainError(DECISION_TYPE_NOT_FOUND, `No decision type '${name}' in release ${this.id}`, 'not_found', [{ path: '/type', message: `release ${this.id} has the types ${this.typeNames.join(', ') || '(none)'}` }]);
    const bound = bindDecisionType(doc, name, this);
    this.bound.set(name, bound);
    return bound;
  }

  /** The refund decision type (api-contract.md section 3). */
  refund(): BoundDecisionType {
    return this.decisionType('refund');
  }

  /** This release's content as plain data another thread can receive (releaseFromPortable compiles it there). */
  portable(): PortableRelease {
    return {
      manifest: this.manifest,
      types: [...this.types],
      packs: [...this.packs].map(([n, p]) => [n, p.pack]),
      bundles: [...this.policies].map(([n, p]) => [n, p.source]),
      declaresTypes: this.declaresTypes,
    };
  }
}

/**
 * A compiled release's content as plain data (structured-cloneable): its type documents, pack documents and bundle bytes
 * with the budget they were loaded with. Compiled again from it, by the same compilers, it decides exactly as the
 * original: what a worker thread needs to decide cases of a release it did not compile.
 */
export interface PortableRelease {
  manifest: ReleaseManifest;
  types: [string, DecisionTypeDocument][];
  packs: [string, unknown][];
  bundles: [string, { bytes: Uint8Array; budget: EvaluationBudget }][];
  declaresTypes: boolean;
}

/**
 * Compiles a PortableRelease in another thread. Its packs and decision types are not validated again: portable() hands
 * out only documents that this process validated when it compiled the release, and a structured clone copies JSON data
 * exactly. Validating them again compiled the pack and decision-type schemas and re-ran every check in each replay
 * worker, more than half of its start (~300 ms of CPU each). Bundles are loaded and metered again (each thread needs its
 * own instance), and a type is still checked against the release when it is bound (decisionType).
 */
export async function releaseFromPortable(p: PortableRelease): Promise<CompiledRelease> {
  const packs = new Map<string, CompiledPack>(p.packs.map(([n, doc]) => [n, compilePack(adoptValidatedPack(doc as RulePack))]));
  const policies = new Map<string, LoadedPolicy>();
  for (const [n, b] of p.bundles) policies.set(n, await LoadedPolicy.load(b.bytes, { budget: b.budget }));
  const types = new Map<string, DecisionTypeDocument>(p.types);
  return new CompiledRelease(p.manifest, packs, policies, types, p.declaresTypes);
}

/**
 * Compiled packs, bundles and releases keyed by content hash. Compilers share one, so identical content (the built-in
 * release every tenant starts on, a pack two tenants uploaded alike) is compiled once per process. Its policies are
 * loaded with one evaluation budget, the cache's: content compiled under another budget would be another entry.
 */
export class CompileCache {
  constructor(readonly policyBudget: EvaluationBudget = DEFAULT_EVALUATION_BUDGET) {}

  readonly packs = new Map<string, Promise<CompiledPack>>();
  readonly policies = new Map<string, Promise<LoadedPolicy>>();
  readonly releases = new Map<string, Promise<CompiledRelease>>();
  readonly types = new Map<string, Promise<DecisionTypeDocument>>();
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

/**
 * The content loadContent read. A component without it was in the cache when loadContent ran; it can only have left
 * the cache since if its compile failed, and then this compile fails the same way, with the same error.
 */
function contentOf(r: Resolved): unknown {
  if (r.content === undefined) throw new DomainError('RELEASE_COMPONENT_NOT_FOUND', `${r.name}@${r.version} was evicted while compiling; try again`, 'unavailable');
  return r.content;
}

/** Compiles releases from a component source, cached by content, so replaying an old decision compiles its release once. */
export class ReleaseCompiler {
  constructor(
    private readonly source: ComponentSource,
    private readonly cache: CompileCache = new CompileCache(),
  ) {}

  async compile(manifest: ReleaseManifest): Promise<CompiledRelease> {
    const resolved = await this.resolveAll(manifest);
    const implied = !resolved.some((r) => r.kind === 'type');
    if (implied) {
      // A release from before decision types: the built-in types of that time. Only decision types qualify (a tenant's
      // pack that happens to be named refund@1.0.0 is not one).
      for (const [name, version] of Object.entries(IMPLIED_DECISION_TYPES)) {
        const r = await this.resolve(name, version);
        if (r?.kind === 'type') resolved.push(r);
      }
    }
    const key = sha256Hex(
      canonicalJson({
        name: manifest.name,
        version: manifest.version,
        // No description: it is not content, and decisions pin releases without it (one compile serves both).
        // Sorted: the same components listed in another order are the same release.
        components: resolved.map((r) => [r.name, r.version, r.kind, r.sha256]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)),
        // The same components named or implied are two releases: their refs (pinned by decisions) differ.
        named: Object.keys(manifest.components).sort(),
      }),
    );
    // Every cached promise must be pure work: a caller waiting on another's in-flight compile while holding its own
    // transaction (PGlite: the only connection) would wait forever if that compile still had to read the database.
    // So content is read here, through this caller's own source, before anything enters the cache.
    const hit = this.cache.releases.get(key);
    if (hit) return hit;
    await this.loadContent(resolved);
    return memo(this.cache.releases, key, () => this.build(manifest, resolved));
  }

  /** Reads the content of every component not compiled yet, through this compiler's source. */
  private async loadContent(resolved: Resolved[]): Promise<void> {
    for (const r of resolved) {
      if (r.content !== undefined) continue;
      const cached = r.kind === 'pack' ? this.cache.packs : r.kind === 'type' ? this.cache.types : this.cache.policies;
      if (!cached.has(r.sha256)) r.content = await this.content(r);
    }
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
        `release ${manifest.name}@${manifest.version} names ${list}, which ${missing.length === 1 ? 'is' : 'are'} neither a stored decision type, rule pack nor policy bundle`,
        'unprocessable',
        missing.map((n) => ({ path: `/components/${n}`, message: `no decision type, pack or bundle ${n}@${manifest.components[n]}` })),
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
    const type = await this.source.type(name, version);
    if (type !== undefined) return { name, version, kind: 'type', sha256: packDigest(type), content: type };
    return undefined;
  }

  private async build(manifest: ReleaseManifest, resolved: Resolved[]): Promise<CompiledRelease> {
    const packs = new Map<string, CompiledPack>();
    const policies = new Map<string, LoadedPolicy>();
    const types = new Map<string, DecisionTypeDocument>();
    for (const r of resolved) {
      const { name, version } = r;
      switch (r.kind) {
        case 'type': {
          const doc = await memo(this.cache.types, r.sha256, () => Promise.resolve(validateDecisionType(contentOf(r))));
          if (doc.name !== name || doc.version !== version) {
            throw new DomainError('RELEASE_COMPONENT_MISMATCH', `component ${name}@${version} contains decision type ${doc.name}@${doc.version}`, 'unprocessable');
          }
          types.set(name, doc);
          break;
        }
        case 'pack': {
          const pack = await memo(this.cache.packs, r.sha256, () => Promise.resolve(compilePack(validatePack(contentOf(r)))));
          if (pack.name !== name || pack.version !== version) {
            throw new DomainError('RELEASE_COMPONENT_MISMATCH', `component ${name}@${version} contains pack ${pack.ref}`, 'unprocessable');
          }
          packs.set(name, pack);
          break;
        }
        case 'bundle': {
          const policy = await memo(this.cache.policies, r.sha256, () => LoadedPolicy.load(contentOf(r) as Uint8Array, { budget: this.cache.policyBudget }));
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
    return new CompiledRelease(manifest, packs, policies, types, Object.keys(manifest.components).some((n) => types.has(n)));
  }

  private async content(r: Resolved): Promise<unknown> {
    const content =
      r.kind === 'pack' ? await this.source.pack(r.name, r.version) : r.kind === 'type' ? await this.source.type(r.name, r.version) : await this.source.bundle(r.name, r.version);
    if (content === undefined) {
      throw new DomainError('RELEASE_COMPONENT_NOT_FOUND', `${r.name}@${r.version} disappeared while compiling`, 'unprocessable', [
        { path: `/components/${r.name}`, message: `no decision type, pack or bundle ${r.name}@${r.version}` },
      ]);
    }
    return content;
  }
}
