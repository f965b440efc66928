/** A policy bundle compiled once into an opa-wasm instance and evaluated many times. */
import { loadPolicy, type LoadedPolicy as OpaWasmPolicy } from '@open-policy-agent/opa-wasm';
import { DomainError } from '../errors/index.js';
import { readBundle, type BundleLimits, type BundleManifest } from './bundle-reader.js';
import {
  POLICY_BUNDLE_MISMATCH,
  POLICY_ENTRYPOINT_UNKNOWN,
  POLICY_EVALUATION_FAILED,
  bundleInvalid,
  describeThrown,
} from './policy-errors.js';

export interface LoadPolicyOptions {
  limits?: Partial<BundleLimits>;
  /** Refuse the bundle unless its metadata.name is this (e.g. the name it is stored under). */
  expectName?: string;
  /** Refuse the bundle unless its version is this. */
  expectVersion?: string;
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
    private readonly policy: OpaWasmPolicy,
    private readonly entrypointIds: ReadonlyMap<string, number>,
  ) {
    this.ref = `${name}@${version}`;
  }

  /**
   * Validates and compiles a bundle. Throws POLICY_BUNDLE_INVALID / POLICY_BUNDLE_TOO_LARGE for
   * bad bundles and POLICY_BUNDLE_MISMATCH when it is not the expected name/version.
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

    let policy: OpaWasmPolicy;
    try {
      policy = await loadPolicy(bundle.wasm);
      policy.setData(bundle.data as object);
    } catch (e) {
      throw bundleInvalid(`/policy.wasm does not load: ${describeThrown(e)}`, '/policy.wasm');
    }

    const ids = entrypointIds(policy);
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

    return new LoadedPolicy(name, version, bundle.sha256, manifest, entrypoints, deepFreeze(bundle.data), policy, ids);
  }

  /**
   * Evaluates one entrypoint and returns its value (the `result` of the first result set).
   *
   * One instance serves every call: opa-wasm's evaluate is synchronous and resets the Wasm heap
   * on entry, and a JS thread runs one call at a time, so calls can never interleave. Worker
   * threads must each load their own LoadedPolicy.
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
      resultSet = this.policy.evaluate(input, id);
    } catch (e) {
      throw this.evaluationFailed(entrypoint, `evaluation failed: ${describeThrown(e)}`);
    }
    const first: unknown = Array.isArray(resultSet) ? resultSet[0] : undefined;
    if (typeof first !== 'object' || first === null || !('result' in first)) return { defined: false };
    return { defined: true, value: first.result };
  }

  /**
   * Evaluates once at activation so a bundle that cannot answer is refused before it serves
   * traffic; returns the result for further checks by the caller. With `allowUndefined`, only a
   * crash refuses (an upload's smoke test on `{}`, which most rules leave undefined).
   */
  smokeTest(entrypoint: string, input: unknown, opts: { allowUndefined?: boolean } = {}): unknown {
    try {
      if (opts.allowUndefined) {
        const out = this.evaluateOptional(entrypoint, input);
        return out.defined ? out.value : undefined;
      }
      return this.evaluate(entrypoint, input);
    } catch (e) {
      const reason = e instanceof DomainError ? e.message : describeThrown(e);
      throw bundleInvalid(`${this.ref} failed its smoke test on ${entrypoint}: ${reason}`, '/policy.wasm');
    }
  }

  private evaluationFailed(entrypoint: string, what: string): DomainError {
    const message = `${this.ref} ${entrypoint}: ${what}`;
    return new DomainError(POLICY_EVALUATION_FAILED, message, 'unavailable', [{ path: '', message, rule: entrypoint }]);
  }
}

/** opa-wasm exposes `{name: id}`; ordered by id so the list is stable. */
function entrypointIds(policy: OpaWasmPolicy): Map<string, number> {
  const raw: unknown = policy.entrypoints;
  const pairs: [string, number][] = [];
  if (typeof raw === 'object' && raw !== null) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'number') pairs.push([k, v]);
  }
  pairs.sort((a, b) => a[1] - b[1]);
  return new Map(pairs);
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
