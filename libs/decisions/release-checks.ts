/**
 * What content must pass before it is stored, and a release before it decides: a pack's own test cases, a bundle's
 * smoke test, every decision type bound to the release's components with its test cases passing. Shared by uploads,
 * release creation and activation, so all refuse for the same reasons.
 */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { programFromPack, REWARD_PROGRAM_KIND } from '../ledger/index.js';
import { checkEntrypointCount, LoadedPolicy, POLICY_BUNDLE_INVALID, type EvaluationBudget } from '../policies/index.js';
import { compilePack, runPackTests, validatePack, type CompiledPack } from '../rules/index.js';
import type { CompiledRelease } from './release.js';
import { retentionProblems, windowsBeyondRetention } from './types/features.js';
import type { PackFile } from './file-component-source.js';

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
 * An uploaded pack, fully checked: schema and fact-schema type check (RULE_PACK_INVALID), compiled, a reward program's
 * parameters (REWARD_PROGRAM_INVALID), and every embedded case passing (RULE_PACK_TESTS_FAILED, one error per failing
 * case, named).
 */
export async function checkPackUpload(json: unknown): Promise<CompiledPack> {
  const compiled = compilePack(validatePack(json));
  // A reward program's parameters are the ledger's: checked here as an account opening checks them
  // (REWARD_PROGRAM_INVALID), or a stored pack would refuse every account opened on it.
  if (compiled.kind === REWARD_PROGRAM_KIND) programFromPack(compiled.pack);
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
 * entrypoint exported by the Wasm (LoadedPolicy.load), at least one entrypoint and at most BundleLimits.maxEntrypoints,
 * its `metadata.reads` well-formed when present, and the smoke test, each evaluation within `budget` (EVALUATION_BUDGET_EXCEEDED otherwise).
 */
export async function checkBundleUpload(bytes: Uint8Array, name: string, version: string, budget?: EvaluationBudget): Promise<LoadedPolicy> {
  const policy = await LoadedPolicy.load(bytes, { expectName: name, expectVersion: version, ...(budget && { budget }) });
  checkEntrypointCount(policy.entrypoints.length, '/policy.wasm'); // before the smoke test evaluates each of them
  if (policy.entrypoints.length === 0) {
    const message = `${policy.ref} exports no entrypoint (build it with opa build -t wasm -e <entrypoint>)`;
    throw new DomainError(POLICY_BUNDLE_INVALID, message, 'unprocessable', [{ path: '/policy.wasm', message }]);
  }
  if (policy.readsProblem !== undefined) throw new DomainError(POLICY_BUNDLE_INVALID, policy.readsProblem, 'unprocessable', [{ path: '/.manifest', message: policy.readsProblem }]);
  smokeTestPolicy(policy);
  return policy;
}

/** Binds every decision type of the release; the binding problems of all of them, as error details (empty when it can serve each). */
function typeProblems(release: CompiledRelease): { problems: ErrorDetail[]; codes: Set<string>; served: number } {
  const problems: ErrorDetail[] = [];
  const codes = new Set<string>();
  let served = 0;
  for (const name of release.types.keys()) {
    try {
      release.decisionType(name);
      served++;
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      codes.add(e.code);
      problems.push(...(e.errors.length > 0 ? e.errors : [{ path: `/components/${name}`, message: e.message }]).map((d) => ({ ...d, message: `${name} decision type: ${d.message}` })));
    }
  }
  return { problems, codes, served };
}

function refuse(release: CompiledRelease, problems: ErrorDetail[], codes: Set<string>): never {
  const code = codes.has('RELEASE_INCOMPLETE') ? 'RELEASE_INCOMPLETE' : ([...codes][0] ?? 'RELEASE_INCOMPLETE');
  throw new DomainError(code, `release ${release.id} cannot serve every decision type: ${problems.map((p) => p.message).join('; ')}`, 'unprocessable', problems);
}

/**
 * A release being created: the decision types it names must bind to its packs and bundles and type-check
 * (RELEASE_INCOMPLETE, RELEASE_TYPE_CHECK_FAILED). A release that names no type is checked at activation, as before.
 */
export function checkReleaseTypes(release: CompiledRelease): void {
  if (!release.declaresTypes) return;
  const { problems, codes } = typeProblems(release);
  const outcomes = featureOutcomeProblems(release);
  if (outcomes.length > 0) codes.add('RELEASE_INCOMPLETE');
  if (problems.length + outcomes.length > 0) refuse(release, [...problems, ...outcomes], codes);
}

/**
 * A feature counting decisions of an outcome none of the counted types decides would match nothing, forever. Checked
 * when a release is created, not when a stored one is loaded: the events it counts may have been recorded by an
 * earlier version whose outcomes differ, and a release already serving must keep serving.
 */
function featureOutcomeProblems(release: CompiledRelease): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  for (const [component, doc] of release.types) {
    for (const [name, f] of Object.entries(doc.features ?? {})) {
      const src = f.source;
      if (!('decisions' in src) || !src.outcomes) continue;
      const counted = (typeof src.decisions === 'string' ? [src.decisions] : src.decisions).map((n) => release.types.get(n)).filter((t) => t !== undefined);
      if (counted.length === 0) continue; // a type the release lacks: binding says so
      const decided = new Set(counted.flatMap((t) => t.outcomes));
      for (const o of src.outcomes) {
        if (!decided.has(o)) {
          problems.push({ path: `/components/${component}/features/${name}/source/outcomes`, message: `${component} decision type: feature ${name} counts outcome '${o}', which ${counted.map((t) => `${t.name}@${t.version}`).join(', ')} never decides (outcomes: ${[...decided].join(', ')})` });
        }
      }
    }
  }
  return problems;
}

/**
 * Every feature window of the release's types within the tenant's retention (the history older than it is purged, so
 * a longer window would count less than it says): 422 FEATURE_WINDOW_BEYOND_RETENTION naming each window under
 * `/components/<type>`. At release creation and activation; a type's upload checks its own.
 */
export function checkReleaseRetention(release: CompiledRelease, retentionDays: number): void {
  const errors = [...release.types].flatMap(([name, doc]) => retentionProblems(doc.features, retentionDays, `/components/${name}`));
  if (errors.length > 0) throw windowsBeyondRetention(errors, retentionDays);
}

/**
 * Before a release decides for a tenant: it serves every decision type it has (a release naming none has the built-in
 * refund and redemption types) → RELEASE_INCOMPLETE or RELEASE_TYPE_CHECK_FAILED; every pack's and every type's
 * embedded cases pass → RELEASE_TESTS_FAILED naming component and case; every bundle passes its smoke test →
 * POLICY_BUNDLE_INVALID.
 */
export async function checkActivation(release: CompiledRelease): Promise<void> {
  const { problems, codes } = typeProblems(release);
  if (problems.length > 0) refuse(release, problems, codes);
  const failures = (await Promise.all([...release.packs.values()].map(packTestFailures))).flat();
  for (const name of release.types.keys()) {
    const type = release.decisionType(name);
    for (const f of await type.testFailures()) failures.push({ pack: type.ref, case: f.case, message: f.message });
  }
  if (failures.length > 0) {
    const componentOf = new Map([...release.packs].map(([component, pack]) => [pack.ref, component]));
    for (const [component, doc] of release.types) componentOf.set(`${doc.name}@${doc.version}`, component);
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

/**
 * A shadow release never answers, so it cannot break a type it does not serve: it must serve at least one of its types
 * (a shadow of a type it cannot serve records an error for that decision instead).
 */
export function checkShadow(release: CompiledRelease): void {
  const { problems, codes, served } = typeProblems(release);
  if (served === 0) refuse(release, problems, codes);
}

/**
 * The repository's own rule packs that an upload would refuse (checkPackUpload), that name themselves unlike their
 * file, or that cannot be read: one line each, naming the file and the first problem. A pack that reads is still
 * served as it is (a release naming it is refused when created, an account on a bad reward program when opened); one
 * that does not read is left out of the built-in catalogue. The start says so at once instead of leaving it to the
 * first tenant who uses it.
 */
export async function builtinPackProblems(files: { packFiles(): Promise<PackFile[]> }): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  const found = await files.packFiles();
  for (const f of found) {
    if (f.error) {
      // A DomainError names the file itself; a system error (EISDIR, EACCES, …) does not.
      problems.push(f.error instanceof DomainError ? f.error.message : `${f.path}: ${f.error.message}`);
      continue;
    }
    try {
      const compiled = await checkPackUpload(f.json);
      if (compiled.name !== f.name || compiled.version !== f.version) problems.push(`${f.path}: names itself ${compiled.ref}`);
    } catch (e) {
      if (!(e instanceof DomainError)) {
        problems.push(`${f.path}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const first = e.errors[0];
      problems.push(`${f.path}: ${e.code}${first ? ` at ${first.path || '/'}: ${first.message}` : `: ${e.message}`}`);
    }
  }
  return { checked: found.length, problems };
}
