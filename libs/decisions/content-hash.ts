/** Content hashes of packs, bundles and releases: canonical JSON (key order independent) and sha256. */
import { createHash } from 'node:crypto';
import type { ReleaseManifest } from './release.js';

/** JSON with object keys sorted at every level and undefined members dropped: one spelling per value. */
export function canonicalJson(value: unknown): string {
  // Every idempotent request is hashed through this: one string built in place, no per-level arrays. Its output is
  // stored (request hashes, content hashes), so it must never change: content-hash.test.ts holds it to the original.
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let out = '{';
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${quotedKey(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

// Bodies of one schema repeat their keys on every request; quoting them is most of the work left. Bounded.
const QUOTED = new Map<string, string>();
const MAX_QUOTED = 4_096;

function quotedKey(k: string): string {
  let q = QUOTED.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (QUOTED.size < MAX_QUOTED && k.length <= 64) QUOTED.set(k, q);
  }
  return q;
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
