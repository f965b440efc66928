/**
 * `BENCH_ONLY=wasm-budget npm run bench`: what the policy step budget (libs/policies/evaluation-budget.ts) means in time
 * on this machine, and what metering costs the committed refund-risk policy.
 *
 * Budget rows: how long each kind of code takes to spend the budget (a spin loop, arithmetic, calls, random reads over
 * the whole capped memory, bulk fills, and OPA's own work: parsing a large input and a Rego comprehension), each the
 * median of a few runs. Overhead row: the refund-risk evaluation through the metered instance against raw opa-wasm on
 * the unmetered module, in alternating blocks in one process, as bench/compare.ts does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { generateCases } from './cases.js';
import { DEFAULT_EVALUATION_BUDGET, readBundle, type EvaluationBudget } from '../libs/policies/index.js';
import { MeteredInstance, WasmCallFailed } from '../libs/policies/metered-instance.js';
import { meterWasm, FUEL_EXPORT } from '../libs/policies/wasm-meter.js';

export interface BudgetRow {
  code: string;
  /** Milliseconds to spend the whole budget (median of the runs). */
  ms: number;
  stepsPerNs: number;
}

export interface WasmBudgetResult {
  budget: EvaluationBudget;
  rows: BudgetRow[];
  /** Steps one refund-risk evaluation takes (the bench's generated cases: min, median, max). */
  refundRiskSteps: { min: number; median: number; max: number };
  /** Metered ÷ unmetered time per refund-risk evaluation, per block pair; and their median. */
  overhead: { ratios: number[]; median: number; meteredUs: number; rawUs: number };
}

// ---- a few hand-assembled modules (the same encoding as libs/policies/wasm-assemble.test-support.ts) ----

function u32(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}
const vec = (items: number[][]) => [...u32(items.length), ...items.flat()];
const name = (s: string) => [...u32(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const section = (id: number, content: number[]) => [id, ...u32(content.length), ...content];

/** One exported function `run` of type (i32) -> i32 with `locals` extra i32 locals, optionally importing env.memory. */
function module(body: number[], opts: { locals?: number; memoryPages?: number } = {}): Uint8Array {
  const code = [...vec(opts.locals ? [[...u32(opts.locals), 0x7f]] : []), ...body, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 1, 0x7f, 1, 0x7f]])),
    ...(opts.memoryPages ? section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...u32(opts.memoryPages)]])) : []),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('run'), 0x00, 0]])),
    ...section(10, vec([[...u32(code.length), ...code]])),
  ]);
}

const SPIN = module([0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00]);
// x = x * 1103515245 + 12345 forever, local 0 the state.
const ARITH = module([0x03, 0x40, 0x20, 0x00, 0x41, ...s32(1103515245), 0x6c, 0x41, ...s32(12345), 0x6a, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x41, 0x00]);
// fib(n) = n < 2 ? n : fib(n-1) + fib(n-2), no loop: only calls are charged.
const FIB = module([0x20, 0x00, 0x41, 0x02, 0x48, 0x04, 0x7f, 0x20, 0x00, 0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00, 0x20, 0x00, 0x41, 0x02, 0x6b, 0x10, 0x00, 0x6a, 0x0b]);

function s32(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

/** Random 4-byte reads over `bytes` of memory (a power of two), summed into local 1: every read a cache miss. */
function randomReads(bytes: number, pages: number): Uint8Array {
  const mask = s32(bytes - 4);
  return module(
    [
      0x03, 0x40,
      0x20, 0x00, 0x41, ...s32(1103515245), 0x6c, 0x41, ...s32(12345), 0x6a, 0x22, 0x00, // x = x*a + c
      0x41, ...mask, 0x71, 0x28, 0x02, 0x00, // load (x & mask)
      0x20, 0x01, 0x6a, 0x21, 0x01, // sum += it
      0x0c, 0x00, 0x0b, 0x41, 0x00,
    ],
    { locals: 1, memoryPages: pages },
  );
}

/** memory.fill of `bytes` per iteration, forever. */
function fills(bytes: number, pages: number): Uint8Array {
  return module([0x03, 0x40, 0x41, 0x00, 0x41, 0x00, 0x41, ...s32(bytes), 0xfc, ...u32(11), 0x00, 0x0c, 0x00, 0x0b, 0x41, 0x00], { memoryPages: pages });
}

interface Runnable {
  exports: Record<string, unknown>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Milliseconds a hand-assembled module takes to spend `steps`. */
function timeToExhaust(bytes: Uint8Array, steps: number, arg: number, memoryPages: number): number {
  const W = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => Runnable; Memory: new (d: object) => object } }).WebAssembly;
  const metered = meterWasm(bytes, { initialFuel: 0n, maxTableEntries: 1 });
  const memory = memoryPages ? { env: { memory: new W.Memory({ initial: memoryPages, maximum: memoryPages }) } } : {};
  const inst = new W.Instance(new W.Module(metered.bytes), memory);
  const fuel = inst.exports[FUEL_EXPORT] as { value: bigint };
  const run = inst.exports.run as (n: number) => number;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    fuel.value = BigInt(steps);
    const t = performance.now();
    try {
      run(arg);
    } catch {
      // out of fuel: what is being measured
    }
    times.push(performance.now() - t);
    if (fuel.value >= 0n) throw new Error('the module returned before spending its budget');
  }
  return median(times);
}

/** Milliseconds an OPA policy takes to spend the budget on an input. */
async function opaTimeToExhaust(wasm: Uint8Array, data: unknown, budget: EvaluationBudget, input: unknown): Promise<number> {
  const instance = await MeteredInstance.create(wasm, data, budget);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    try {
      instance.evaluate(input, 0);
      throw new Error('the policy answered within its budget');
    } catch (e) {
      if (!(e instanceof WasmCallFailed) || e.reason !== 'steps') throw e;
    }
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function runWasmBudgetBench(o: { root: string; budget?: EvaluationBudget; log: (line: string) => void }): Promise<WasmBudgetResult> {
  const budget = o.budget ?? DEFAULT_EVALUATION_BUDGET;
  const steps = budget.steps;
  const memPages = budget.memoryMiB * 16;
  const rows: BudgetRow[] = [];
  const row = (code: string, ms: number) => {
    rows.push({ code, ms, stepsPerNs: steps / ms / 1e6 });
    o.log(`  ${code.padEnd(64)} ${ms.toFixed(1).padStart(8)} ms`);
  };
  o.log(`\nPolicy step budget: ${steps.toLocaleString('en-US')} steps, ${budget.memoryMiB} MiB; time to spend it (median of 5)`);
  row('spin loop (loop br 0)', timeToExhaust(SPIN, steps, 0, 0));
  row('arithmetic loop (x = x*a + c)', timeToExhaust(ARITH, steps, 1, 0));
  row('recursion without loops (naive fib(60))', timeToExhaust(FIB, steps, 60, 0));
  row(`random reads over ${budget.memoryMiB} MiB`, timeToExhaust(randomReads(memPages * 65536, memPages), steps, 1, memPages));
  row('random reads over 1 MiB (cache-resident)', timeToExhaust(randomReads(1 << 20, 16), steps, 1, 16));
  row('memory.fill of 64 KiB per iteration', timeToExhaust(fills(65536, 1), steps, 0, 1));

  const bundle = readBundle(await readFile(join(o.root, 'policies/bundles/refund-risk/1.0.0.tar.gz')));
  // OPA parses the input inside the Wasm: a large input spends the budget before the policy runs. 15,000 items is about
  // the 1 MiB a request body may be.
  const big = { order: { items: Array.from({ length: 15_000 }, (_, i) => ({ sku: `SKU-${i}`, amount: i, finalSale: false, category: 'apparel' })) } };
  row(`OPA: refund-risk parsing a ${(JSON.stringify(big).length / 2 ** 20).toFixed(1)} MiB input`, await opaTimeToExhaust(bundle.wasm, bundle.data, budget, big));

  // Steps per real evaluation, and the overhead of metering on it.
  const cases = generateCases(2_000, 7);
  const metered = await MeteredInstance.create(bundle.wasm, bundle.data, budget);
  const raw = await loadPolicy(bundle.wasm);
  raw.setData(bundle.data as object);
  const used: number[] = [];
  for (const c of cases) {
    const a = JSON.stringify(metered.evaluate(c, 0));
    used.push(steps - Number(metered.stepsLeft));
    if (a !== JSON.stringify(raw.evaluate(c, 0))) throw new Error(`metered and raw answers differ on ${c.refundId}`);
  }
  used.sort((a, b) => a - b);
  const refundRiskSteps = { min: used[0]!, median: median(used), max: used[used.length - 1]! };
  o.log(`  refund-risk steps per evaluation over ${cases.length} generated cases: min ${refundRiskSteps.min}, median ${refundRiskSteps.median}, max ${refundRiskSteps.max}`);

  const block = (fn: (c: unknown) => unknown) => {
    const t = process.hrtime.bigint();
    for (const c of cases) fn(c);
    return Number(process.hrtime.bigint() - t) / 1e3 / cases.length;
  };
  for (let i = 0; i < 5; i++) {
    block((c) => metered.evaluate(c, 0));
    block((c) => raw.evaluate(c, 0));
  }
  const ratios: number[] = [];
  const m: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < 20; i++) {
    // Alternate which side goes first, so neither always follows the other's garbage.
    const [a, b] = i % 2 === 0 ? [block((c) => metered.evaluate(c, 0)), block((c) => raw.evaluate(c, 0))] : (([y, x]) => [x, y])([block((c) => raw.evaluate(c, 0)), block((c) => metered.evaluate(c, 0))]);
    m.push(a!);
    r.push(b!);
    ratios.push(a! / b!);
  }
  const overhead = { ratios, median: median(ratios), meteredUs: median(m), rawUs: median(r) };
  o.log(`  refund-risk evaluation: metered ${overhead.meteredUs.toFixed(1)} µs, raw opa-wasm ${overhead.rawUs.toFixed(1)} µs, metered/raw median of 20 block pairs ${overhead.median.toFixed(3)}`);
  return { budget, rows, refundRiskSteps, overhead };
}
