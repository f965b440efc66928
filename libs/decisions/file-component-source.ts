/** Reads components from the repository layout: decision-types/<name>/<version>.json, rule-packs/<name>/<version>.json, policies/bundles/<name>/<version>.tar.gz. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../errors/index.js';
import { compareSemver, isName, isSemver } from '../names/index.js';

/** Names and versions become path segments: only a valid name and a semantic version, so no traversal. */
const safe = (name: string, version: string): boolean => isName(name) && isSemver(version);
import { packDigest, sha256Hex } from './content-hash.js';
import type { ComponentDigest, ComponentSource, ReleaseManifest } from './release.js';


async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** A built-in pack's file: its JSON, or why it could not be read as JSON. */
export interface PackFile {
  name: string;
  version: string;
  /** Relative to the content root. */
  path: string;
  json?: unknown;
  error?: Error;
}

export class FileComponentSource implements ComponentSource {
  /** Found components only: a released version's file never changes (replay depends on it), a missing one may appear. */
  private readonly digests = new Map<string, ComponentDigest>();

  constructor(private readonly root: string) {}

  async digest(name: string, version: string): Promise<ComponentDigest | undefined> {
    const key = `${name}@${version}`;
    const hit = this.digests.get(key);
    if (hit) return hit;
    const pack = await this.pack(name, version);
    let found: ComponentDigest | undefined;
    if (pack !== undefined) found = { kind: 'pack', sha256: packDigest(pack) };
    else {
      const bytes = await this.bundle(name, version);
      if (bytes !== undefined) found = { kind: 'bundle', sha256: sha256Hex(bytes) };
      else {
        const type = await this.type(name, version);
        if (type !== undefined) found = { kind: 'type', sha256: packDigest(type) };
      }
    }
    if (found) this.digests.set(key, found);
    return found;
  }

  pack(name: string, version: string): Promise<unknown> {
    return this.json('rule-packs', name, version, 'RULE_PACK_INVALID');
  }

  type(name: string, version: string): Promise<unknown> {
    return this.json('decision-types', name, version, 'DECISION_TYPE_INVALID');
  }

  private async json(dir: string, name: string, version: string, code: string): Promise<unknown> {
    if (!safe(name, version)) return undefined;
    const raw = await readIfExists(join(this.root, dir, name, `${version}.json`));
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (e) {
      throw new DomainError(code, `${dir}/${name}/${version}.json is not JSON: ${(e as Error).message}`, 'unprocessable');
    }
  }

  async bundle(name: string, version: string): Promise<Uint8Array | undefined> {
    if (!safe(name, version)) return undefined;
    return readIfExists(join(this.root, 'policies', 'bundles', name, `${version}.tar.gz`));
  }

  /** Versions of a pack present on disk (unordered). */
  async packVersions(name: string): Promise<string[]> {
    if (!isName(name)) return [];
    return (await readdirIfExists(join(this.root, 'rule-packs', name))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  }

  /**
   * Every pack under rule-packs/<name>/<version>.json, with where it was found (`rule-packs/<name>/<version>.json`):
   * its parsed JSON, or the error reading it gave (a file that is not JSON, a folder where a file should be, one that
   * cannot be read), so that one bad file does not hide the others.
   */
  async packFiles(): Promise<PackFile[]> {
    const out: PackFile[] = [];
    for (const name of (await readdirIfExists(join(this.root, 'rule-packs'))).sort()) {
      let versions: string[];
      try {
        versions = await this.packVersions(name);
      } catch (e) {
        // A file beside the pack folders (a README) is no pack; a folder that cannot be read is named.
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        out.push({ name, version: '', path: `rule-packs/${name}`, error: e as Error });
        continue;
      }
      // A name or version that is not one (a stray file) is no pack: pack() reads none.
      for (const version of versions.filter(isSemver).sort(compareSemver)) {
        const path = `rule-packs/${name}/${version}.json`;
        try {
          const json = await this.pack(name, version);
          if (json !== undefined) out.push({ name, version, path, json });
        } catch (e) {
          out.push({ name, version, path, error: e as Error });
        }
      }
    }
    return out;
  }

  /** Every decision type under decision-types/<name>/<version>.json, parsed. */
  async types(): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const name of await readdirIfExists(join(this.root, 'decision-types'))) {
      if (!isName(name)) continue;
      for (const f of await readdirIfExists(join(this.root, 'decision-types', name))) {
        if (f.endsWith('.json')) out.push(await this.type(name, f.slice(0, -'.json'.length)));
      }
    }
    return out;
  }

  /** The release manifest releases/<name>/<version>.json, or undefined. */
  async release(name: string, version: string): Promise<ReleaseManifest | undefined> {
    if (!safe(name, version)) return undefined;
    const raw = await readIfExists(join(this.root, 'releases', name, `${version}.json`));
    return raw === undefined ? undefined : (JSON.parse(raw.toString('utf8')) as ReleaseManifest);
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

  /** The newest release manifest (by semantic version) named `name`, or undefined: the built-in release the service serves. */
  async newestRelease(name: string): Promise<ReleaseManifest | undefined> {
    const manifests = (await this.releases()).filter((m) => m.name === name && isSemver(m.version));
    return manifests.sort((a, b) => compareSemver(b.version, a.version))[0];
  }
}
