/** Reads components from the repository layout: rule-packs/<name>/<version>.json, policies/bundles/<name>/<version>.tar.gz. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../errors/index.js';
import type { ComponentSource, ReleaseManifest } from './release.js';

const SAFE = /^[a-z0-9][a-z0-9._-]*$/i; // names and versions become path segments: no traversal

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export class FileComponentSource implements ComponentSource {
  constructor(private readonly root: string) {}

  async pack(name: string, version: string): Promise<unknown> {
    if (!SAFE.test(name) || !SAFE.test(version)) return undefined;
    const raw = await readIfExists(join(this.root, 'rule-packs', name, `${version}.json`));
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (e) {
      throw new DomainError('RULE_PACK_INVALID', `rule-packs/${name}/${version}.json is not JSON: ${(e as Error).message}`, 'unprocessable');
    }
  }

  async bundle(name: string, version: string): Promise<Uint8Array | undefined> {
    if (!SAFE.test(name) || !SAFE.test(version)) return undefined;
    return readIfExists(join(this.root, 'policies', 'bundles', name, `${version}.tar.gz`));
  }

  /** Versions of a pack present on disk (unordered). */
  async packVersions(name: string): Promise<string[]> {
    if (!SAFE.test(name)) return [];
    try {
      return (await readdir(join(this.root, 'rule-packs', name))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Every release manifest under releases/<name>/<version>.json. */
  async releases(): Promise<ReleaseManifest[]> {
    const dir = join(this.root, 'releases');
    const out: ReleaseManifest[] = [];
    for (const name of await readdir(dir)) {
      for (const file of await readdir(join(dir, name))) {
        if (!file.endsWith('.json')) continue;
        out.push(JSON.parse(await readFile(join(dir, name, file), 'utf8')) as ReleaseManifest);
      }
    }
    return out;
  }
}
