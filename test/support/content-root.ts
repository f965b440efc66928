/** A throwaway CONTENT_ROOT: the repository's decision types, packs, bundles and releases plus extra pack versions a test needs. */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');

export async function readPack(name: string, version = '1.0.0'): Promise<Record<string, any>> {
  return JSON.parse(await readFile(join(repoRoot, 'rule-packs', name, `${version}.json`), 'utf8')) as Record<string, any>;
}

/**
 * refund-policy@1.1.0: the shipped pack with `autoApproveLimit` lowered to `limit`, so refunds above it go to REVIEW.
 * Its embedded cases assume the shipped limit, so the variant keeps only the clean case, under the new limit.
 */
export async function lowerAutoApproveLimit(limit: number, version = '1.1.0'): Promise<Record<string, any>> {
  const pack = await readPack('refund-policy');
  pack.version = version;
  pack.parameters.autoApproveLimit = limit;
  pack.tests.defaults.requestedAmount = Math.min(pack.tests.defaults.requestedAmount as number, limit);
  pack.tests.cases = (pack.tests.cases as unknown[]).slice(0, 1);
  return pack;
}

export interface ContentRoot {
  dir: string;
  remove(): Promise<void>;
}

export async function contentRoot(extraPacks: Record<string, any>[] = []): Promise<ContentRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'content-'));
  await cp(join(repoRoot, 'rule-packs'), join(dir, 'rule-packs'), { recursive: true });
  await cp(join(repoRoot, 'releases'), join(dir, 'releases'), { recursive: true });
  await cp(join(repoRoot, 'decision-types'), join(dir, 'decision-types'), { recursive: true });
  await cp(join(repoRoot, 'policies', 'bundles'), join(dir, 'policies', 'bundles'), { recursive: true });
  for (const pack of extraPacks) {
    await mkdir(join(dir, 'rule-packs', pack.name), { recursive: true });
    await writeFile(join(dir, 'rule-packs', pack.name, `${pack.version}.json`), JSON.stringify(pack, null, 2));
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
