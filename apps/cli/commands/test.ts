/**
 * `decisions test [pack.json|type.json|dir]…`: every pack's embedded cases, every decision type's cases on its content
 * folder's pack and built bundle, then `opa test` on policies/ and on each content folder's policies/ when OPA is at hand.
 */
import { join, resolve } from 'node:path';
import { DomainError } from '../../../libs/errors/index.js';
import { compilePack, runPackTests } from '../../../libs/rules/index.js';
import type { Command } from '../command.js';
import { loadContent, runTypeCases } from '../content.js';
import { ensureOpa, exists, opaAvailable, opaTestDir, packageRoot, policyDirs, runProcess, testCounts } from '../opa.js';

/** Runs `bash scripts/opa.sh test`; answers its exit code, output, and the PASS/FAIL counts OPA printed. */
async function opaTest(root: string): Promise<{ code: number; output: string; passed: number; total: number }> {
  const r = await runProcess('bash', [join(root, 'scripts', 'opa.sh'), 'test'], root);
  return { code: r.code, output: r.output, ...testCounts(r.output) };
}

interface PolicyRun {
  ran: boolean;
  passed?: number;
  total?: number;
  ok?: boolean;
  note?: string;
}

export const test: Command = {
  name: 'test',
  args: '[pack.json|type.json|dir]… [--no-opa]',
  summary:
    "validate, run every embedded test case (a decision type's on its folder's pack and built bundle), then `opa test` on ./policies " +
    "and on each named folder's policies/ when OPA is installed",
  options: { 'no-opa': { type: 'boolean' } },
  async run({ io, positionals, values }) {
    const content = await loadContent(positionals);
    let failed = 0;
    let passed = 0;
    const reports = [];
    for (const { file, pack } of content.packs) {
      const report = await runPackTests(compilePack(pack));
      reports.push({ file, ...report });
      passed += report.passed;
      failed += report.failed;
      if (io.json) continue;
      io.out(`${report.failed ? 'FAIL' : 'ok  '} ${report.pack}  ${report.passed} passed, ${report.failed} failed  ${file}`);
      for (const c of report.cases.filter((x) => !x.passed)) io.out(`     ✗ ${c.name}: ${c.message ?? ''}`);
    }

    const types = [];
    for (const t of content.types) {
      const ref = `${t.doc.name}@${t.doc.version}`;
      let run;
      try {
        run = await runTypeCases(t);
      } catch (e) {
        // The folder's pack or bundle cannot serve the type (missing entrypoint, a condition that does not type-check…).
        if (!(e instanceof DomainError)) throw e;
        failed++;
        types.push({ file: t.file, type: ref, ran: false, error: { code: e.code, message: e.message, errors: e.errors } });
        if (io.json) continue;
        io.out(`FAIL ${ref}  cannot run its cases: ${e.code}  ${t.file}`);
        for (const d of e.errors.length ? e.errors : [{ path: '', message: e.message }]) io.out(`     ✗ ${d.path || '/'}: ${d.message}`);
        continue;
      }
      types.push({ file: t.file, type: ref, ...run });
      if (!run.ran) {
        if (!io.json) io.out(`skip ${ref}  type cases not run: ${run.note}`);
        continue;
      }
      passed += run.passed;
      failed += run.failures.length;
      if (io.json) continue;
      const on = Object.entries(run.components)
        .filter(([n]) => n !== t.doc.name)
        .map(([n, v]) => `${n}@${v}`)
        .join(', ');
      io.out(`${run.failures.length ? 'FAIL' : 'ok  '} ${ref}  ${run.passed} passed, ${run.failures.length} failed  ${t.file}  (with ${on})`);
      for (const f of run.failures) io.out(`     ✗ ${f.case}: ${f.message}`);
    }
    if (!io.json) io.out(`${passed} passed, ${failed} failed`);

    // The repository's policies/ (run from its root), as before.
    let policies: PolicyRun;
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

    // The policies/ of every content folder named, or holding a type tested (the repository's own ran above).
    const folders: string[] = [];
    for (const f of [...content.roots, ...content.types.map((t) => t.root && join(t.file, '../../..'))]) {
      if (f === undefined || folders.some((x) => resolve(x) === resolve(f))) continue;
      if (resolve(f) === root && policies.ran) continue;
      if ((await policyDirs(f)).length) folders.push(f);
    }
    const folderRuns: (PolicyRun & { folder: string })[] = [];
    if (folders.length) {
      const skip = values['no-opa'] ? 'skipped (--no-opa)' : !(await opaAvailable(packageRoot)) && !(await opaAvailable(root)) ? 'skipped (OPA not installed; `npm run policies:test` installs the pinned version)' : undefined;
      const opa = skip ? undefined : await ensureOpa();
      for (const folder of folders) {
        if (!opa) {
          folderRuns.push({ folder, ran: false, note: skip! });
          continue;
        }
        const run: PolicyRun & { folder: string } = { folder, ran: true, ok: true, passed: 0, total: 0 };
        for (const dir of await policyDirs(folder)) {
          const r = await opaTestDir(opa, dir);
          run.passed! += r.passed;
          run.total! += r.total;
          if (r.code !== 0) {
            run.ok = false;
            io.err(r.output.trimEnd());
          }
        }
        if (!run.ok) failed++;
        folderRuns.push(run);
      }
    }

    if (io.json) io.out(JSON.stringify({ packs: reports, types, passed, failed, policies, policyFolders: folderRuns }, null, 2));
    else {
      // A folder's own policies ran: "run from the repository root" would only mislead.
      if (!policies.ran && !(folderRuns.some((r) => r.ran) && policies.note?.startsWith('skipped (no scripts'))) io.out(`policies: ${policies.note}`);
      else if (policies.ran) io.out(`${policies.ok ? 'ok  ' : 'FAIL'} policies (opa test): ${policies.passed} of ${policies.total} passed`);
      for (const r of folderRuns) {
        if (!r.ran) io.out(`${join(r.folder, 'policies')}: ${r.note}`);
        else io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${join(r.folder, 'policies')} (opa test): ${r.passed} of ${r.total} passed`);
      }
    }
    return failed ? 1 : 0;
  },
};
