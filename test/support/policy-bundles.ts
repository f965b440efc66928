/** Policy bundles that misbehave, for the evaluation budget tests: built from a committed bundle or from Rego with OPA. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackBundle, variantBundle } from '../../libs/policies/bundle.test-support.js';
import { op, replaceExportedFunction } from '../../libs/policies/wasm-assemble.test-support.js';
import { repoRoot } from './content-root.js';

/**
 * The committed refund-risk bundle as `name@version`, with OPA's `opa_eval` (what every evaluation calls) replaced by
 * `loop br 0`: it loads like any bundle opa build makes, and no evaluation of it ever returns.
 */
export async function neverReturningBundle(name: string, version: string): Promise<Uint8Array> {
  const committed = new Uint8Array(await readFile(join(repoRoot, 'policies/bundles/refund-risk/1.0.0.tar.gz')));
  const wasm = replaceExportedFunction(unpackBundle(committed).get('policy.wasm')!, 'opa_eval', [op.loop, op.void, op.br, 0, op.end, op.unreachable]);
  return variantBundle(committed, name, version, { wasm });
}

/** The pinned OPA CLI (scripts/opa.sh installs it into .tools/bin; CI runs that before the tests). */
function opa(): string {
  execFileSync('bash', [join(repoRoot, 'scripts/opa.sh'), 'ensure'], { stdio: 'inherit' });
  const local = join(repoRoot, '.tools/bin/opa');
  return existsSync(local) ? local : 'opa';
}

/** `opa build -t wasm` of one Rego module as bundle `name@version` exposing `entrypoint`. */
export async function regoBundle(name: string, version: string, entrypoint: string, rego: string): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'rego-'));
  try {
    const root = entrypoint.split('/')[0]!;
    await writeFile(join(dir, 'policy.rego'), rego);
    await writeFile(join(dir, '.manifest'), JSON.stringify({ revision: version, roots: [root], metadata: { name, version, entrypoints: [entrypoint] } }));
    const out = join(dir, 'bundle.tar.gz');
    execFileSync(opa(), ['build', '-t', 'wasm', '-e', entrypoint, '--revision', version, '-b', dir, '--ignore', '*.tar.gz', '-o', out], { stdio: 'inherit' });
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
