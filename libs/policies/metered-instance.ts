/**
 * A policy's metered Wasm, instantiated through opa-wasm: every call runs with a fresh step budget and a capped memory,
 * and after any failed call the instance is replaced, so the next evaluation starts from a clean state.
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OpaWasm from '@open-policy-agent/opa-wasm';
import { describeThrown } from './policy-errors.js';
import { MAX_SPRINTF_WIDTH, MAX_TABLE_ENTRIES, type EvaluationBudget } from './evaluation-budget.js';
import { FUEL_EXPORT, meterWasmAsync } from './wasm-meter.js';

// The ESM entry point of opa-wasm exports loadPolicy only; the synchronous loader (needed to replace an instance in
// the middle of a synchronous evaluation) is on the CommonJS one, over the same code.
const require = createRequire(import.meta.url);
const { loadPolicySync } = require('@open-policy-agent/opa-wasm') as typeof OpaWasm;

/** A host builtin asked for more than it may do outside the step budget. */
class HostBuiltinRefused extends Error {}

/**
 * opa-wasm runs sprintf in JavaScript (sprintf-js), which pads a field by joining an array as long as its width: a
 * width taken from the input (`sprintf("%0100000000d", [1])`) held the thread for seconds outside the budget. opa-wasm
 * looks its own builtins up before the caller's, so the bound goes into its table (the same module instance it uses).
 */
const opaBuiltins = require(join(dirname(require.resolve('@open-policy-agent/opa-wasm')), 'builtins/index.js')) as Record<string, (...args: unknown[]) => unknown>;
const unboundedSprintf = opaBuiltins['sprintf']!;
// sprintf-js's placeholder up to its width; `%%` first, so the text after an escaped percent is not read as one.
const PLACEHOLDER_WIDTH = /%%|%(?:[1-9]\d*\$|\([^)]+\))?\+?(?:0|'[^$])?-?(\d+)?/g;
opaBuiltins['sprintf'] = (format: unknown, values: unknown) => {
  if (typeof format === 'string') {
    for (const m of format.matchAll(PLACEHOLDER_WIDTH)) {
      if (m[1] !== undefined && Number(m[1]) > MAX_SPRINTF_WIDTH) {
        throw new HostBuiltinRefused(`asked sprintf for a field ${m[1]} characters wide, more than the ${MAX_SPRINTF_WIDTH.toLocaleString('en-US')} allowed`);
      }
    }
  }
  return unboundedSprintf(format, values);
};

/** The few WebAssembly APIs used here (the project's TypeScript libs do not declare the namespace). */
type WasmModule = object;
interface WasmGlobal {
  value: unknown;
}
interface MemoryDescriptor {
  initial: number;
  maximum: number;
}
const Wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array<ArrayBuffer>): Promise<WasmModule> } }).WebAssembly;

const PAGE = 64 * 1024;
/**
 * Builtins opa-wasm runs in JavaScript whose time is not bounded by the (metered) size of their arguments: regex.split
 * compiles the policy's pattern with JavaScript's backtracking RegExp. A bundle needing one is refused.
 */
const UNBOUNDED_HOST_BUILTINS = new Set(['regex.split']);
/** opa-wasm's own default initial memory, kept so behaviour within the cap is what it was. */
const OPA_INITIAL_PAGES = 5;

/** Why a call failed: over one of the budget's limits, or a crash of the policy itself. */
export type FailureReason = 'steps' | 'memory' | 'stack' | 'crash';

export class WasmCallFailed extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

interface Instance {
  policy: OpaWasm.LoadedPolicy;
  fuel: WasmGlobal;
  /** ABI 1.2's one-call evaluation, when the module has it (opa build has made it since OPA 0.29). */
  fast: FastEval | undefined;
}

/** What opa-wasm's LoadedPolicy keeps (not in its typings): the memory, and where data and the free heap start. */
interface OpaLoadedPolicyState {
  minorVersion?: number;
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
  dataAddr: number;
  dataHeapPtr: number;
  wasmInstance: { exports: Record<string, unknown> };
}

type OpaEval = (reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heap: number, format: number) => number;

/**
 * opa-wasm's ABI 1.2 evaluate without its per-call glue: it makes a TextEncoder, an encoded copy of the input, a view of
 * the memory and a TextDecoder per call and walks the result for its end byte by byte in JavaScript. Here the input is
 * encoded straight into Wasm memory at the same place (data's end: the heap is reset to just past the input on every
 * call, as opa-wasm does), the memory grows exactly as opa-wasm grows it, and the result's end is found natively.
 */
class FastEval {
  private readonly eval: OpaEval;
  private readonly state: OpaLoadedPolicyState;
  private bytes: Uint8Array;

  constructor(state: OpaLoadedPolicyState) {
    this.state = state;
    this.eval = state.wasmInstance.exports['opa_eval'] as OpaEval;
    this.bytes = new Uint8Array(state.mem.buffer);
  }

  static of(policy: OpaWasm.LoadedPolicy): FastEval | undefined {
    const state = policy as unknown as OpaLoadedPolicyState;
    return (state.minorVersion ?? 0) >= 2 && typeof state.wasmInstance.exports['opa_eval'] === 'function' ? new FastEval(state) : undefined;
  }

  evaluate(input: unknown, entrypoint: number): unknown {
    const { state } = this;
    const at = state.dataHeapPtr;
    let len = 0;
    // opa-wasm's rule, kept: a falsy input is no input at all.
    if (input) {
      const text = JSON.stringify(input);
      let bytes = this.view();
      // UTF-8 takes at most 3 bytes per UTF-16 unit; only when that might not fit is the exact length needed.
      if (at + text.length * 3 > bytes.length) {
        const delta = at + Buffer.byteLength(text) - bytes.length;
        if (delta > 0) state.mem.grow(Math.ceil(delta / PAGE));
        bytes = this.view();
      }
      len = ENCODER.encodeInto(text, bytes.subarray(at)).written;
    }
    const ret = this.eval(0, entrypoint, state.dataAddr, len === 0 ? 0 : at, len, at + len, 0);
    const bytes = this.view();
    const end = bytes.indexOf(0, ret);
    return JSON.parse(DECODER.decode(bytes.subarray(ret, end < 0 ? bytes.length : end)));
  }

  /** The memory as bytes (a new view after the memory grew: growing detaches the old buffer). */
  private view(): Uint8Array {
    if (this.bytes.buffer !== this.state.mem.buffer) this.bytes = new Uint8Array(this.state.mem.buffer);
    return this.bytes;
  }
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

export class MeteredInstance {
  private current: Instance | undefined;
  private readonly steps: bigint;

  private constructor(
    private readonly module: WasmModule,
    private readonly memory: MemoryDescriptor,
    /** data.json as JSON text, loaded into every instance. */
    private readonly data: ArrayBuffer,
    private readonly budget: EvaluationBudget,
  ) {
    this.steps = BigInt(budget.steps);
  }

  /**
   * Meters, compiles and instantiates the Wasm with `data` loaded. Throws WasmCallFailed: 'crash' for a module that is
   * not supported or does not load, a budget reason when loading it is over the budget.
   * @throws DomainError POLICY_BUNDLE_INVALID from the meter, for a module it cannot decode.
   */
  static async create(wasm: Uint8Array, data: unknown, budget: EvaluationBudget): Promise<MeteredInstance> {
    const metered = await meterWasmAsync(wasm, { initialFuel: BigInt(budget.steps), maxTableEntries: MAX_TABLE_ENTRIES });
    const capPages = budget.memoryMiB * 16;
    const declared = metered.memory;
    const maximum = Math.min(declared?.maximum ?? capPages, capPages);
    const initial = Math.max(declared?.initial ?? 0, Math.min(OPA_INITIAL_PAGES, maximum));
    if (initial > maximum) {
      throw new WasmCallFailed('memory', `its memory starts at ${(initial * PAGE) / 2 ** 20} MiB, over the ${budget.memoryMiB} MiB a policy may use`);
    }
    let module: WasmModule;
    try {
      module = await Wasm.compile(metered.bytes);
    } catch (e) {
      throw new WasmCallFailed('crash', describeThrown(e));
    }
    const json = new TextEncoder().encode(JSON.stringify(data ?? {}));
    const runtime = new MeteredInstance(module, { initial, maximum }, json.buffer, budget);
    runtime.current = runtime.instantiate();
    const unbounded = runtime.hostBuiltins().filter((b) => UNBOUNDED_HOST_BUILTINS.has(b));
    if (unbounded.length > 0) {
      throw new WasmCallFailed('crash', `needs the builtin ${unbounded.join(', ')}, which runs in JavaScript outside the step budget and is not supported`);
    }
    return runtime;
  }

  /** The builtins the module asks the host for (OPA implements the others inside the Wasm). */
  private hostBuiltins(): string[] {
    const inst = this.instance();
    const exports = (inst.policy.wasmInstance as { exports: Record<string, (...args: number[]) => number> }).exports;
    inst.fuel.value = this.steps;
    try {
      const addr = exports.opa_json_dump!(exports.builtins!());
      const bytes = new Uint8Array((inst.policy.mem as { buffer: ArrayBuffer }).buffer);
      const listed: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(addr, bytes.indexOf(0, addr))));
      return typeof listed === 'object' && listed !== null ? Object.keys(listed) : [];
    } catch (e) {
      throw this.classify(e, inst);
    }
  }

  /** Entrypoint name → id, as the module lists them. */
  get entrypoints(): unknown {
    return this.instance().policy.entrypoints as unknown;
  }

  /** Steps the last call left unspent (for measurements). */
  get stepsLeft(): bigint {
    return this.instance().fuel.value as bigint;
  }

  /** opa-wasm's evaluate with a fresh budget; the raw result set. */
  evaluate(input: unknown, entrypoint: number): unknown {
    const inst = this.instance();
    inst.fuel.value = this.steps;
    try {
      return inst.fast ? inst.fast.evaluate(input, entrypoint) : inst.policy.evaluate(input, entrypoint);
    } catch (e) {
      const failure = this.classify(e, inst);
      // A trap can leave the heap, its free lists and the shadow stack pointer anywhere: start over. (Loading worked
      // before, so it works again; if it did not, the next call tries again and reports it.)
      this.current = undefined;
      try {
        this.current = this.instantiate();
      } catch {
        // reported by the next call
      }
      throw failure;
    }
  }

  private instance(): Instance {
    if (!this.current) this.current = this.instantiate();
    return this.current;
  }

  private instantiate(): Instance {
    let inst: Instance | undefined;
    try {
      // Every call of the module runs metered, loading included: the start function and opa-wasm's own setup calls spend
      // the fuel the global starts with (one budget), then data.json gets a budget of its own.
      const policy = loadPolicySync(this.module as Parameters<typeof loadPolicySync>[0], { ...this.memory });
      inst = { policy, fuel: (policy.wasmInstance as { exports: Record<string, WasmGlobal> }).exports[FUEL_EXPORT]!, fast: undefined };
      inst.fuel.value = this.steps;
      policy.setData(this.data);
      inst.fast = FastEval.of(policy);
      return inst;
    } catch (e) {
      const failure = this.classify(e, inst);
      if (failure.reason === 'crash') throw new WasmCallFailed('crash', `does not load: ${failure.message}`);
      throw new WasmCallFailed(failure.reason, `loading it (data.json included) ${failure.message}`);
    }
  }

  private classify(e: unknown, inst: Instance | undefined): WasmCallFailed {
    const message = describeThrown(e);
    if (e instanceof HostBuiltinRefused) return new WasmCallFailed('memory', e.message);
    if (inst && (inst.fuel.value as bigint) < 0n) {
      return new WasmCallFailed('steps', `ran out of its budget of ${this.budget.steps.toLocaleString('en-US')} steps`);
    }
    // opa-wasm grows the memory for the input (RangeError from Memory.grow); OPA's allocator aborts when it cannot.
    if (/opa_malloc: failed|Memory\.grow\(\)/.test(message)) {
      return new WasmCallFailed('memory', `needed more than the ${this.budget.memoryMiB} MiB of memory a policy may use`);
    }
    if (e instanceof RangeError && /call stack/i.test(message)) return new WasmCallFailed('stack', 'recursed deeper than the call stack allows');
    return new WasmCallFailed('crash', message);
  }
}
