/**
 * A tenant's immutable catalogue of components: decision types, rule packs and policy bundles, each fully checked before
 * it is stored.
 * The repository's built-in content is every tenant's starting catalogue: an upload of a built-in name@version is
 * answered from it when identical and refused (409) otherwise. A re-upload of identical content answers 200 with the
 * stored object; the first upload answers 201.
 */
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import {
  builtinPackProblems,
  checkBundleUpload,
  checkPackUpload,
  checkRetention,
  validateDecisionType,
  checkAuthoredType,
  packDigest,
  sha256Hex,
  type FileComponentSource,
} from '../../../libs/decisions/index.js';
import { DomainError, type ErrorDetail } from '../../../libs/errors/index.js';
import { compareSemver, isName, isSemver } from '../../../libs/names/index.js';
import { readBundle, type EvaluationBudget } from '../../../libs/policies/index.js';
import {
  AuditRepository,
  CatalogueRepository,
  type Database,
  type Principal,
} from '../../../libs/persistence/index.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { created, transactional, unchanged, type TransactionalCommand } from '../commands/command.js';
import { auditEntry } from '../audit/audit-entry.js';
import { builtinStamp, exists, semverErrors, stamp, type Source } from './stored.js';
import { APP_CONFIG, CONTENT_SOURCE, DATABASE, POLICY_BUDGET } from '../tokens.js';
import { tenantRetentionDays, type AppConfig } from '../config.js';

export interface PackView {
  name: string;
  version: string;
  kind: string;
  description: string;
  sha256: string;
  source: Source;
  uploadedAt: string | null;
  uploadedBy: string | null;
}

export interface BundleView {
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  entrypoints: string[];
  source: Source;
  uploadedAt: string | null;
  uploadedBy: string | null;
}


type ComponentKind = 'type' | 'pack' | 'bundle';
const KIND_NAMES: Record<ComponentKind, string> = { type: 'decision type', pack: 'rule pack', bundle: 'policy bundle' };

/** Reading a file failed for a reason that may pass: the catalogue is not known until a read succeeds. */
const PASSING_READ_ERRORS = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EIO', 'EACCES', 'EPERM', 'EBUSY']);

/** The built-in catalogue of packs: what reads as one, and the name@version of every file, readable or not. */
interface BuiltinPacks {
  views: PackView[];
  /** A tenant cannot take a version the built-in content holds (tenant-component-source.ts), even one that does not read. */
  files: Set<string>;
}

interface Found<T> {
  view: T;
  sha256: string;
}


@Injectable()
export class CatalogueService implements OnModuleInit {
  private readonly logger = new Logger('CatalogueService');
  /** The built-in packs never change while the process runs (they are the deployed repository). */
  private builtinPacks?: Promise<BuiltinPacks>;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CONTENT_SOURCE) private readonly files: FileComponentSource,
    private readonly repo: CatalogueRepository,
    private readonly audit: AuditRepository,
    @Inject(POLICY_BUDGET) private readonly policyBudget: EvaluationBudget,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The deployed repository's packs are checked as an upload is, in the background (the start does not wait for it,
   * nor fail by it): each one an upload would refuse, or that cannot be read, is a warning.
   */
  onModuleInit(): void {
    void builtinPackProblems(this.files)
      .then(({ checked, problems }) => {
        for (const p of problems) this.logger.warn(`built-in rule pack refused as an upload would be (a release or reward account naming it is refused; one that cannot be read is not listed): ${p}`);
        this.logger.log(`${checked} built-in rule pack(s) checked, ${problems.length} refused`);
      })
      .catch((e: unknown) => this.logger.error(`built-in rule packs could not be checked: ${e instanceof Error ? e.message : String(e)}`));
  }

  // ---- rule packs ----

  uploadPack(principal: Principal, body: unknown): TransactionalCommand<PackView> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DomainError('VALIDATION_FAILED', 'Send the rule pack as a JSON object', 'invalid', [{ path: '/', message: 'must be a rule pack object' }]);
    }
    return transactional(async ({ em, now }) => {
      // Schema, fact-schema type check, compile and the pack's own test cases: all before anything is stored.
      const compiled = await checkPackUpload(body);
      const { name, version } = compiled;
      const sha256 = packDigest(body);
      const existing = await this.findPack(em, principal.tenant, name, version);
      if (existing) {
        if (existing.sha256 === sha256) return unchanged(existing.view);
        throw exists('RULE_PACK_VERSION_EXISTS', `rule pack ${name}@${version}`, existing.view.source);
      }
      // A built-in file of this name@version that does not read as a pack still holds it.
      if (await this.builtinFileHolds(name, version)) throw exists('RULE_PACK_VERSION_EXISTS', `rule pack ${name}@${version}`, 'builtin');
      await this.refuseOtherKind(em, principal.tenant, name, version, 'pack');
      const inserted = await this.repo.insertPack(em, { tenant: principal.tenant, name, version, kind: compiled.kind, sha256, content: body, by: principal.keyId, at: now });
      if (!inserted) {
        // Another request stored it meanwhile (we read its committed row now): identical content is the same pack.
        const winner = await this.findPack(em, principal.tenant, name, version);
        if (winner?.sha256 === sha256) return unchanged(winner.view);
        throw exists('RULE_PACK_VERSION_EXISTS', `rule pack ${name}@${version}`, 'tenant');
      }
      await this.audit.append(em, auditEntry(principal, 'author', now, 'rule_pack.uploaded', 'rule_pack', `${name}@${version}`, { sha256 }));
      const view: PackView = { name, version, kind: compiled.kind, description: compiled.pack.description, sha256, source: 'tenant', ...stamp({ name, version, sha256, uploadedBy: principal.keyId, uploadedAt: now }) };
      return created(view);
    });
  }

  /** The tenant's packs and the built-in ones, by name then semantic version; the cursor is the last name@version. */
  async listPacks(principal: Principal, limit: number, cursor?: string): Promise<{ items: PackView[]; nextCursor: string | null }> {
    const stored = (await this.repo.listPacks(this.db.em(), principal.tenant)).map(
      (m): PackView => ({ name: m.name, version: m.version, kind: m.kind, description: m.description, sha256: m.sha256, source: 'tenant', ...stamp(m) }),
    );
    const all = [...stored, ...(await this.builtinPackViews())];
    all.sort((a, b) => (a.name === b.name ? compareSemver(a.version, b.version) : a.name < b.name ? -1 : 1));
    const after = cursor === undefined ? undefined : decodeCursor(cursor, (v) =>
          typeof v.name === 'string' && typeof v.version === 'string' && isSemver(v.version) ? { name: v.name, version: v.version } : undefined,
        );
    const start = after ? all.findIndex((p) => p.name > after.name || (p.name === after.name && compareSemver(p.version, after.version) > 0)) : 0;
    const page = start < 0 ? [] : all.slice(start, start + limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: last && start + limit < all.length ? encodeCursor({ name: last.name, version: last.version }) : null };
  }

  async getPack(principal: Principal, name: string, version: string): Promise<PackView & { pack: unknown }> {
    const em = this.db.em();
    const found = isName(name) && isSemver(version) ? await this.findPack(em, principal.tenant, name, version) : undefined;
    if (!found) throw new DomainError('RULE_PACK_NOT_FOUND', `No rule pack ${name}@${version}`, 'not_found');
    const pack = found.view.source === 'tenant' ? await this.repo.packContent(em, principal.tenant, name, version) : await this.files.pack(name, version);
    return { ...found.view, pack };
  }

  private async findPack(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<Found<PackView> | undefined> {
    const m = await this.repo.packMeta(em, tenant, name, version);
    if (m) return { sha256: m.sha256, view: { name, version, kind: m.kind, description: m.description, sha256: m.sha256, source: 'tenant', ...stamp(m) } };
    const builtin = (await this.builtinPackViews()).find((p) => p.name === name && p.version === version);
    return builtin && { sha256: builtin.sha256, view: builtin };
  }

  private async builtinPackViews(): Promise<PackView[]> {
    return (await this.builtinCatalogue()).views;
  }

  private async builtinFileHolds(name: string, version: string): Promise<boolean> {
    return (await this.builtinCatalogue()).files.has(`${name}@${version}`);
  }

  /**
   * A file that does not read as a pack object is left out of the views (the start warned about it), not the whole
   * catalogue; its name@version stays held. A read that failed for a reason that may pass (too many open files, no
   * permission yet) leaves the catalogue unknown: 503, and the next call reads again (a partial set would let a tenant
   * take a built-in version).
   */
  private builtinCatalogue(): Promise<BuiltinPacks> {
    this.builtinPacks ??= this.files.packFiles().then(
      (files) => {
        const views: PackView[] = [];
        const held = new Set<string>();
        for (const f of files) {
          const code: unknown = f.error && 'code' in f.error ? f.error.code : undefined;
          if (typeof code === 'string' && PASSING_READ_ERRORS.has(code)) {
            this.builtinPacks = undefined;
            this.logger.warn(`built-in rule pack ${f.path} could not be read (${code}); read again on the next request`);
            throw new DomainError('BUILTIN_CONTENT_UNAVAILABLE', `The built-in rule packs could not be read (${code}); retry shortly`, 'unavailable');
          }
          if (f.version) held.add(`${f.name}@${f.version}`);
          if (f.error || typeof f.json !== 'object' || f.json === null || Array.isArray(f.json)) continue;
          const p = f.json as { name: string; version: string; kind: string; description: string };
          views.push({ name: p.name, version: p.version, kind: p.kind, description: p.description, sha256: packDigest(f.json), source: 'builtin', ...builtinStamp });
        }
        return { views, files: held };
      },
      (e: unknown) => {
        this.builtinPacks = undefined;
        throw e;
      },
    );
    return this.builtinPacks;
  }

  // ---- policy bundles ----

  uploadBundle(principal: Principal, query: { name?: string; version?: string }, body: unknown): TransactionalCommand<BundleView> {
    const errors: ErrorDetail[] = [];
    const name = query.name ?? '';
    const version = query.version ?? '';
    if (!isName(name)) errors.push({ path: 'query:name', message: 'is required, in lower-kebab-case' });
    errors.push(...semverErrors(version, 'query:version'));
    if (!(body instanceof Uint8Array) || body.byteLength === 0) {
      errors.push({ path: '/', message: 'must be the bundle .tar.gz, sent as application/gzip' });
    }
    if (errors.length) throw new DomainError('VALIDATION_FAILED', `Bundle upload is invalid: ${errors.length} problem(s)`, 'invalid', errors);
    const bytes = body as Uint8Array;
    const sha256 = sha256Hex(bytes);
    return transactional(async ({ em, now }) => {
      const policy = await checkBundleUpload(bytes, name, version, this.policyBudget);
      const existing = await this.findBundle(em, principal.tenant, name, version);
      if (existing) {
        if (existing.sha256 === sha256) return unchanged(existing.view);
        throw exists('POLICY_BUNDLE_VERSION_EXISTS', `policy bundle ${name}@${version}`, existing.view.source);
      }
      await this.refuseOtherKind(em, principal.tenant, name, version, 'bundle');
      const entrypoints = [...policy.entrypoints];
      const inserted = await this.repo.insertBundle(em, { tenant: principal.tenant, name, version, sha256, entrypoints, content: bytes, by: principal.keyId, at: now });
      if (!inserted) {
        const winner = await this.findBundle(em, principal.tenant, name, version);
        if (winner?.sha256 === sha256) return unchanged(winner.view);
        throw exists('POLICY_BUNDLE_VERSION_EXISTS', `policy bundle ${name}@${version}`, 'tenant');
      }
      await this.audit.append(em, auditEntry(principal, 'author', now, 'policy_bundle.uploaded', 'policy_bundle', `${name}@${version}`, { sha256, sizeBytes: bytes.byteLength }));
      return created({ name, version, sha256, sizeBytes: bytes.byteLength, entrypoints, source: 'tenant', uploadedAt: now.toISOString(), uploadedBy: principal.keyId });
    });
  }

  async getBundle(principal: Principal, name: string, version: string) {
    const found = isName(name) && isSemver(version) ? await this.findBundle(this.db.em(), principal.tenant, name, version) : undefined;
    if (!found) throw new DomainError('POLICY_BUNDLE_NOT_FOUND', `No policy bundle ${name}@${version}`, 'not_found');
    return found.view;
  }

  private async findBundle(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<Found<BundleView> | undefined> {
    const m = await this.repo.bundleMeta(em, tenant, name, version);
    if (m) {
      const view: BundleView = { name, version, sha256: m.sha256, sizeBytes: m.sizeBytes, entrypoints: m.entrypoints, source: 'tenant', ...stamp(m) };
      return { sha256: m.sha256, view };
    }
    const bytes = await this.files.bundle(name, version);
    if (!bytes) return undefined;
    const sha256 = sha256Hex(bytes);
    const manifest = readBundle(bytes).manifest;
    const entrypoints = (manifest.wasm ?? []).map((w) => w.entrypoint);
    return { sha256, view: { name, version, sha256, sizeBytes: bytes.byteLength, entrypoints, source: 'builtin', ...builtinStamp } };
  }

  /** A release names components by name@version alone, so a type, a pack and a bundle must never share one. */
  private async refuseOtherKind(em: SqlEntityManager, tenant: string, name: string, version: string, kind: ComponentKind): Promise<void> {
    const codes: Record<ComponentKind, string> = { type: 'DECISION_TYPE_VERSION_EXISTS', pack: 'RULE_PACK_VERSION_EXISTS', bundle: 'POLICY_BUNDLE_VERSION_EXISTS' };
    // Held to commit, so a racing upload of another kind reads this one's committed row after us.
    await this.repo.lockComponentName(em, tenant, name, version);
    for (const other of (['type', 'pack', 'bundle'] as const).filter((k) => k !== kind)) {
      const found =
        other === 'pack'
          ? (await this.findPack(em, tenant, name, version)) ?? ((await this.builtinFileHolds(name, version)) || undefined)
          : other === 'bundle'
            ? await this.findBundle(em, tenant, name, version)
            : await this.findType(em, tenant, name, version);
      if (found) throw new DomainError(codes[kind], `${name}@${version} is already a ${KIND_NAMES[other]}; a release could not tell them apart`, 'conflict');
    }
  }

  // ---- decision types ----

  /**
   * Stores a decision type after its schema and semantic checks (it is bound to packs and bundles when a release names
   * it) and answers the stored document, as GET does (api-contract.md section 7).
   */
  uploadType(principal: Principal, body: unknown): TransactionalCommand<unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DomainError('VALIDATION_FAILED', 'Send the decision type as a JSON object', 'invalid', [{ path: '/', message: 'must be a decision type object' }]);
    }
    return transactional(async ({ em, now }) => {
      const doc = validateDecisionType(body);
      const { name, version } = doc;
      const sha256 = packDigest(body);
      const existing = await this.findType(em, principal.tenant, name, version);
      if (existing) {
        // Identical content (canonical JSON): the stored document is this one, even if it predates checks added since.
        if (existing.sha256 === sha256) return unchanged(body);
        throw exists('DECISION_TYPE_VERSION_EXISTS', `decision type ${name}@${version}`, existing.source);
      }
      // New content passes what an upload must (checks a stored type is loaded without), and fits the retention: a
      // window longer than this tenant keeps its history would silently count less than it says.
      checkAuthoredType(doc);
      checkRetention(doc.features, tenantRetentionDays(this.config, principal.tenant));
      await this.refuseOtherKind(em, principal.tenant, name, version, 'type');
      const inserted = await this.repo.insertType(em, { tenant: principal.tenant, name, version, sha256, content: body, by: principal.keyId, at: now });
      if (!inserted) {
        if ((await this.findType(em, principal.tenant, name, version))?.sha256 === sha256) return unchanged(body);
        throw exists('DECISION_TYPE_VERSION_EXISTS', `decision type ${name}@${version}`, 'tenant');
      }
      await this.audit.append(em, auditEntry(principal, 'author', now, 'decision_type.uploaded', 'decision_type', `${name}@${version}`, { sha256 }));
      return created(body);
    });
  }

  /** The stored (or built-in) decision type document. */
  async getType(principal: Principal, name: string, version: string): Promise<unknown> {
    const em = this.db.em();
    // Path parameters reach SQL: a name or version no type can have (a NUL byte, 10 KB) is simply not found.
    const found = isName(name) && isSemver(version) ? await this.findType(em, principal.tenant, name, version) : undefined;
    if (!found) throw new DomainError('DECISION_TYPE_NOT_FOUND', `No decision type ${name}@${version}`, 'not_found');
    return found.source === 'tenant' ? this.repo.typeContent(em, principal.tenant, name, version) : this.files.type(name, version);
  }

  private async findType(em: SqlEntityManager, tenant: string, name: string, version: string): Promise<{ sha256: string; source: Source } | undefined> {
    const m = await this.repo.typeMeta(em, tenant, name, version);
    if (m) return { sha256: m.sha256, source: 'tenant' };
    const json = await this.files.type(name, version);
    return json === undefined ? undefined : { sha256: packDigest(json), source: 'builtin' };
  }
}
