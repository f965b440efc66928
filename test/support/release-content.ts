/** Packs, bundles and releases the release tests upload: real content, changed the way authors change it. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readPack, repoRoot } from './content-root.js';

/**
 * refund-policy@`version` with `autoApproveLimit` set to `limit` (≥ 12001, above every amount the other embedded cases
 * use) and its two boundary cases moved to the new limit, so every embedded case still passes.
 */
export async function refundPolicyWithLimit(limit: number, version: string): Promise<Record<string, any>> {
  const pack = await readPack('refund-policy');
  pack.version = version;
  pack.parameters.autoApproveLimit = limit;
  for (const c of pack.tests.cases as { name: string; facts: Record<string, any> }[]) {
    if (c.name.startsWith('auto-approve: exactly')) {
      c.name = `auto-approve: exactly ${limit} is approved automatically`;
      c.facts.requestedAmount = limit;
    } else if (c.name.startsWith('auto-approve: ')) {
      c.name = `auto-approve: ${limit + 1} goes to review`;
      c.facts.requestedAmount = limit + 1;
    }
  }
  return pack;
}

export function bundleBytes(name: string, version = '1.0.0'): Promise<Buffer> {
  return readFile(join(repoRoot, 'policies', 'bundles', name, `${version}.tar.gz`));
}

/**
 * The bundle with byte-for-byte edits inside its tar (each `from` replaced by a `to` of the same length, so no tar
 * header changes), gzipped again: a real change of its manifest or data.json, as a rebuild would make.
 */
export function editBundle(bytes: Uint8Array, edits: [from: string, to: string][]): Buffer {
  let tar = gunzipSync(bytes).toString('latin1');
  for (const [from, to] of edits) {
    if (from.length !== to.length) throw new Error(`edit must keep the length: ${from} → ${to}`);
    if (!tar.includes(from)) throw new Error(`bundle does not contain ${from}`);
    tar = tar.replace(from, to);
  }
  return gzipSync(Buffer.from(tar, 'latin1'));
}

/** refund-risk as another version, HIGH_AMOUNT weighing 21 instead of 20. */
export async function refundRiskVersion(version: string): Promise<Buffer> {
  if (version.length !== 5) throw new Error('the edit keeps lengths: use an x.y.z version');
  return editBundle(await bundleBytes('refund-risk'), [
    ['"revision":"1.0.0"', `"revision":"${version}"`],
    ['"name":"refund-risk","version":"1.0.0"', `"name":"refund-risk","version":"${version}"`],
    ['"weight":20', '"weight":21'],
  ]);
}
