/** The authors' CLI: `decisions validate|test <pack.json|dir>…`. Exits non-zero on any failure. */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DomainError } from '../../libs/errors/index.js';
import { compilePack, loadPackDirectory, loadPackFile, runPackTests, type RulePack } from '../../libs/rules/index.js';

const USAGE = `usage: decisions <command> [paths…]

commands:
  validate <pack.json|dir>…   check packs against the pack schema and their fact schemas
  test <pack.json|dir>…       validate, then run every embedded test case
  help                        this text

Paths default to ./rule-packs. Errors name the file and the JSON path.`;

async function loadPacks(paths: string[]): Promise<{ file: string; pack: RulePack }[]> {
  const out: { file: string; pack: RulePack }[] = [];
  for (const p of paths.length ? paths : ['rule-packs']) {
    const abs = resolve(p);
    if (!(await stat(abs)).isDirectory()) {
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

function printError(e: unknown): void {
  if (e instanceof DomainError) {
    console.error(`error ${e.code}: ${e.message}`);
    for (const d of e.errors) console.error(`  at ${d.path}${d.rule ? ` (rule ${d.rule})` : ''}: ${d.message}`);
  } else {
    console.error(e instanceof Error ? e.message : String(e));
  }
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate': {
        const packs = await loadPacks(rest);
        for (const { file, pack } of packs) console.log(`ok  ${pack.name}@${pack.version} (${pack.kind}, ${pack.rules.length} rules)  ${file}`);
        return 0;
      }
      case 'test': {
        let failed = 0;
        let passed = 0;
        for (const { file, pack } of await loadPacks(rest)) {
          const report = await runPackTests(compilePack(pack));
          passed += report.passed;
          failed += report.failed;
          console.log(`${report.failed ? 'FAIL' : 'ok  '} ${report.pack}  ${report.passed} passed, ${report.failed} failed  ${file}`);
          for (const c of report.cases.filter((x) => !x.passed)) {
            console.log(`     ✗ ${c.name}: ${c.message ?? ''}`);
          }
        }
        console.log(`${passed} passed, ${failed} failed`);
        return failed ? 1 : 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    printError(e);
    return 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
