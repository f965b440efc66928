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
export {
  DEFAULT_EVALUATION_BUDGET,
  EVALUATION_STEPS_RANGE,
  MEMORY_MIB_RANGE,
  type EvaluationBudget,
} from './evaluation-budget.js';
export { LoadedPolicy, type LoadPolicyOptions } from './loaded-policy.js';
export { FUEL_EXPORT, meterWasm, meterWasmAsync, type MeteredWasm, type MeterOptions } from './wasm-meter.js';
export {
  EVALUATION_BUDGET_EXCEEDED,
  POLICY_BUNDLE_INVALID,
  POLICY_BUNDLE_MISMATCH,
  POLICY_BUNDLE_TOO_LARGE,
  POLICY_ENTRYPOINT_UNKNOWN,
  POLICY_EVALUATION_FAILED,
} from './policy-errors.js';
