/** Runs every embedded test case of every pack under rule-packs/ against the compiled pack, one jest test per case. */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePack, loadPackDirectory, runPackTests, type PackTestCaseReport } from '../../libs/rules/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rulePacks = fileURLToPath(new URL('../../rule-packs', import.meta.url));
// Loading is async, and jest collects tests synchronously: load (and validate) everything up front.
const packs = await loadPackDirectory(rulePacks);
const reports = await Promise.all(packs.map(async ({ file, pack }) => ({ file, report: await runPackTests(compilePack(pack)) })));

it('finds packs under rule-packs/', () => {
  expect(packs.length).toBeGreaterThan(0);
});

describe.each(reports.map(({ file, report }) => [report.pack, relative(root, file), report.cases] as const))('%s (%s)', (_ref, _file, cases) => {
  it.each(cases.map((c) => [c.name, c] as [string, PackTestCaseReport]))('%s', (_name, testCase) => {
    // The report's message already says what differs; fail with it verbatim.
    if (!testCase.passed) throw new Error(testCase.message ?? 'failed');
  });
});
