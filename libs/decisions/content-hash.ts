/** Content hashes of packs, bundles and releases: canonical JSON (key order independent) and sha256. */
import { createHash } from 'node:crypto';
import type { ReleaseManifest } from './release.js';

/** JSON with object keys sorted at every level and undefined members dropped: one spelling per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A rule pack's content hash: the same pack with its keys in another order hashes the same. */
export function packDigest(pack: unknown): string {
  return sha256Hex(canonicalJson(pack));
}

/** A release's content hash: name, version and exact components. The description is a note, not content. */
export function releaseDigest(m: ReleaseManifest): string {
  return sha256Hex(canonicalJson({ name: m.name, version: m.version, components: m.components }));
}
