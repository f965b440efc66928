/** Policies: OPA Wasm bundles read, validated, compiled once and evaluated many times. Plain TypeScript; no framework. */
export {
  checkEntrypointCount,
  DEFAULT_BUNDLE_LIMITS,
  readBundle,
  type BundleLimits,
  type BundleManifest,
  type BundleWasmModule,
  type PolicyBundle,
} from './bundle-reader.js';
export { LoadedPolicy, type LoadPolicyOptions } from './loaded-policy.js';
export {
  POLICY_BUNDLE_INVALID,
  POLICY_BUNDLE_MISMATCH,
  POLICY_BUNDLE_TOO_LARGE,
  POLICY_ENTRYPOINT_UNKNOWN,
  POLICY_EVALUATION_FAILED,
} from './policy-errors.js';
