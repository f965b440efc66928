/**
 * Releases: immutable per tenant and name@version, naming exact component versions. A release is stored only when every
 * component resolves for the tenant, the whole compiles, and the decision types it names bind and type-check.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { checkReleaseRetention, checkReleaseTypes, releaseDigest, releaseManifestSchema, SchemaValidator, type FileComponentSource, type ReleaseManifest } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { AuditRepository, CatalogueRepository, type Database, type Principal } from '../../../libs/persistence/index.js';
import { isName, isSemver } from '../../../libs/names/index.js';
import { auditEntry } from '../audit/audit-entry.js';
import { exists, type Source } from '../catalogue/stored.js';
import { encodeCursor } from '../http/cursor.js';
import { created, transactional, unchanged } from '../commands/command.js';
import { tenantRetentionDays, type AppConfig } from '../config.js';
import { APP_CONFIG, CONTENT_SOURCE, DATABASE } from '../tokens.js';
import { ReleaseRegistry } from './release.registry.js';

const createRelease = new SchemaValidator<ReleaseManifest>(releaseManifestSchema, 'Release');


/** Release components as the contract shows them: sorted by name, so equal releases read the same. */
function sortedComponents(c: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1)));
}

@Injectable()
export class ReleasesService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CONTENT_SOURCE) private readonly files: FileComponentSource,
    private readonly registry: ReleaseRegistry,
    private readonly repo: CatalogueRepository,
    private readonly audit: AuditRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  createRelease(principal: Principal, body: unknown) {
    const input = createRelease.validate(body);
    const manifest: ReleaseManifest = { name: input.name, version: input.version, components: sortedComponents(input.components) };
    if (input.description !== undefined) manifest.description = input.description;
    const sha256 = releaseDigest(manifest);
    return transactional(async ({ em, now }) => {
      const existing = await this.findRelease(em, principal.tenant, manifest.name, manifest.version);
      if (existing) {
        if (existing.sha256 === sha256) return unchanged(existing.view);
        throw exists('RELEASE_VERSION_EXISTS', `release ${manifest.name}@${manifest.version}`, existing.view.source);
      }
      // Every component must resolve for this tenant (all missing ones named at once), the whole must compile, and the
      // decision types it names must bind to its packs and bundles and type-check.
      const compiled = await this.registry.compile(this.registry.source(principal.tenant, em), manifest);
      checkReleaseTypes(compiled);
      checkReleaseRetention(compiled, tenantRetentionDays(this.config, principal.tenant));
      const inserted = await this.repo.insertRelease(em, { tenant: principal.tenant, manifest, sha256, by: principal.keyId, at: now });
      if (!inserted) {
        // Another request stored it meanwhile (we read its committed row now): identical content is the same release.
        const winner = await this.findRelease(em, principal.tenant, manifest.name, manifest.version);
        if (winner?.sha256 === sha256) return unchanged(winner.view);
        throw exists('RELEASE_VERSION_EXISTS', `release ${manifest.name}@${manifest.version}`, 'tenant');
      }
      await this.audit.append(em, auditEntry(principal, 'author', now, 'release.created', 'release', `${manifest.name}@${manifest.version}`, { sha256 }));
      return created(this.releaseView(manifest, sha256, 'tenant', now.toISOString(), principal.keyId));
    });
  }

  /** The tenant's stored releases newest first, and the built-in release (which decides until the tenant activates one). */
  async listReleases(principal: Principal, limit: number, after?: { createdAt: string; name: string; version: string }) {
    const rows = await this.repo.releases(this.db.em(), principal.tenant, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const builtin = this.registry.builtinRelease.manifest;
    return {
      items: page.map((r) => this.releaseView(r.manifest, r.sha256, 'tenant', r.uploadedAt.toISOString(), r.uploadedBy)),
      builtin: this.releaseView(builtin, releaseDigest(builtin), 'builtin', null, null),
      nextCursor: rows.length > limit && last ? encodeCursor({ at: last.uploadedAt.toISOString(), name: last.name, version: last.version }) : null,
    };
  }

  async getRelease(principal: Principal, name: string, version: string) {
    const found = isName(name) && isSemver(version) ? await this.findRelease(this.db.em(), principal.tenant, name, version) : undefined;
    if (!found) throw new DomainError('RELEASE_NOT_FOUND', `No release ${name}@${version}`, 'not_found');
    return found.view;
  }

  private async findRelease(em: SqlEntityManager, tenant: string, name: string, version: string) {
    const stored = await this.repo.release(em, tenant, name, version);
    if (stored) {
      return { sha256: stored.sha256, view: this.releaseView(stored.manifest, stored.sha256, 'tenant', stored.uploadedAt.toISOString(), stored.uploadedBy) };
    }
    const builtin = await this.files.release(name, version);
    if (!builtin) return undefined;
    const sha256 = releaseDigest(builtin);
    return { sha256, view: this.releaseView(builtin, sha256, 'builtin', null, null) };
  }

  private releaseView(m: ReleaseManifest, sha256: string, source: Source, createdAt: string | null, createdBy: string | null) {
    return { name: m.name, version: m.version, description: m.description ?? null, components: sortedComponents(m.components), sha256, source, createdAt, createdBy };
  }

}
