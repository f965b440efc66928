/** Resolves reward programs (rule packs of kind reward-program) from the repository's packs, compiled once per version. */
import { compareSemver, FileComponentSource } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { programFromPack, type ProgramResolver, type RewardProgram } from '../../../libs/ledger/index.js';
import { validatePack } from '../../../libs/rules/index.js';

export class PackProgramResolver implements ProgramResolver {
  private readonly cache = new Map<string, Promise<RewardProgram>>();

  constructor(private readonly source: FileComponentSource) {}

  async resolve(_tenant: string, ref: string): Promise<RewardProgram> {
    const at = ref.indexOf('@');
    const name = at < 0 ? ref : ref.slice(0, at);
    let version = at < 0 ? undefined : ref.slice(at + 1);
    if (version === undefined) {
      const versions = (await this.source.packVersions(name)).filter((v) => /^\d+\.\d+\.\d+/.test(v)).sort(compareSemver);
      version = versions[versions.length - 1];
    }
    if (!version) throw notFound(ref);
    const key = `${name}@${version}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.load(name, version, ref);
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async load(name: string, version: string, ref: string): Promise<RewardProgram> {
    const json = await this.source.pack(name, version);
    if (json === undefined) throw notFound(ref);
    return programFromPack(validatePack(json));
  }
}

function notFound(ref: string): DomainError {
  return new DomainError('PROGRAM_NOT_FOUND', `No reward program ${ref}`, 'unprocessable', [{ path: '/program', message: `no reward program ${ref}` }]);
}
