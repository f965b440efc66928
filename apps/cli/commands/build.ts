/**
 * `decisions build [dir]…`: OPA Wasm bundles, one per policy and version. Without a folder, the repository's policies/
 * (scripts/opa.sh build); with a content folder (say one `init --type` made) or a policy folder in one, its policies/<name>/
 * into its policies/bundles/<name>/<version>.tar.gz, by the same rules.
 */
import { spawn } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { CliError } from '../output.js';
import { buildPolicyDir, ensureOpa, exists, policyDirs } from '../opa.js';

/** scripts/opa.sh build in the working directory (the repository root), its output forwarded to stderr. */
function buildRepository(json: boolean): Promise<{ code: number; bundles: { file: string; changed: boolean }[] }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['scripts/opa.sh', 'build'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const forward = (b: Buffer) => {
      output += b.toString();
      // Even with --json (stdout is the document), say that OPA is being installed: it takes minutes.
      if (!json || b.toString().includes('not found; installing')) process.stderr.write(b);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', fail);
    child.on('close', (code) => {
      const bundles = [...output.matchAll(/opa\.sh: (?:wrote (\S+)|(\S+) is up to date)/g)].map((m) => ({ file: (m[1] ?? m[2])!, changed: m[1] !== undefined }));
      done({ code: code ?? 1, bundles });
    });
  });
}

/** The policy folders a path names and where their bundles go: a content folder's policies/*, or one policies/<name>/. */
async function targets(path: string): Promise<{ dir: string; bundles: string }[]> {
  if (await exists(join(path, '.manifest'))) {
    if (basename(dirname(resolve(path))) !== 'policies') throw new CliError(`${path}: a policy folder is built from <folder>/policies/<name>/ into <folder>/policies/bundles/`, 2);
    return [{ dir: path, bundles: join(path, '..', 'bundles') }];
  }
  const dirs = await policyDirs(path);
  if (!dirs.length) throw new CliError(`${path}: no policies/<name>/ folders to build (nor a .manifest: not a policy folder)`, 2);
  return dirs.map((dir) => ({ dir, bundles: join(path, 'policies', 'bundles') }));
}

export const build: Command = {
  name: 'build',
  args: '[dir]…',
  summary:
    'build policies/<name>/ into policies/bundles/<name>/<version>.tar.gz (opa build -t wasm); with folders, the policies/ of each ' +
    '(e.g. the folder `init --type` made)',
  async run({ io, positionals }) {
    let code = 0;
    let bundles: { file: string; changed: boolean }[] = [];
    if (!positionals.length) ({ code, bundles } = await buildRepository(io.json));
    else {
      const all = [];
      for (const p of positionals) {
        if (!(await exists(p))) throw new CliError(`${p}: no such directory`, 2);
        all.push(...(await targets(p)));
      }
      const opa = await ensureOpa();
      for (const t of all) {
        const b = await buildPolicyDir(opa, t.dir, t.bundles);
        if (!io.json && b.output.trim()) process.stderr.write(b.output);
        bundles.push({ file: b.file, changed: b.changed });
      }
    }
    if (io.json) io.out(JSON.stringify({ ok: code === 0, bundles }, null, 2));
    else if (code === 0) for (const b of bundles) io.out(`${b.changed ? 'built' : 'up to date'}  ${b.file}`);
    return code;
  },
};
