/** The authors' CLI as a real process (the built binary), as an author would run it. */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin', 'decisions.js');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('decisions CLI', () => {
  it('validates and tests the shipped packs', async () => {
    const v = await cli('validate');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('refund-policy@1.0.0');
    const t = await cli('test', 'rule-packs/refund-policy');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/\d+ passed, 0 failed/);
    // From the repository root `test` also runs `opa test` on policies/ when OPA is installed.
    expect(t.stdout).toMatch(/^(ok {3}policies \(opa test\): (\d+) of \2 passed|policies: skipped .*)$/m);
  });

  it('diffs two packs: parameters and rules', async () => {
    const pack = JSON.parse(await readFile(join(root, 'rule-packs/refund-policy/1.0.0.json'), 'utf8'));
    pack.version = '1.1.0';
    pack.parameters.autoApproveLimit = 40000;
    pack.rules = pack.rules.filter((r: { name: string }) => r.name !== 'return-rejected');
    pack.tests.cases = pack.tests.cases.filter((c: unknown) => !JSON.stringify(c).includes('RETURN_REJECTED'));
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    await writeFile(join(dir, '1.1.0.json'), JSON.stringify(pack));
    const r = await cli('diff', 'rule-packs/refund-policy/1.0.0.json', join(dir, '1.1.0.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('refund-policy@1.0.0 -> refund-policy@1.1.0');
    expect(r.stdout).toContain('  - return-rejected');
    expect(r.stdout).toContain('  ~ autoApproveLimit: 50000 -> 40000');
    expect(r.stdout).toContain('  - return rejected at inspection is denied');
  });

  it('diffs parameter tables: a parameter that became one, then a changed entry, key and default', async () => {
    const becameTable = await cli('diff', 'rule-packs/giftcard-redemption-policy/1.1.0.json', 'rule-packs/giftcard-redemption-policy/1.2.0.json');
    expect(becameTable.code).toBe(0);
    expect(becameTable.stdout).toContain('parameters:\n  - newDeviceAmount (was 10000)');
    expect(becameTable.stdout).toMatch(/parameter tables:\n {2}\+ newDeviceAmount \(by currency: \d+ entries, default 10000\)/);
    const pack = JSON.parse(await readFile(join(root, 'rule-packs/giftcard-redemption-policy/1.2.0.json'), 'utf8'));
    const table = pack.parameterTables.newDeviceAmount;
    pack.version = '1.2.1';
    table.values.JPY = 17000;
    table.values.XYZ = 1;
    delete table.values.KWD;
    table.default = 12000;
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    await writeFile(join(dir, '1.2.1.json'), JSON.stringify(pack));
    const r = await cli('diff', 'rule-packs/giftcard-redemption-policy/1.2.0.json', join(dir, '1.2.1.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  ~ newDeviceAmount: JPY 16000 -> 17000; + XYZ = 1; - KWD (was 30000); default 10000 -> 12000');
  });

  it('names the file, JSON path and rule of a type error, and exits non-zero', async () => {
    const pack = JSON.parse(await readFile(join(root, 'rule-packs/refund-policy/1.0.0.json'), 'utf8'));
    pack.rules[0].conditions.all[0].path = '$.daysSinceDeliveryy';
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'broken.json');
    await writeFile(file, JSON.stringify(pack));
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.json');
    expect(r.stderr).toContain('/rules/0/conditions/all/0/path');
    expect(r.stderr).toContain(pack.rules[0].name);
  });

  it("refuses a reward program whose parameters the ledger cannot use, as an upload would, naming the file and path", async () => {
    const pack = JSON.parse(await readFile(join(root, 'rule-packs/cashback-default/1.0.0.json'), 'utf8'));
    pack.parameters.graceDays = 1.5;
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'program.json');
    await writeFile(file, JSON.stringify(pack));
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('program.json');
    expect(r.stderr).toContain('/parameters/graceDays');
  });

  it('fails a pack whose embedded case no longer holds', async () => {
    const pack = JSON.parse(await readFile(join(root, 'rule-packs/refund-policy/1.0.0.json'), 'utf8'));
    pack.parameters.autoApproveLimit = 40000; // the 50000 boundary case must now fail
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'changed.json');
    await writeFile(file, JSON.stringify(pack));
    const r = await cli('test', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL/);
  });

  it('validates decision types: the built-in ones pass; a broken one is refused naming the file and every JSON path', async () => {
    const v = await cli('validate', 'decision-types');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('ok  refund@1.0.0 (decision type: derive → policy refund/risk/assessment → rules refund-policy; DENY > REVIEW > APPROVE; 0 tests)');
    expect(v.stdout).toContain('ok  redemption@1.0.0 (decision type: policy ledger/redemption/decision; DENY > APPROVE; 0 tests)');

    const type = JSON.parse(await readFile(join(root, 'test/fixtures/goodwill-credit/type.json'), 'utf8'));
    type.pipeline[2].packKind = 'Goodwill_Policy';
    type.caseRef = 'creditId';
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'broken-type.json');
    await writeFile(file, JSON.stringify(type));
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error DECISION_TYPE_INVALID: ${file}: goodwill-credit@1.0.0 is invalid`);
    expect(r.stderr).toContain(`  /pipeline/2/packKind: ${file}: `);
    expect(r.stderr).toContain(`  /caseRef: ${file}: `);
    // A type outside a content folder: valid, but no pack or bundle beside it to run its cases with.
    const t = await cli('test', join(root, 'test/fixtures/goodwill-credit/type.json'), '--no-opa');
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('skip goodwill-credit@1.0.0  type cases not run: not in a content folder');
  });

  it('init --type refuses a content root, where the scaffold would be every tenant’s built-in', async () => {
    const r = await cli('init', '--type', 'payout-approval', '--dir', '.');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: . is a service's content root (it holds releases/, as a content root does)");
    await expect(readFile(join(root, 'decision-types/payout-approval/1.0.0.json'))).rejects.toThrow('ENOENT');
  });

  it('init scaffolds a pack into drafts/, never into a content root’s rule-packs/ where it would be every tenant’s built-in', async () => {
    const r = await cli('init', 'frequent-refunders', '--dir', 'rule-packs');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: rule-packs holds the built-in packs of a service's content root (its parent folder: it holds releases/");
    await expect(readFile(join(root, 'rule-packs/frequent-refunders/1.0.0.json'))).rejects.toThrow('ENOENT');

    // Outside a content root the default is drafts/ (a folder the service never reads).
    const dir = await mkdtemp(join(tmpdir(), 'cli-init-'));
    const { stdout } = await run(process.execPath, [bin, 'init', 'frequent-refunders'], { cwd: dir });
    expect(stdout).toContain('created drafts/frequent-refunders/1.0.0.json');
    expect(JSON.parse(await readFile(join(dir, 'drafts/frequent-refunders/1.0.0.json'), 'utf8'))).toMatchObject({ name: 'frequent-refunders' });
  });

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await cli('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await cli('-V')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(JSON.parse((await cli('--version', '--json')).stdout)).toEqual({ version });
  });

  it('build says that it installs OPA, and how, before it starts to', async () => {
    // A checkout of the built CLI without OPA anywhere, and a `go` that cannot download: the install is announced, then fails.
    const dir = await mkdtemp(join(tmpdir(), 'cli-opa-'));
    try {
      await cp(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
      await cp(join(root, 'scripts', 'opa.sh'), join(dir, 'scripts', 'opa.sh'));
      await cp(join(root, 'policies', 'OPA_VERSION'), join(dir, 'policies', 'OPA_VERSION'));
      await cp(join(root, 'package.json'), join(dir, 'package.json'));
      await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
      await mkdir(join(dir, 'bin'));
      await writeFile(join(dir, 'bin', 'go'), `#!/bin/sh\ncase "$1" in env) echo ${dir}/gopath ;; install) echo "go: no module proxy here" >&2; exit 1 ;; esac\n`);
      await chmod(join(dir, 'bin', 'go'), 0o755);
      await mkdir(join(dir, 'content', 'policies', 'risk'), { recursive: true });
      await writeFile(join(dir, 'content', 'policies', 'risk', '.manifest'), '{}');
      const version = (await readFile(join(root, 'policies', 'OPA_VERSION'), 'utf8')).trim();

      const env = { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, HOME: dir, GOPATH: join(dir, 'gopath') };
      const r = await run(process.execPath, [join(dir, 'dist', 'apps', 'cli', 'main.js'), 'build', 'content'], { cwd: dir, env }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(1);
      // Said as it happens (once, streamed from scripts/opa.sh), then Go's own error, then the CLI's last word.
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toEqual([
        `opa.sh: OPA ${version} not found; installing it with go install github.com/open-policy-agent/opa@${version} into ${dir}/.tools/bin (once; a few minutes)`,
        'go: no module proxy here',
        `opa.sh: error: go install github.com/open-policy-agent/opa@${version} failed with exit code 1 (see Go's error above)`,
        `error: cannot find or install the pinned OPA (bash ${dir}/scripts/opa.sh ensure exited 1: its output is above)`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with usage on an unknown command', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage');
  });
});
