/**
 * `decisions validate [pack.json|type.json|dir]…`: a pack's schema and the type check of every condition against its fact
 * schema; a decision type's schema and semantic checks (validateDecisionType).
 */
import type { Command } from '../command.js';
import { loadContent } from '../content.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const validate: Command = {
  name: 'validate',
  args: '[pack.json|type.json|dir]…',
  summary: 'check packs against the pack schema and their fact schemas, and decision types against theirs (default: ./rule-packs)',
  async run({ io, positionals }) {
    const { packs, types } = await loadContent(positionals);
    if (io.json) {
      io.out(
        JSON.stringify(
          [
            ...packs.map(({ file, pack }) => ({ file, pack: `${pack.name}@${pack.version}`, kind: pack.kind, rules: pack.rules.length })),
            ...types.map(({ file, doc }) => ({ file, type: `${doc.name}@${doc.version}`, kind: doc.kind, steps: doc.pipeline.map((s) => s.step), outcomes: doc.outcomes, tests: doc.tests?.cases.length ?? 0 })),
          ],
          null,
          2,
        ),
      );
      return 0;
    }
    for (const { file, pack } of packs) io.out(`ok  ${pack.name}@${pack.version} (${pack.kind}, ${plural(pack.rules.length, 'rule')})  ${file}`);
    for (const { file, doc } of types) {
      const steps = doc.pipeline.map((s) => (s.step === 'rules' ? `rules ${s.packKind}` : s.step === 'policy' ? `policy ${s.entrypoint}` : s.step)).join(' → ');
      io.out(`ok  ${doc.name}@${doc.version} (decision type: ${steps}; ${doc.outcomes.join(' > ')}; ${plural(doc.tests?.cases.length ?? 0, 'test')})  ${file}`);
    }
    return 0;
  },
};
