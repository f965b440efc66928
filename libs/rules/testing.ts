/** runPackTests: runs a pack's embedded test cases against its compiled form (the same path production takes). */
import { compareEvents, mergeFacts } from './cases.js';
import type { CompiledPack, PackTestCaseReport, PackTestReport } from './types.js';

export async function runPackTests(compiled: CompiledPack): Promise<PackTestReport> {
  const { defaults, cases } = compiled.pack.tests;
  // Concurrent on purpose: evaluations on one compiled pack must not interfere, and this exercises that.
  const reports = await Promise.all(
    cases.map(async (testCase): Promise<PackTestCaseReport> => {
      const expected = testCase.expect.events;
      try {
        const facts = mergeFacts(defaults, testCase.facts ?? {}) as Record<string, unknown>;
        const actual = (await compiled.evaluate(facts)).events;
        const message = compareEvents(expected, actual);
        return message === undefined
          ? { name: testCase.name, passed: true, expected, actual }
          : { name: testCase.name, passed: false, expected, actual, message };
      } catch (error) {
        return { name: testCase.name, passed: false, expected, actual: [], message: `evaluation failed: ${(error as Error).message}` };
      }
    }),
  );
  const passed = reports.filter((r) => r.passed).length;
  return { pack: compiled.ref, passed, failed: reports.length - passed, cases: reports };
}
