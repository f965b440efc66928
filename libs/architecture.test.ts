/** The libs are framework-free and depend on each other without cycles; a change that breaks either fails here. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = import.meta.dirname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.test-support.ts') ? [p] : [];
  });
}

const libOf = (file: string): string => relative(root, file).split(sep)[0]!;
const IMPORT = /(?:import|export)[^'"]*?from\s+'([^']+)'/g;

const edges = new Map<string, Set<string>>();
const frameworkImports: string[] = [];
for (const file of sources(root)) {
  const lib = libOf(file);
  const text = readFileSync(file, 'utf8');
  for (const [, spec] of text.matchAll(IMPORT)) {
    if (spec!.startsWith('.')) {
      const target = libOf(join(file, '..', spec!));
      if (target !== lib && !target.startsWith('..')) (edges.get(lib) ?? edges.set(lib, new Set()).get(lib)!).add(target);
    } else if (/^@nestjs\//.test(spec!) || (/^@mikro-orm\//.test(spec!) && lib !== 'persistence')) {
      frameworkImports.push(`${relative(root, file)} imports ${spec}`);
    }
  }
}

describe('libs', () => {
  it('import no framework (MikroORM only in persistence)', () => {
    expect(frameworkImports).toEqual([]);
  });

  it('depend on each other without cycles', () => {
    const cycles: string[] = [];
    const visit = (lib: string, path: string[]): void => {
      if (path.includes(lib)) {
        cycles.push([...path.slice(path.indexOf(lib)), lib].join(' → '));
        return;
      }
      for (const next of edges.get(lib) ?? []) visit(next, [...path, lib]);
    };
    for (const lib of edges.keys()) visit(lib, []);
    expect(cycles).toEqual([]);
    expect(edges.get('ledger')?.has('decisions') ?? false).toBe(false);
  });
});
