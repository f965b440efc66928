/**
 * What one policy evaluation may spend. The service takes its figures from its configuration (POLICY_EVALUATION_STEPS,
 * POLICY_MEMORY_MIB); the CLI and tests use the defaults. Steps, not time: a replay fails or passes the same way on
 * every machine.
 */
export interface EvaluationBudget {
  /**
   * Wasm instructions one evaluation may run, the meter's own probes included (wasm-meter.ts). Loading a bundle (its
   * start-up and data.json, which OPA parses inside the Wasm) has the same budget. The same count takes very different
   * times depending on the code: see the README's limits section for what it means here.
   */
  steps: number;
  /** The most memory a policy's Wasm may grow to, in MiB. */
  memoryMiB: number;
}

/**
 * 150 million steps: a spin loop (`loop br 0`, the fastest code per step) spends them in ~5 ms on the reference machine
 * (2 vCPU AMD EPYC), the committed refund-risk policy runs ~0.9 million per decision, and the slowest code found per
 * step (random reads over 64 MiB) spends them in ~0.7 s. See docs/benchmarks.md.
 */
export const DEFAULT_EVALUATION_BUDGET: Readonly<EvaluationBudget> = Object.freeze({ steps: 150_000_000, memoryMiB: 64 });

/** Entries a policy's function tables may hold (opa build makes one of a few hundred). */
export const MAX_TABLE_ENTRIES = 65_536;

/** The widest field a policy's sprintf may pad to (opa-wasm pads in JavaScript, outside the step budget). */
export const MAX_SPRINTF_WIDTH = 65_536;

/** Bounds a configuration may set: at least enough for a real evaluation, at most what a 32-bit memory allows. */
export const EVALUATION_STEPS_RANGE = { min: 1_000_000, max: 1_000_000_000_000 } as const;
export const MEMORY_MIB_RANGE = { min: 1, max: 4096 } as const;
