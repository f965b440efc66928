/**
 * The pinned OPA CLI wherever `decisions` runs: found as scripts/opa.sh finds it, and run on a policy folder outside the
 * repository's policies/ (check, test, build) with the same rules scripts/opa.sh applies there.
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readTar } from '../../libs/policies/bundle-reader.js';
import { CliError } from './output.js';

/** The checkout the CLI runs from (dist/apps/cli → ../../..): its scripts/opa.sh and policies/OPA_VERSION pin OPA. */
export const packageRoot = resolve(import.meta.dirname, '../../..');

export async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command; answers its exit code, stdout, and stdout and stderr interleaved. `onStderr` sees stderr as it comes. */
export function runProcess(cmd: string, args: string[], cwd?: string, onStderr?: (chunk: string) => void): Promise<{ code: number; stdout: string; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { ...(cwd && { cwd }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
      onStderr?.(b.toString());
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, stdout, output }));
  });
}

/** Where scripts/opa.sh looks for the pinned OPA (.tools/bin, PATH, GOPATH/bin); true when one is there. */
export async function opaAvailable(root: string): Promise<boolean> {
  const candidates = [join(root, '.tools', 'bin', 'opa'), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'opa'))];
  candidates.push(join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'opa'));
  for (const c of candidates) if (await exists(c, constants.X_OK)) return true;
  return false;
}

/**
 * The pinned OPA's path, from this checkout's `scripts/opa.sh ensure` (which installs it with Go when it is missing).
 * What the script says goes to `say` as it says it: an install takes minutes, and the author should know why before it starts.
 */
export async function ensureOpa(say: (text: string) => void = (t) => process.stderr.write(t)): Promise<string> {
  const script = join(packageRoot, 'scripts', 'opa.sh');
  if (!(await exists(script))) throw new CliError(`${script} is missing: the CLI pins OPA with the repository's scripts/opa.sh`);
  const r = await runProcess('bash', [script, 'ensure'], undefined, say);
  const path = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !path) throw new CliError(`cannot find or install the pinned OPA (bash ${script} ensure exited ${r.code}: its output is above)`);
  return path;
}

/** The PASS/FAIL counts `opa test` printed (one `PASS: n/m` or `FAIL: n/m` line per run). */
export function testCounts(output: string): { passed: number; total: number } {
  let passed = 0;
  let total = 0;
  for (const m of output.matchAll(/^(?:PASS|FAIL): (\d+)\/(\d+)$/gm)) {
    passed += m[0].startsWith('PASS') ? Number(m[1]) : Number(m[2]) - Number(m[1]);
    total += Number(m[2]);
  }
  return { passed, total };
}

/** The policy folders under `<root>/policies` (every folder but bundles/), sorted. */
export async function policyDirs(root: string): Promise<string[]> {
  const dir = join(root, 'policies');
  if (!(await exists(dir))) return [];
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && e.name !== 'bundles')
    .map((e) => join(dir, e.name))
    .sort();
}

/** `opa check --strict` then `opa test -v` on one policy folder, as scripts/opa.sh test does for policies/. */
export async function opaTestDir(opa: string, dir: string): Promise<{ code: number; output: string; passed: number; total: number }> {
  const check = await runProcess(opa, ['check', '--strict', dir]);
  if (check.code !== 0) return { code: check.code, output: check.output, passed: 0, total: 0 };
  const r = await runProcess(opa, ['test', '-v', dir]);
  return { code: r.code, output: r.output, ...testCounts(r.output) };
}

interface PolicyManifest {
  revision?: unknown;
  metadata?: { name?: unknown; version?: unknown; entrypoints?: unknown };
}

/** A policy folder's .manifest, held to scripts/opa.sh's rules: name = folder, revision = version, an entrypoint at least. */
async function readManifest(dir: string): Promise<{ name: string; version: string; entrypoints: string[] }> {
  const file = join(dir, '.manifest');
  let m: PolicyManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as PolicyManifest;
  } catch (e) {
    throw new CliError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (needs revision, roots, metadata.name/version/entrypoints)' : (e as Error).message}`);
  }
  const { name, version, entrypoints } = m.metadata ?? {};
  if (typeof name !== 'string' || typeof version !== 'string' || !name || !version) throw new CliError(`${file}: metadata.name and metadata.version are required`);
  if (name !== basename(dir)) throw new CliError(`${file}: metadata.name '${name}' must match the directory name`);
  if (m.revision !== version) throw new CliError(`${file}: revision '${String(m.revision)}' must equal metadata.version '${version}'`);
  if (!Array.isArray(entrypoints) || entrypoints.length === 0 || !entrypoints.every((e) => typeof e === 'string')) {
    throw new CliError(`${file}: metadata.entrypoints must list at least one entrypoint`);
  }
  return { name, version, entrypoints };
}

/** Every file of a bundle and its bytes: two bundles with the same files are the same, whatever their tar metadata. */
function bundleFiles(bytes: Uint8Array): Map<string, Uint8Array> {
  return readTar(gunzipSync(bytes), 50 * 1024 * 1024);
}

function sameFiles(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, bytes] of a) {
    const other = b.get(name);
    if (!other || Buffer.compare(Buffer.from(bytes), Buffer.from(other)) !== 0) return false;
  }
  return true;
}

/** Committed at HEAD in the git repository holding it (git missing or no repository: not committed). */
async function committed(file: string): Promise<boolean> {
  try {
    return (await runProcess('git', ['-C', dirname(file), 'cat-file', '-e', `HEAD:./${basename(file)}`])).code === 0;
  } catch {
    return false;
  }
}

/**
 * Builds one policy folder into `<bundles>/<name>/<version>.tar.gz` as scripts/opa.sh build does: the manifest's rules,
 * `opa check --strict`, `opa build -t wasm -e <each entrypoint> --revision <version> --ignore '*_test.rego' -b`. A bundle
 * with the same files is left alone; a different one that is committed is refused (bump the version instead).
 */
export async function buildPolicyDir(opa: string, dir: string, bundles: string): Promise<{ file: string; changed: boolean; output: string }> {
  const { name, version, entrypoints } = await readManifest(dir);
  const check = await runProcess(opa, ['check', '--strict', dir]);
  if (check.code !== 0) throw new CliError(`opa check --strict ${dir} failed:\n${check.output.trimEnd()}`);
  const work = await mkdtemp(join(tmpdir(), 'decisions-build-'));
  try {
    const built = join(work, 'bundle.tar.gz');
    const args = ['build', '-t', 'wasm', ...entrypoints.flatMap((e) => ['-e', e]), '--revision', version, '--ignore', '*_test.rego', '-b', dir, '-o', built];
    const r = await runProcess(opa, args);
    if (r.code !== 0) throw new CliError(`opa build of ${dir} failed:\n${r.output.trimEnd()}`);
    const bytes = await readFile(built);
    const target = join(bundles, name, `${version}.tar.gz`);
    if (await exists(target)) {
      if (sameFiles(bundleFiles(bytes), bundleFiles(await readFile(target)))) return { file: target, changed: false, output: r.output };
      if (await committed(target)) {
        throw new CliError(`${target} is committed and bundles are immutable per version: bump the version in ${join(dir, '.manifest')} (revision and metadata.version)`);
      }
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
    return { file: target, changed: true, output: r.output };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
