/**
 * Which release decides for each tenant now, kept compiled in memory so `active()` is a map lookup on the hot path.
 * The database's activation rows are the truth: `refreshTenant` and `catchUp` load what moved; ReleaseSync decides
 * when (NOTIFY, polls). Built-in release: newest `releases/default/*`.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { OpaRedemptionGate } from '../../../libs/ledger/index.js';
import type { SqlEntityManager } from '@mikro-orm/sql';
import {
  CompileCache,
  ReleaseCompiler,
  TenantComponentSource,
  type CompiledRelease,
  type FileComponentSource,
  type ReleaseManifest,
  type ReleaseRef,
  retentionProblems,
} from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import type { EvaluationBudget } from '../../../libs/policies/index.js';
import { isName, isSemver } from '../../../libs/names/index.js';
import {
  DbComponentStoreFactory,
  ReleaseActivationsRepository,
  type ActivationRow,
  type Database,
  type DbComponentStore,
  type ReleaseId,
  type ReleaseSlot,
} from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, CONTENT_SOURCE, DATABASE, POLICY_BUDGET } from '../tokens.js';

export const BUILTIN_RELEASE_NAME = 'default';
/** The decision type whose policy step gates ledger redemptions (seed paper, Algorithm 3). */
export const REDEMPTION_TYPE = 'redemption';

/**
 * The ledger runs the redemption type's one policy step as Algorithm 3's gate (its policy answers {allow, reasons}) and
 * records APPROVE or DENY. A redemption type shaped otherwise (more steps, other outcomes, output fields) would be
 * partly ignored by the ledger, so a release carrying one is refused.
 */
export function checkRedemptionType(release: CompiledRelease): void {
  const doc = release.types.get(REDEMPTION_TYPE);
  if (!doc) return;
  const gateShaped =
    doc.pipeline.length === 1 &&
    doc.pipeline[0]!.step === 'policy' &&
    doc.outcomes.length === 2 &&
    doc.outcomes[0] === 'DENY' &&
    doc.outcomes[1] === 'APPROVE' &&
    Object.keys(doc.output ?? {}).length === 0;
  if (!gateShaped) {
    const message = 'the ledger decides redemptions with one policy step (the gate, answering {allow, reasons}) and outcomes DENY, APPROVE, no output fields';
    throw new DomainError('REDEMPTION_TYPE_UNSUPPORTED', `release ${release.id}: ${message}`, 'unprocessable', [{ path: `/components/${REDEMPTION_TYPE}`, message }]);
  }
}

/** A slot's loaded state: the row it follows and the compiled release (null: shadow cleared). */
export interface LoadedSlot {
  row: ActivationRow;
  release: CompiledRelease | null;
}

interface TenantState {
  active?: LoadedSlot;
  shadow?: LoadedSlot;
  /** The tenant's activated release could not be loaded and nothing older is loaded: refuse rather than guess. */
  activeError?: string;
}

@Injectable()
export class ReleaseRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ReleaseRegistry');
  /** Compiled packs, bundles and releases by content hash, shared by every tenant and request. */
  private readonly cache: CompileCache;
  private readonly store: DbComponentStore;
  private readonly sources = new Map<string, TenantComponentSource>();
  private readonly gates = new WeakMap<CompiledRelease, OpaRedemptionGate>();
  private readonly state = new Map<string, TenantState>();
  /** Per tenant, the refresh in progress: refreshes of one tenant run one after another. */
  private readonly refreshing = new Map<string, Promise<void>>();
  private builtin?: CompiledRelease;
  private catchingUp?: Promise<void>;
  private closed = false;

  constructor(
    @Inject(CONTENT_SOURCE) private readonly files: FileComponentSource,
    @Inject(DATABASE) private readonly db: Database,
    private readonly repo: ReleaseActivationsRepository,
    private readonly stores: DbComponentStoreFactory,
    @Inject(POLICY_BUDGET) policyBudget: EvaluationBudget,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.store = stores.create(() => db.em());
    this.cache = new CompileCache(policyBudget);
  }

  async onModuleInit(): Promise<void> {
    const newest = await this.files.newestRelease(BUILTIN_RELEASE_NAME);
    if (!newest) throw new Error(`no built-in release under releases/${BUILTIN_RELEASE_NAME}/`);
    this.builtin = await new ReleaseCompiler(this.files, this.cache).compile(newest);
    this.logger.log(`built-in release ${this.builtin.id} loaded (${Object.entries(newest.components).map(([n, v]) => `${n}@${v}`).join(', ')})`);
    this.warnRetention(this.builtin);
    await this.catchUp();
  }

  /**
   * The built-in release decides for every tenant that activated none, so it cannot be refused as a release with a
   * feature window longer than the tenant's retention is (releases.service, activation.service): the start says so.
   */
  private warnRetention(release: CompiledRelease): void {
    const retention: [string, number][] = [['the default RETENTION_DAYS', this.config.retentionDays], ...Object.entries(this.config.retentionDaysTenants).map(([t, d]) => [`tenant ${t}`, d] as [string, number])];
    for (const [who, days] of retention) {
      const problems = [...release.types].flatMap(([name, doc]) => retentionProblems(doc.features, days, `/components/${name}`));
      if (problems.length === 0) continue;
      this.logger.warn(`the built-in release ${release.id} has ${problems.length} feature window(s) longer than the retention of ${who} (${days} days): ${problems.map((p) => p.path).join(', ')}; for that retention they count only the history kept`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.catchingUp;
    await Promise.allSettled([...this.refreshing.values()]);
  }

  get ready(): boolean {
    return this.builtin !== undefined;
  }

  /** The built-in release every tenant starts on. */
  get builtinRelease(): CompiledRelease {
    if (!this.builtin) throw new Error('release registry not initialised');
    return this.builtin;
  }

  /** The release deciding for this tenant now. Callers keep the object they got: in-flight work finishes on it. */
  active(tenant: string): CompiledRelease {
    const s = this.state.get(tenant);
    if (s?.active?.release) return s.active.release;
    if (s?.activeError) {
      throw new DomainError('RELEASE_UNAVAILABLE', `The active release of this tenant is not loaded yet: ${s.activeError}`, 'unavailable');
    }
    return this.builtinRelease;
  }

  /** The activation row behind `active(tenant)`, or undefined while the tenant runs on the built-in release. */
  activeRow(tenant: string): ActivationRow | undefined {
    return this.state.get(tenant)?.active?.row;
  }

  /**
   * Every tenant this instance holds activation state for (tenants that never activated a release run on the built-in
   * one and are not listed): the release deciding for it, or null with the reason its activated release is not loaded.
   */
  *tenantReleases(): Generator<{ tenant: string; release: CompiledRelease | null; unavailable?: string }> {
    for (const [tenant, s] of this.state) {
      if (s.active?.release) yield { tenant, release: s.active.release };
      else if (s.activeError) yield { tenant, release: null, unavailable: s.activeError };
      else yield { tenant, release: this.builtinRelease };
    }
  }

  /** The tenant's active release with its redemption gate (Algorithm 3), wrapped once per compiled release. */
  redemptionGate(tenant: string): { release: CompiledRelease; gate: OpaRedemptionGate } {
    const release = this.active(tenant);
    let gate = this.gates.get(release);
    if (!gate) {
      // The gate is the redemption decision type's policy step: which bundle and entrypoint is the release's data.
      checkRedemptionType(release);
      if (!release.hasType(REDEMPTION_TYPE)) {
        throw new DomainError('RELEASE_INCOMPLETE', `The active release ${release.id} has no ${REDEMPTION_TYPE} decision type: redemptions are refused until a release with one is active`, 'unprocessable');
      }
      const step = release.decisionType(REDEMPTION_TYPE).policySteps[0];
      if (!step) throw new DomainError('RELEASE_INCOMPLETE', `the ${REDEMPTION_TYPE} decision type of release ${release.id} has no policy step`, 'unprocessable');
      gate = new OpaRedemptionGate(step.policy, step.entrypoint);
      this.gates.set(release, gate);
    }
    return { release, gate };
  }

  /** The release evaluated in shadow for this tenant, with the row that started the shadow session. */
  shadow(tenant: string): { row: ActivationRow; release: CompiledRelease } | undefined {
    const slot = this.state.get(tenant)?.shadow;
    return slot?.release ? { row: slot.row, release: slot.release } : undefined;
  }

  /** This tenant's components through `em` (a request's transaction), or through fresh managers of the registry's own. */
  source(tenant: string, em?: SqlEntityManager): TenantComponentSource {
    if (em) return new TenantComponentSource(tenant, this.stores.create(() => em), this.files);
    let s = this.sources.get(tenant);
    if (!s) {
      s = new TenantComponentSource(tenant, this.store, this.files);
      this.sources.set(tenant, s);
    }
    return s;
  }

  /** Compiles a manifest against `source`, sharing compiled content with every other tenant and request. */
  compile(source: TenantComponentSource, manifest: ReleaseManifest): Promise<CompiledRelease> {
    return new ReleaseCompiler(source, this.cache).compile(manifest);
  }

  /** Compiles a release manifest against this tenant's components (uploaded, then built-in), cached per content. */
  compileFor(tenant: string, manifest: ReleaseManifest): Promise<CompiledRelease> {
    return this.compile(this.source(tenant), manifest);
  }

  /** The exact release a stored decision pinned, compiled once and cached; tenant-uploaded versions included. */
  pinned(tenant: string, ref: ReleaseRef): Promise<CompiledRelease> {
    return this.compileFor(tenant, { name: ref.name, version: ref.version, components: ref.components });
  }

  /** A tenant's release manifest (stored, else built-in); RELEASE_NOT_FOUND (404) otherwise. */
  async manifest(source: TenantComponentSource, id: ReleaseId): Promise<{ manifest: ReleaseManifest; builtin: boolean }> {
    // Path parameters reach SQL: a name or version no release can have (a NUL byte, 10 KB) is simply not found.
    const found = isName(id.name) && isSemver(id.version) ? await source.release(id.name, id.version) : undefined;
    if (!found) throw new DomainError('RELEASE_NOT_FOUND', `No release ${id.name}@${id.version}`, 'not_found');
    return found;
  }

  /** Brings this tenant's slots up to the newest activation rows; called after a local change, on NOTIFY and by polls. */
  refreshTenant(tenant: string): Promise<void> {
    const next = (this.refreshing.get(tenant) ?? Promise.resolve()).then(() => this.load(tenant));
    const settled = next.catch(() => undefined);
    this.refreshing.set(tenant, settled);
    void settled.then(() => {
      if (this.refreshing.get(tenant) === settled) this.refreshing.delete(tenant);
    });
    return next;
  }

  private async load(tenant: string): Promise<void> {
    if (this.closed) return;
    const rows = await this.repo.current(this.db.em(), tenant);
    const state = this.state.get(tenant) ?? {};
    for (const slot of ['active', 'shadow'] as const satisfies readonly ReleaseSlot[]) {
      const row = rows[slot];
      const loaded = state[slot];
      if (!row || (loaded && loaded.row.seq >= row.seq)) continue;
      try {
        const release = row.release ? await this.compile(this.source(tenant), (await this.manifest(this.source(tenant), row.release)).manifest) : null;
        state[slot] = { row, release };
        if (slot === 'active') delete state.activeError;
        this.logger.log(`${tenant}: ${slot} release is now ${release ? release.id : 'none'} (activation ${row.seq})`);
      } catch (e) {
        // Keep what is loaded (the next poll retries); with nothing loaded, refuse instead of silently deciding on the built-in.
        this.logger.error({ msg: `${tenant}: cannot load ${slot} release of activation ${row.seq}`, err: e });
        if (slot === 'active' && !state.active) state.activeError = (e as Error).message;
      }
    }
    this.state.set(tenant, state);
  }

  /** Compares every tenant's newest activation rows with what is loaded and refreshes the tenants that moved. */
  catchUp(): Promise<void> {
    if (this.catchingUp) return this.catchingUp;
    this.catchingUp = (async () => {
      try {
        const heads = await this.repo.heads(this.db.em());
        const stale = new Set<string>();
        for (const h of heads) {
          const loaded = this.state.get(h.tenant)?.[h.slot];
          if (!loaded || loaded.row.seq < h.seq) stale.add(h.tenant);
        }
        await Promise.all([...stale].map((t) => this.refreshTenant(t).catch((e: unknown) => this.logger.error({ msg: `${t}: releases not refreshed`, err: e }))));
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }
}
