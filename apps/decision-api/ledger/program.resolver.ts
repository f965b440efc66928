/** Resolves reward programs (rule packs of kind reward-program) from a tenant's packs: uploaded, then built-in. */
import { compareSemver } from '../../../libs/names/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { programFromPack, type ProgramResolver, type RewardProgram } from '../../../libs/ledger/index.js';
import { validatePack } from '../../../libs/rules/index.js';

export interface ProgramPacks {
  /** The pack's JSON for this tenant (stored first, then built-in), or undefined. */
  content(tenant: string, name: string, version: string): Promise<unknown>;
  /** Every version of the pack this tenant can use. */
  versions(tenant: string, name: string): Promise<string[]>;
}

/** Compiled programs, shared by every request; each request reads packs through its own transaction. */
export class ProgramCatalogue {
  // Keyed by tenant too: two tenants may upload different packs under the same name@version.
  private readonly cache = new Map<string, Promise<RewardProgram>>();

  /**
   * A resolver reading through `packs`. Reads must use the caller's transaction: on PGlite (one connection) a read
   * through any other EntityManager would wait for that transaction forever.
   */
  resolver(packs: ProgramPacks): ProgramResolver {
    return { resolve: (tenant, ref) => this.resolve(packs, tenant, ref) };
  }

  private async resolve(packs: ProgramPacks, tenant: string, ref: string): Promise<RewardProgram> {
    const at = ref.indexOf('@');
    const name = at < 0 ? ref : ref.slice(0, at);
    let version = at < 0 ? undefined : ref.slice(at + 1);
    if (version === undefined) {
      const versions = (await packs.versions(tenant, name)).filter((v) => /^\d+\.\d+\.\d+/.test(v)).sort(compareSemver);
      version = versions[versions.length - 1];
    }
    if (!version) throw notFound(ref);
    const key = `${tenant}/${name}@${version}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = load(packs, tenant, name, version, ref);
      // A miss must not stick: the pack may be uploaded a moment later.
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

}

async function load(packs: ProgramPacks, tenant: string, name: string, version: string, ref: string): Promise<RewardProgram> {
  const json = await packs.content(tenant, name, version);
  if (json === undefined) throw notFound(ref);
  return programFromPack(validatePack(json));
}

function notFound(ref: string): DomainError {
  return new DomainError('PROGRAM_NOT_FOUND', `No reward program ${ref}`, 'unprocessable', [{ path: '/program', message: `no reward program ${ref}` }]);
}
