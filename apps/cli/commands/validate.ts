/** `decisions validate [pack.json|dir]…`: the pack schema and the type check of every condition against the fact schema. */
import type { Command } from '../command.js';
import { loadPacks } from '../packs.js';

export const validate: Command = {
  name: 'validate',
  args: '[pack.json|dir]…',
  summary: 'check packs against the pack schema and their fact schemas (default: ./rule-packs)',
  async run({ io, positionals }) {
    const packs = await loadPacks(positionals);
    if (io.json) io.out(JSON.stringify(packs.map(({ file, pack }) => ({ file, pack: `${pack.name}@${pack.version}`, kind: pack.kind, rules: pack.rules.length })), null, 2));
    else for (const { file, pack } of packs) io.out(`ok  ${pack.name}@${pack.version} (${pack.kind}, ${pack.rules.length} rule${pack.rules.length === 1 ? '' : 's'})  ${file}`);
    return 0;
  },
};
