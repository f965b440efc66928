/**
 * In-process comparison with a baseline revision (BENCH_BASELINE, bench/baseline.ts): the refund decision of the
 * baseline's build and of this tree's, over the same cases, in one process, in alternating blocks.
 *
 * A shared 2-core machine moves a row measured in its own process by ±30% from one minute to the next, far more than
 * the differences worth knowing about here. Alternating blocks of a few thousand decisions within one process, and
 * pairing each "after" block with the "before" block next to it, leaves both sides the same interference; raw
 * opa-wasm blocks run in the same rotation as an anchor. Before measuring, both sides must give byte-identical answers
 * (outcome, reasons, output fields, trace) on every case.
 *
 * Each side is loaded from its own tree through its own package entry point: `release.refund()` is either a decision
 * type bound to the release (`.decide(case)`, since the generic pipeline) or the components of the hand-written decider
 * (`decideRefund(case, components)`, before it). The child runs with --preserve-symlinks so the baseline's
 * node_modules symlink gives it its own instances of json-rules-engine, ajv and opa-wasm (no shared JIT feedback).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileComponentSource } from '../libs/decisions/index.js';
import { generateCases, type RefundCase } from './cases.js';
import { machineTicks } from './stats.js';

export interface CompareOptions {
  /** This tree (built). */
  root: string;
  /** The baseline's built tree. */
  baselineRoot: string;
  cases: number;
  warmup: number;
  seed: number;
  /** Blocks per side; each side's rate is the median block. */
  blocks: number;
  /** Decisions per block. */
  blockSize: number;
}

export interface CompareSide {
  /** Decisions/s of the median block (wall clock). */
  perSecond: number;
  /** Decisions per CPU-second of this process in the median block. */
  perCpuSecond: number;
  /** Every block's decisions/s. */
  blocks: number[];
}

export interface CompareResult {
  /** Cases on which both sides answered byte-identically (all of them, or the run fails). */
  identical: number;
  /** How each side decides: `decide` (decision-type pipeline) or `decideRefund` (hand-written decider). */
  api: { before: string; after: string };
  before: CompareSide;
  after: CompareSide;
  /** Raw opa-wasm `evaluate` of the risk policy (the anchor), in the same rotation. */
  opa: CompareSide;
  /** Median over blocks of after ÷ the before block beside it (wall clock and per CPU-second). */
  ratio: { wall: number; cpu: number };
  /** Each side's decisions ÷ raw opa-wasm evaluations over the same blocks (median of per-block ratios). */
  anchor: { before: number; after: number };
  otherCoresBusy?: number;
}

type Decide = (c: RefundCase) => Promise<unknown>;
interface Side {
  api: string;
  decide: Decide;
  /** The answer as the product would serialise it: outcome, reasons, output fields, trace. */
  answer(c: RefundCase): Promise<string>;
}

interface Decision {
  outcome: string;
  reasons: unknown[];
  trace: unknown[];
  output?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * The release each side decides with: `default@1.0.0` (the refund type every tree has, so the row compares code
 * alone), or with BENCH_COMPARE_RELEASE=builtin each tree's own built-in release (its newest `releases/default/*`: the
 * product as each revision shipped it, release content included). Both must still answer byte-identically.
 */
async function releaseFile(root: string): Promise<string> {
  if (process.env.BENCH_COMPARE_RELEASE !== 'builtin') return join(root, 'releases/default/1.0.0.json');
  // This tree's reader over the other tree's content: an older tree's libs may not have newestRelease.
  const newest = await new FileComponentSource(root).newestRelease('default');
  if (!newest) throw new Error(`no built-in release under ${root}/releases/default`);
  return join(root, `releases/default/${newest.version}.json`);
}

/** Loads a built tree's libs from its own path and compiles its default release. */
async function loadSide(root: string): Promise<Side> {
  const lib = (await import(pathToFileURL(join(root, 'dist/libs/decisions/index.js')).href)) as Record<string, unknown>;
  const { ReleaseCompiler, FileComponentSource } = lib as {
    ReleaseCompiler: new (source: unknown) => { compile(manifest: unknown): Promise<{ refund(): unknown }> };
    FileComponentSource: new (root: string) => unknown;
  };
  const file = await releaseFile(root);
  const manifest = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const refund = (await new ReleaseCompiler(new FileComponentSource(root)).compile(manifest)).refund() as {
    decide?: (c: unknown) => Promise<Decision>;
    decideValid?: (c: unknown) => Promise<Decision>;
  };
  if (typeof refund.decide === 'function') {
    const type = refund as { decide: (c: unknown) => Promise<Decision>; decideValid: (c: unknown) => Promise<Decision> };
    // Timed: evaluation only, as decideRefund was (the case check ran before it, in the service, on both sides; the
    // HTTP rows include it). BENCH_COMPARE_WITH_CHECK=1 times decide(), case check included.
    const withCheck = process.env.BENCH_COMPARE_WITH_CHECK === '1';
    return {
      api: `${withCheck ? 'decide' : 'decideValid'} on default@${file.slice(file.lastIndexOf('/') + 1, -5)}`,
      decide: withCheck ? (c) => type.decide(c) : (c) => type.decideValid(c),
      answer: async (c) => {
        const d = await type.decide(c);
        return JSON.stringify({ outcome: d.outcome, reasons: d.reasons, ...d.output, trace: d.trace });
      },
    };
  }
  const decideRefund = lib.decideRefund as ((c: unknown, components: unknown) => Promise<Decision>) | undefined;
  if (typeof decideRefund !== 'function') throw new Error(`${root}: release.refund() has no decide() and the libs export no decideRefund`);
  return { api: 'decideRefund', decide: (c) => decideRefund(c, refund), answer: async (c) => JSON.stringify(await decideRefund(c, refund)) };
}

/** Raw opa-wasm over this tree's refund risk bundle, as the in-process 'opa' row runs it. */
async function loadOpa(root: string): Promise<Decide> {
  const { loadPolicy } = await import('@open-policy-agent/opa-wasm');
  const { readBundle } = await import('../libs/policies/index.js');
  const { FileComponentSource } = await import('../libs/decisions/index.js');
  const manifest = JSON.parse(await readFile(join(root, 'releases/default/1.0.0.json'), 'utf8')) as { components: Record<string, string> };
  const bundle = readBundle((await new FileComponentSource(root).bundle('refund-risk', manifest.components['refund-risk']!))!);
  const opa = await loadPolicy(bundle.wasm);
  opa.setData(bundle.data as object);
  return (c) => Promise.resolve(opa.evaluate(c, 'refund/risk/assessment'));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function compare(o: CompareOptions): Promise<CompareResult> {
  const before = await loadSide(o.baselineRoot);
  const after = await loadSide(o.root);
  const opa = await loadOpa(o.root);
  const cases = generateCases(o.cases, o.seed);
  const warm = generateCases(o.warmup, o.seed + 1);
  for (let i = 0; i < cases.length; i++) {
    const [b, a] = [await before.answer(cases[i]!), await after.answer(cases[i]!)];
    if (a !== b) throw new Error(`case ${i}: the baseline and this tree answer differently:\n${b.slice(0, 500)}\n${a.slice(0, 500)}`);
  }
  const sides = { before: before.decide, after: after.decide, opa };
  const names = Object.keys(sides) as (keyof typeof sides)[];
  for (const name of names) for (const c of warm) await sides[name](c);

  const rate: Record<string, { wall: number; cpu: number }[]> = { before: [], after: [], opa: [] };
  const machine0 = machineTicks();
  const self0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let offset = 0;
  for (let block = 0; block < o.blocks; block++) {
    // ABBA: each side runs first as often as last.
    for (const name of block % 2 === 0 ? names : [...names].reverse()) {
      const decide = sides[name];
      const cpu = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < o.blockSize; i++) await decide(cases[(offset + i) % cases.length]!);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const used = process.cpuUsage(cpu);
      rate[name]!.push({ wall: o.blockSize / seconds, cpu: o.blockSize / ((used.user + used.system) / 1e6) });
    }
    offset += o.blockSize;
  }
  const side = (name: string): CompareSide => {
    const r = rate[name]!;
    const mid = [...r].sort((a, b) => a.wall - b.wall)[Math.floor((r.length - 1) / 2)]!;
    return { perSecond: Math.round(mid.wall), perCpuSecond: Math.round(mid.cpu), blocks: r.map((x) => Math.round(x.wall)) };
  };
  const paired = (a: string, b: string, k: 'wall' | 'cpu') => median(rate[a]!.map((x, i) => x[k] / rate[b]![i]![k]));
  const result: CompareResult = {
    identical: cases.length,
    api: { before: before.api, after: after.api },
    before: side('before'),
    after: side('after'),
    opa: side('opa'),
    ratio: { wall: paired('after', 'before', 'wall'), cpu: paired('after', 'before', 'cpu') },
    anchor: { before: paired('before', 'opa', 'wall'), after: paired('after', 'opa', 'wall') },
  };
  const machine1 = machineTicks();
  if (machine0 && machine1) {
    const self = process.cpuUsage(self0);
    const wallS = Number(process.hrtime.bigint() - wall0) / 1e9;
    const otherS = (machine1.busy - machine0.busy) / 100 - (self.user + self.system) / 1e6;
    result.otherCoresBusy = Math.max(0, Math.round((otherS / wallS) * 100) / 100);
  }
  return result;
}

/** One comparison in a fresh `node --preserve-symlinks dist/bench/compare.js` process. */
export function runCompare(o: CompareOptions): Promise<CompareResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--preserve-symlinks', fileURLToPath(import.meta.url), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as CompareResult) : reject(new Error(`comparison with the baseline failed (exit ${code})`))));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [options] = process.argv.slice(2);
  if (!options) {
    console.error(`usage: node --preserve-symlinks dist/bench/compare.js '<options json>'`);
    process.exit(2);
  }
  compare(JSON.parse(options) as CompareOptions).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
