/** `decisions test [pack.json|dir]…`: every pack's embedded cases, then `opa test` on policies/ when OPA is at hand. */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { compilePack, runPackTests } from '../../../libs/rules/index.js';
import type { Command } from '../command.js';
import { loadPacks } from '../packs.js';

async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Where scripts/opa.sh looks for the pinned OPA (.tools/bin, PATH, GOPATH/bin); true when one is there. */
async function opaAvailable(root: string): Promise<boolean> {
  const candidates = [join(root, '.tools', 'bin', 'opa'), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'opa'))];
  candidates.push(join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'opa'));
  for (const c of candidates) if (await exists(c, constants.X_OK)) return true;
  return false;
}

/** Runs `bash scripts/opa.sh test`; answers its exit code, output, and the PASS/FAIL counts OPA printed. */
function opaTest(root: string): Promise<{ code: number; output: string; passed: number; total: number }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [join(root, 'scripts', 'opa.sh'), 'test'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      let passed = 0;
      let total = 0;
      for (const m of output.matchAll(/^(?:PASS|FAIL): (\d+)\/(\d+)$/gm)) {
        passed += m[0].startsWith('PASS') ? Number(m[1]) : Number(m[2]) - Number(m[1]);
        total += Number(m[2]);
      }
      done({ code: code ?? 1, output, passed, total });
    });
  });
}

export const test: Command = {
  name: 'test',
  args: '[pack.json|dir]… [--no-opa]',
  summary: "validate, run every embedded test case, then `opa test` on ./policies when OPA is installed",
  options: { 'no-opa': { type: 'boolean' } },
  async run({ io, positionals, values }) {
    let failed = 0;
    let passed = 0;
    const reports = [];
    for (const { file, pack } of await loadPacks(positionals)) {
      const report = await runPackTests(compilePack(pack));
      reports.push({ file, ...report });
      passed += report.passed;
      failed += report.failed;
      if (io.json) continue;
      io.out(`${report.failed ? 'FAIL' : 'ok  '} ${report.pack}  ${report.passed} passed, ${report.failed} failed  ${file}`);
      for (const c of report.cases.filter((x) => !x.passed)) io.out(`     ✗ ${c.name}: ${c.message ?? ''}`);
    }
    if (!io.json) io.out(`${passed} passed, ${failed} failed`);

    let policies: { ran: boolean; passed?: number; total?: number; ok?: boolean; note?: string };
    const root = resolve('.');
    if (values['no-opa']) policies = { ran: false, note: 'skipped (--no-opa)' };
    else if (!(await exists(join(root, 'scripts', 'opa.sh'))) || !(await exists(join(root, 'policies')))) {
      policies = { ran: false, note: 'skipped (no scripts/opa.sh and policies/ here: run from the repository root)' };
    } else if (!(await opaAvailable(root))) {
      policies = { ran: false, note: 'skipped (OPA not installed; `npm run policies:test` installs the pinned version)' };
    } else {
      const r = await opaTest(root);
      policies = { ran: true, ok: r.code === 0, passed: r.passed, total: r.total };
      if (r.code !== 0) {
        failed++;
        io.err(r.output.trimEnd());
      }
    }
    if (io.json) io.out(JSON.stringify({ packs: reports, passed, failed, policies }, null, 2));
    else if (!policies.ran) io.out(`policies: ${policies.note}`);
    else io.out(`${policies.ok ? 'ok  ' : 'FAIL'} policies (opa test): ${policies.passed} of ${policies.total} passed`);
    return failed ? 1 : 0;
  },
};
