/** Loads packs named on the command line: files, a pack's folder (<version>.json files) or a rule-packs root. */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DomainError } from '../../libs/errors/index.js';
import { loadPackDirectory, loadPackFile, type RulePack } from '../../libs/rules/index.js';

export async function loadPacks(paths: string[]): Promise<{ file: string; pack: RulePack }[]> {
  const out: { file: string; pack: RulePack }[] = [];
  for (const p of paths.length ? paths : ['rule-packs']) {
    const abs = resolve(p);
    let isDir: boolean;
    try {
      isDir = (await stat(abs)).isDirectory();
    } catch {
      throw new DomainError('RULE_PACK_NOT_FOUND', `${p}: no such file or directory`, 'not_found');
    }
    if (!isDir) {
      out.push({ file: p, pack: await loadPackFile(abs) });
      continue;
    }
    // A rule-packs root holds <name>/<version>.json; a single pack's folder holds <version>.json.
    const own = (await readdir(abs)).filter((f) => f.endsWith('.json'));
    if (own.length) for (const f of own.sort()) out.push({ file: join(p, f), pack: await loadPackFile(join(abs, f)) });
    else out.push(...(await loadPackDirectory(abs)));
  }
  return out;
}
