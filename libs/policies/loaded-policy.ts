/** A policy bundle compiled once into a metered opa-wasm instance and evaluated many times, each time within a budget. */
import { DomainError, type ErrorKind } from '../errors/index.js';
import { POINTER_PATTERN } from '../names/index.js';
import { readBundle, type BundleLimits, type BundleManifest } from './bundle-reader.js';
import { DEFAULT_EVALUATION_BUDGET, type EvaluationBudget } from './evaluation-budget.js';
import { MeteredInstance, WasmCallFailed } from './metered-instance.js';
import {
  EVALUATION_BUDGET_EXCEEDED,
  POLICY_BUNDLE_MISMATCH,
  POLICY_ENTRYPOINT_UNKNOWN,
  POLICY_EVALUATION_FAILED,
  bundleInvalid,
} from './policy-errors.js';

export interface LoadPolicyOptions {
  limits?: Partial<BundleLimits>;
  /** Refuse the bundle unless its metadata.name is this (e.g. the name it is stored under). */
  expectName?: string;
  /** Refuse the bundle unless its version is this. */
  expectVersion?: string;
  /** What each evaluation (and loading) may spend; DEFAULT_EVALUATION_BUDGET when absent. */
  budget?: EvaluationBudget;
}

export class LoadedPolicy {
  /** `name@version`, the provenance recorded with every decision. */
  readonly ref: string;

  private constructor(
    readonly name: string,
    readonly version: string,
    /** Hex SHA-256 of the bundle's .tar.gz bytes. */
    readonly sha256: string,
    readonly manifest: BundleManifest,
    /** Entrypoints the Wasm module exports, in the module's id order. */
    readonly entrypoints: readonly string[],
    /** The bundle's data.json, deep-frozen: the instance holds its own copy, so edits here could never take effect. */
    readonly data: unknown,
    private readonly instance: MeteredInstance,
    private readonly entrypointIds: ReadonlyMap<string, number>,
    /** The bundle's .tar.gz bytes and the budget it was loaded with: what another thread loads the same policy from. */
    readonly source: { readonly bytes: Uint8Array; readonly budget: EvaluationBudget },
    private readonly declared: ReadonlyMap<string, readonly string[]> = new Map(),
    /**
     * Why the manifest's `metadata.reads` cannot be used, when it cannot: an upload is refused for it
     * (checkBundleUpload), a bundle stored before `reads` meant anything loads as declaring none.
     */
    readonly readsProblem?: string,
  ) {
    this.ref = `${name}@${version}`;
  }

  /**
   * Validates, meters and compiles a bundle. Throws POLICY_BUNDLE_INVALID / POLICY_BUNDLE_TOO_LARGE for
   * bad bundles (a Wasm the meter cannot decode included), POLICY_BUNDLE_MISMATCH when it is not the expected
   * name/version, and EVALUATION_BUDGET_EXCEEDED (422) when loading it (data.json included) is over the budget.
   */
  static async load(bundleBytes: Uint8Array, opts: LoadPolicyOptions = {}): Promise<LoadedPolicy> {
    const bundle = readBundle(bundleBytes, opts.limits);
    const { manifest } = bundle;
    const name = manifest.metadata?.['name'];
    const metaVersion = manifest.metadata?.['version'];
    if (typeof name !== 'string' || name === '') {
      throw bundleInvalid('/.manifest has no metadata.name naming the bundle', '/.manifest');
    }
    if (metaVersion !== undefined && (typeof metaVersion !== 'string' || metaVersion === '')) {
      throw bundleInvalid('/.manifest metadata.version must be a non-empty string', '/.manifest');
    }
    const version = metaVersion ?? manifest.revision;
    if ((opts.expectName !== undefined && opts.expectName !== name) || (opts.expectVersion !== undefined && opts.expectVersion !== version)) {
      const expected = `${opts.expectName ?? name}@${opts.expectVersion ?? version}`;
      throw new DomainError(POLICY_BUNDLE_MISMATCH, `bundle is ${name}@${version}, expected ${expected}`, 'unprocessable', [
        { path: '/.manifest', message: `metadata names ${name}@${version}` },
      ]);
    }

    let instance: MeteredInstance;
    try {
      instance = await MeteredInstance.create(bundle.wasm, bundle.data, opts.budget ?? DEFAULT_EVALUATION_BUDGET);
    } catch (e) {
      if (!(e instanceof WasmCallFailed)) throw e;
      if (e.reason !== 'crash') throw budgetExceeded(`${name}@${version}: ${e.message}`, 'unprocessable', '/policy.wasm');
      throw bundleInvalid(`/policy.wasm ${e.message.startsWith('does not load') ? e.message : `does not load: ${e.message}`}`, '/policy.wasm');
    }

    const ids = entrypointIds(instance.entrypoints);
    const entrypoints = [...ids.keys()];
    const declared = [
      ...(manifest.wasm ?? []).map((w) => w.entrypoint),
      ...stringArray(manifest.metadata?.['entrypoints']),
    ];
    for (const ep of declared) {
      if (!ids.has(ep)) {
        throw bundleInvalid(
          `/.manifest declares entrypoint ${ep} but /policy.wasm exports only [${entrypoints.join(', ')}]`,
          '/.manifest',
        );
      }
    }

    const { reads, problem: readsProblem } = declaredReads(manifest.metadata?.['reads'], ids);

    // A copy of its own: the caller's bytes may be a view into a larger buffer (a request body, a pool), which this
    // would otherwise keep alive and post whole to every replay worker.
    const source = { bytes: Uint8Array.prototype.slice.call(bundleBytes), budget: opts.budget ?? DEFAULT_EVALUATION_BUDGET };
    return new LoadedPolicy(name, version, bundle.sha256, manifest, entrypoints, deepFreeze(bundle.data), instance, ids, source, reads, readsProblem);
  }

  /**
   * What an entrypoint reads of its input, as JSON pointers (`/features/distinctCurrenciesCard24h`), when the bundle's
   * `.manifest` declares it (`metadata.reads`, by entrypoint); empty otherwise. A release checks them against the
   * decision type that feeds the entrypoint, so a policy paired with a type that does not compute what it reads is
   * refused at creation instead of deciding on an absent value.
   */
  reads(entrypoint: string): readonly string[] {
    return this.declared.get(entrypoint) ?? [];
  }

  /**
   * Evaluates one entrypoint and returns its value (the `result` of the first result set).
   *
   * One instance serves every call: opa-wasm's evaluate is synchronous and resets the Wasm heap
   * on entry, and a JS thread runs one call at a time, so calls can never interleave. Worker
   * threads must each load their own LoadedPolicy. Each call has the whole step budget; one over it
   * fails with EVALUATION_BUDGET_EXCEEDED (as unavailable as any other failed evaluation) and the
   * instance is replaced, so the next call is unaffected.
   * Note: opa-wasm treats a falsy input (null, 0, '', false) as no input at all.
   */
  evaluate(entrypoint: string, input: unknown): unknown {
    const out = this.evaluateOptional(entrypoint, input);
    if (!out.defined) throw this.evaluationFailed(entrypoint, 'no result (the rule is undefined for this input)');
    return out.value;
  }

  /**
   * Like evaluate, but an undefined rule is an answer (`defined: false`) rather than an error; only a crash
   * (Wasm trap, abort, unimplemented builtin, conflicting outputs) throws.
   */
  evaluateOptional(entrypoint: string, input: unknown): { defined: true; value: unknown } | { defined: false } {
    const id = this.entrypointIds.get(entrypoint);
    if (id === undefined) {
      const message = `${this.ref} has no entrypoint ${entrypoint} (has: ${this.entrypoints.join(', ')})`;
      throw new DomainError(POLICY_ENTRYPOINT_UNKNOWN, message, 'unprocessable', [{ path: '', message, rule: entrypoint }]);
    }
    let resultSet: unknown;
    try {
      // The numeric id skips opa-wasm's per-call name lookup.
      resultSet = this.instance.evaluate(input, id);
    } catch (e) {
      if (!(e instanceof WasmCallFailed)) throw e;
      if (e.reason !== 'crash') throw budgetExceeded(`${this.ref} ${entrypoint}: ${e.message}`, 'unavailable', '', entrypoint);
      throw this.evaluationFailed(entrypoint, `evaluation failed: ${e.message}`);
    }
    const first: unknown = Array.isArray(resultSet) ? resultSet[0] : undefined;
    if (typeof first !== 'object' || first === null || !('result' in first)) return { defined: false };
    return { defined: true, value: first.result };
  }

  /**
   * Evaluates once at activation so a bundle that cannot answer is refused before it serves
   * traffic; returns the result for further checks by the caller. With `allowUndefined`, only a
   * crash refuses (an upload's smoke test on `{}`, which most rules leave undefined): POLICY_BUNDLE_INVALID, or
   * EVALUATION_BUDGET_EXCEEDED (422) when it ran over the budget.
   */
  smokeTest(entrypoint: string, input: unknown, opts: { allowUndefined?: boolean } = {}): unknown {
    try {
      if (opts.allowUndefined) {
        const out = this.evaluateOptional(entrypoint, input);
        return out.defined ? out.value : undefined;
      }
      return this.evaluate(entrypoint, input);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      const message = `${this.ref} failed its smoke test on ${entrypoint}: ${e.message}`;
      if (e.code === EVALUATION_BUDGET_EXCEEDED) throw budgetExceeded(message, 'unprocessable', '/policy.wasm', entrypoint);
      throw bundleInvalid(message, '/policy.wasm');
    }
  }

  private evaluationFailed(entrypoint: string, what: string): DomainError {
    const message = `${this.ref} ${entrypoint}: ${what}`;
    return new DomainError(POLICY_EVALUATION_FAILED, message, 'unavailable', [{ path: '', message, rule: entrypoint }]);
  }
}

function budgetExceeded(message: string, kind: ErrorKind, path: string, rule?: string): DomainError {
  return new DomainError(EVALUATION_BUDGET_EXCEEDED, message, kind, [rule === undefined ? { path, message } : { path, message, rule }]);
}

/** opa-wasm exposes `{name: id}`; ordered by id so the list is stable. */
function entrypointIds(raw: unknown): Map<string, number> {
  const pairs: [string, number][] = [];
  if (typeof raw === 'object' && raw !== null) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'number') pairs.push([k, v]);
  }
  pairs.sort((a, b) => a[1] - b[1]);
  return new Map(pairs);
}

/** RFC 6901: "" or "/"-separated tokens in which "~" only escapes "~" (~0) and "/" (~1). */
const JSON_POINTER = new RegExp(POINTER_PATTERN);
/** Pointers one entrypoint may declare: each is checked against every decision type calling it. */
const MAX_READS = 1_000;

/**
 * `metadata.reads`: by exported entrypoint, a list of JSON pointers; or, when it is not that, the problem and no reads
 * (metadata was free-form before `reads` meant anything: a bundle stored then must still load).
 */
function declaredReads(value: unknown, exported: ReadonlyMap<string, number>): { reads: Map<string, readonly string[]>; problem?: string } {
  const reads = new Map<string, readonly string[]>();
  if (value === undefined) return { reads };
  const none = (problem: string) => ({ reads: new Map<string, readonly string[]>(), problem: `/.manifest metadata.reads ${problem}` });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return none('must be an object of entrypoint: [JSON pointers]');
  for (const [entrypoint, pointers] of Object.entries(value)) {
    if (!exported.has(entrypoint)) return none(`names entrypoint ${entrypoint}, which /policy.wasm does not export`);
    if (!Array.isArray(pointers)) return none(`of ${entrypoint} must be a list of JSON pointers (e.g. "/features/x")`);
    const unique = [...new Set(pointers as unknown[])];
    if (unique.length > MAX_READS) return none(`of ${entrypoint} lists ${unique.length} pointers; at most ${MAX_READS}`);
    if (!unique.every((p): p is string => typeof p === 'string' && JSON_POINTER.test(p))) {
      return none(`of ${entrypoint} must be a list of JSON pointers (e.g. "/features/x"; "~" only as ~0 or ~1)`);
    }
    reads.set(entrypoint, Object.freeze(unique));
  }
  return { reads };
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
