/**
 * What content must pass before it is stored, and a release before it decides: a pack's own test cases, a bundle's
 * smoke test, the domains a release must serve. Shared by uploads and activation, so both refuse for the same reasons.
 */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { REDEMPTION_GATE_ENTRYPOINT } from '../ledger/gate.js';
import { LoadedPolicy, POLICY_BUNDLE_INVALID } from '../policies/index.js';
import { compilePack, runPackTests, validatePack, type CompiledPack } from '../rules/index.js';
import type { CompiledRelease } from './release.js';

export interface PackTestFailure {
  /** `name@version` of the pack. */
  pack: string;
  case: string;
  message: string;
}

/** The pack's embedded test cases that fail on its compiled form (the path production takes). */
export async function packTestFailures(pack: CompiledPack): Promise<PackTestFailure[]> {
  const report = await runPackTests(pack);
  return report.cases.filter((c) => !c.passed).map((c) => ({ pack: pack.ref, case: c.name, message: c.message ?? 'failed' }));
}

function describeFailures(failures: PackTestFailure[]): string {
  const first = failures[0]!;
  return `${failures.length} embedded test case(s) fail; first: ${first.pack} case '${first.case}': ${first.message}`;
}

/**
 * An uploaded pack, fully checked: schema and fact-schema type check (RULE_PACK_INVALID), compiled, and every embedded
 * case passing (RULE_PACK_TESTS_FAILED, one error per failing case, named).
 */
export async function checkPackUpload(json: unknown): Promise<CompiledPack> {
  const compiled = compilePack(validatePack(json));
  const failures = await packTestFailures(compiled);
  if (failures.length > 0) {
    const index = new Map(compiled.pack.tests.cases.map((c, i) => [c.name, i]));
    throw new DomainError(
      'RULE_PACK_TESTS_FAILED',
      `rule pack ${compiled.ref}: ${describeFailures(failures)}`,
      'unprocessable',
      failures.map((f) => ({ path: `/tests/cases/${index.get(f.case)}`, message: `case '${f.case}': ${f.message}`, rule: f.case })),
      { failures },
    );
  }
  return compiled;
}

/**
 * Smoke test: every entrypoint the Wasm exports is evaluated once with input `{}`. An undefined result or any value
 * passes; a crash (trap, abort, a builtin the JS runtime lacks, conflicting outputs) refuses the bundle. It proves the
 * bundle instantiates and runs here, not that its answers are right: that is what `opa test` in CI is for.
 */
export function smokeTestPolicy(policy: LoadedPolicy): void {
  for (const entrypoint of policy.entrypoints) policy.smokeTest(entrypoint, {}, { allowUndefined: true });
}

/**
 * An uploaded bundle, fully checked: readable within the size limits, its manifest naming `name@version`, every declared
 * entrypoint exported by the Wasm (LoadedPolicy.load), at least one entrypoint, and the smoke test.
 */
export async function checkBundleUpload(bytes: Uint8Array, name: string, version: string): Promise<LoadedPolicy> {
  const policy = await LoadedPolicy.load(bytes, { expectName: name, expectVersion: version });
  if (policy.entrypoints.length === 0) {
    const message = `${policy.ref} exports no entrypoint (build it with opa build -t wasm -e <entrypoint>)`;
    throw new DomainError(POLICY_BUNDLE_INVALID, message, 'unprocessable', [{ path: '/policy.wasm', message }]);
  }
  smokeTestPolicy(policy);
  return policy;
}

/** What the release needs to serve a domain, as error details (empty when it can). */
function domainProblems(release: CompiledRelease): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const probes: [string, () => unknown][] = [
    ['refund', () => release.refund()],
    ['redemption', () => release.policyFor(REDEMPTION_GATE_ENTRYPOINT)],
  ];
  for (const [domain, probe] of probes) {
    try {
      probe();
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      problems.push({ path: '/components', message: `${domain} domain: ${e.message}` });
    }
  }
  return problems;
}

/**
 * Before a release decides for a tenant: it serves every live domain (refund, and the reward ledger's redemption gate,
 * which the ledger takes from the active release) → RELEASE_INCOMPLETE; every pack's embedded cases pass →
 * RELEASE_TESTS_FAILED naming pack and case; every bundle passes its smoke test → POLICY_BUNDLE_INVALID.
 */
export async function checkActivation(release: CompiledRelease): Promise<void> {
  const problems = domainProblems(release);
  if (problems.length > 0) {
    throw new DomainError('RELEASE_INCOMPLETE', `release ${release.id} cannot serve every domain: ${problems.map((p) => p.message).join('; ')}`, 'unprocessable', problems);
  }
  const failures = (await Promise.all([...release.packs.values()].map(packTestFailures))).flat();
  if (failures.length > 0) {
    const componentOf = new Map([...release.packs].map(([component, pack]) => [pack.ref, component]));
    throw new DomainError(
      'RELEASE_TESTS_FAILED',
      `release ${release.id}: ${describeFailures(failures)}`,
      'unprocessable',
      failures.map((f) => ({ path: `/components/${componentOf.get(f.pack)}`, message: `${f.pack} case '${f.case}': ${f.message}`, rule: f.case })),
      { failures },
    );
  }
  for (const policy of release.policies.values()) smokeTestPolicy(policy);
}

/** A shadow release only has to decide refunds: it never answers, so it cannot break another domain. */
export function checkShadow(release: CompiledRelease): void {
  release.refund();
}
