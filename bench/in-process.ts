/** In-process rows: the refund release end to end, raw json-rules-engine, raw opa-wasm, and the hand-written floor. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy, type LoadedPolicy as OpaPolicy } from '@open-policy-agent/opa-wasm';
import { Engine, type RuleProperties } from 'json-rules-engine';
import { FileComponentSource, ReleaseCompiler, type BoundDecisionType, type ReleaseManifest, type TypedDecision } from '../libs/decisions/index.js';
import { readBundle, type PolicyBundle } from '../libs/policies/index.js';
import type { RulePack } from '../libs/rules/index.js';
import { generateCases, type RefundCase } from './cases.js';
import { buildRefundFacts, createFloor, type FloorDecision } from './floor.js';

const REFUND_RISK_ENTRYPOINT = 'refund/risk/assessment';
/** A refund decision as the product answers it: outcome, reasons, the output fields at the top level, trace. */
const decideRefund = async (c: RefundCase, type: BoundDecisionType) => flat(await type.decide(c));
const flat = (d: TypedDecision) => ({ outcome: d.outcome, reasons: d.reasons, trace: d.trace, ...(d.output as { riskScore: number; approvedAmount: number; tender: string }) });
import { machineTicks, summarise, type Summary } from './stats.js';

export interface InProcessRow extends Summary {
  name: string;
  note: string;
  concurrency: number;
  /** Evaluations/s of every measured pass; the row shows the median pass. */
  rounds: number[];
  /**
   * Evaluations per second of CPU time this process used in the median pass (all its threads, GC included): what
   * one core does when nothing preempts the thread. Close to perSecond on an idle machine.
   */
  perCpuSecond: number;
  /** Cores other processes kept busy while the row ran (Linux): high values mean the figures are pessimistic. */
  otherCoresBusy?: number;
  /** The measured passes in CLOCK_MONOTONIC microseconds, to cut a CPU profile to them. */
  windowUs: { fromUs: number; toUs: number };
  /** 2 when the first attempt ran while other processes were busy and the row was measured again. */
  attempts?: number;
}

export interface InProcessOptions {
  root: string;
  cases: number;
  warmup: number;
  seed: number;
  overlap: number;
  rounds: number;
  /** When set, the 'release' row runs under `node --cpu-prof` writing here. */
  profileDir?: string;
}

export interface InProcessResult {
  rows: InProcessRow[];
  /** Outcomes of the measured cases, as the product decided them. */
  mix: Record<string, number>;
}

/** Replaces `{"param": name}` with the pack parameter, as compilePack does, leaving everything else as written. */
function substituteParams(node: unknown, params: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => substituteParams(n, params));
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === 'param' && typeof o.param === 'string') return params[o.param];
  return Object.fromEntries(keys.map((k) => [k, substituteParams(o[k], params)]));
}

const now = (): bigint => process.hrtime.bigint();

type Op = (i: number) => unknown;

/** Sequential: one operation at a time, each timed on its own. `warm` runs first over the warm-up cases. */
async function sequential(n: number, warmup: number, op: Op, warm: Op): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await warm(i);
  const lat = new Float64Array(n);
  const start = now();
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await op(i);
    lat[i] = Number(now() - t0);
  }
  return summarise(lat, Number(now() - start));
}

/** Sequential for synchronous operations: no await between them, so the loop adds only the timer. */
function sequentialSync(n: number, warmup: number, op: Op, warm: Op): Summary {
  let sink = 0;
  for (let i = 0; i < warmup; i++) if (warm(i)) sink++;
  const lat = new Float64Array(n);
  const start = now();
  for (let i = 0; i < n; i++) {
    const t0 = now();
    if (op(i)) sink++;
    lat[i] = Number(now() - t0);
  }
  const elapsed = Number(now() - start);
  if (sink < 0) console.log(sink); // keeps the results observable
  return summarise(lat, elapsed);
}

/** `width` evaluations in flight at once (a new one starts as soon as one finishes); latency is start-to-resolve of each. */
async function overlapping(n: number, warmup: number, width: number, op: Op, warm: Op): Promise<Summary> {
  const run = async (count: number, fn: Op, lat?: Float64Array) => {
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t0 = now();
        await fn(i);
        if (lat) lat[i] = Number(now() - t0);
      }
    };
    await Promise.all(Array.from({ length: width }, worker));
  };
  await run(warmup, warm);
  const lat = new Float64Array(n);
  const start = now();
  await run(n, op, lat);
  return summarise(lat, Number(now() - start));
}

function sameDecision(product: { outcome: string; riskScore: number; tender: string; reasons: { code: string }[] }, floor: FloorDecision): boolean {
  return (
    product.outcome === floor.outcome &&
    product.riskScore === floor.riskScore &&
    product.tender === floor.tender &&
    product.reasons.map((r) => r.code).join() === floor.reasons.map((r) => r.code).join()
  );
}

/** Rows, each measured in a fresh Node process so no row inherits another's heap, JIT feedback or engines. */
export const ROWS = ['check', 'release', 'release-overlap', 'engine', 'opa', 'floor'] as const;
export type RowId = (typeof ROWS)[number];

interface Setup {
  components: BoundDecisionType;
  pack: RulePack;
  bundle: PolicyBundle;
  cases: RefundCase[];
  /** Warm-up cases come from another seed, so the measured cases are not ones the JIT has seen. */
  warm: RefundCase[];
  floor: (c: RefundCase) => FloorDecision;
}

async function setup(o: InProcessOptions): Promise<Setup> {
  const source = new FileComponentSource(o.root);
  const manifest = JSON.parse(await readFile(join(o.root, 'releases/default/1.0.0.json'), 'utf8')) as ReleaseManifest;
  const compiled = await new ReleaseCompiler(source).compile(manifest);
  const pack = (await source.pack('refund-policy', manifest.components['refund-policy']!)) as RulePack;
  const bundle = readBundle((await source.bundle('refund-risk', manifest.components['refund-risk']!))!);
  type RiskData = Parameters<typeof createFloor>[0];
  type PackParameters = Parameters<typeof createFloor>[1];
  return {
    components: compiled.refund(),
    pack,
    bundle,
    cases: generateCases(o.cases, o.seed),
    warm: generateCases(o.warmup, o.seed + 1),
    floor: createFloor((bundle.data as { refund_risk: RiskData }).refund_risk, pack.parameters as unknown as PackParameters),
  };
}

function rawEngine(pack: RulePack): Engine {
  return new Engine(
    pack.rules.map((r) => ({ name: r.name, priority: r.priority ?? 1, conditions: substituteParams(r.conditions, pack.parameters), event: r.event }) as RuleProperties),
  );
}

async function rawOpa(bundle: PolicyBundle): Promise<OpaPolicy> {
  const opa = await loadPolicy(bundle.wasm);
  opa.setData(bundle.data as object);
  return opa;
}

/** The floor and the raw engines must agree with the product on every measured case; returns the outcome mix. */
async function check(s: Setup): Promise<Record<string, number>> {
  const { components, cases, floor } = s;
  const engine = rawEngine(s.pack);
  const opa = await rawOpa(s.bundle);
  const mix: Record<string, number> = { APPROVE: 0, REVIEW: 0, DENY: 0 };
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const d = await decideRefund(c, components);
    mix[d.outcome] = (mix[d.outcome] ?? 0) + 1;
    const f = floor(c);
    if (!sameDecision(d, f)) throw new Error(`floor disagrees with the product on case ${i}: ${JSON.stringify({ product: d.reasons, floor: f })}`);
    const rawRun = await engine.run(buildRefundFacts(c, f.riskScore));
    // Same events; json-rules-engine orders events within a priority by completion, so compare them sorted.
    const packCodes = d.reasons.filter((r) => r.source === `refund-policy@${s.pack.version}`).map((r) => r.code).sort();
    const rawCodes = rawRun.events.filter((e) => e.type !== 'TENDER').map((e) => String(e.params?.code)).sort();
    if (packCodes.join() !== rawCodes.join()) throw new Error(`raw json-rules-engine disagrees on case ${i}: ${rawCodes.join()} vs ${packCodes.join()}`);
    const risk = (opa.evaluate(c, REFUND_RISK_ENTRYPOINT) as { result: { score: number } }[])[0]!.result;
    if (risk.score !== d.riskScore) throw new Error(`raw opa-wasm disagrees on case ${i}`);
  }
  return mix;
}

/** Warm-up once, then `rounds` measured passes over the cases; the pass with the median rate is reported. */
async function measure(id: Exclude<RowId, 'check'>, s: Setup, o: InProcessOptions): Promise<InProcessRow> {
  const { components, cases, warm, floor } = s;
  const n = cases.length;
  let name: string;
  let note: string;
  let concurrency = 1;
  /** warmUp: only the warm-up cases, unmeasured; otherwise one measured pass over the cases. */
  let pass: (warmUp: boolean) => Promise<Summary>;
  switch (id) {
    case 'release': {
      const op = (list: RefundCase[]): Op => (i) => decideRefund(list[i]!, components);
      name = 'refund release, decideRefund (sequential)';
      note = 'opa-wasm risk + compiled pack (fact schema check, engine, trace) + combining';
      pass = (warmUp) => sequential(warmUp ? 0 : n, warmUp ? warm.length : 0, op(cases), op(warm));
      break;
    }
    case 'release-overlap': {
      const op = (list: RefundCase[]): Op => (i) => decideRefund(list[i]!, components);
      concurrency = o.overlap;
      name = `refund release, decideRefund (${o.overlap} overlapping)`;
      note = 'same, with 16 evaluations overlapping on the thread';
      pass = (warmUp) => overlapping(warmUp ? 0 : n, warmUp ? warm.length : 0, o.overlap, op(cases), op(warm));
      break;
    }
    case 'engine': {
      const engine = rawEngine(s.pack);
      const facts = cases.map((c) => buildRefundFacts(c, floor(c).riskScore));
      const warmFacts = warm.map((c) => buildRefundFacts(c, floor(c).riskScore));
      const op = (list: object[]): Op => (i) => engine.run(list[i] as Record<string, unknown>);
      name = 'raw json-rules-engine Engine.run';
      note = 'the pack\'s 10 rules, params substituted, default options (jsonpath-plus paths, cached facts)';
      pass = (warmUp) => sequential(warmUp ? 0 : n, warmUp ? warm.length : 0, op(facts), op(warmFacts));
      break;
    }
    case 'opa': {
      const opa = await rawOpa(s.bundle);
      const op = (list: RefundCase[]): Op => (i) => opa.evaluate(list[i]!, REFUND_RISK_ENTRYPOINT) as unknown;
      name = 'raw opa-wasm evaluate';
      note = `${REFUND_RISK_ENTRYPOINT} by name, the whole case as input`;
      pass = (warmUp) => Promise.resolve(sequentialSync(warmUp ? 0 : n, warmUp ? warm.length : 0, op(cases), op(warm)));
      break;
    }
    case 'floor': {
      const op = (list: RefundCase[]): Op => (i) => floor(list[i]!);
      name = 'hand-written TS floor (comparison only)';
      note = 'risk score + 10 rules + combining, no trace; NOT product code';
      pass = (warmUp) => Promise.resolve(sequentialSync(warmUp ? 0 : n, warmUp ? warm.length : 0, op(cases), op(warm)));
      break;
    }
  }
  await pass(true);
  const results: (Summary & { perCpuSecond: number })[] = [];
  const machineBefore = machineTicks();
  const selfBefore = process.cpuUsage();
  const wallBefore = now();
  for (let round = 0; round < o.rounds; round++) {
    const cpu = process.cpuUsage();
    const summary = await pass(false);
    const used = process.cpuUsage(cpu);
    results.push({ ...summary, perCpuSecond: summary.count / ((used.user + used.system) / 1e6) });
  }
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineTicks();
  const byRate = [...results].sort((a, b) => a.perSecond - b.perSecond);
  const median = byRate[Math.floor((byRate.length - 1) / 2)]!;
  const windowUs = { fromUs: Number(wallBefore / 1000n), toUs: Number(now() / 1000n) };
  const row: InProcessRow = { name, note, concurrency, ...median, rounds: results.map((r) => Math.round(r.perSecond)), windowUs };
  if (machineBefore && machineAfter) {
    // Busy CPU of the whole machine minus this process's own: what other processes took while the row ran.
    const wallS = Number(now() - wallBefore) / 1e9;
    const otherS = (machineAfter.busy - machineBefore.busy) / 100 - (self.user + self.system) / 1e6;
    row.otherCoresBusy = Math.max(0, Math.round((otherS / wallS) * 100) / 100);
  }
  return row;
}

export type RowResult = { id: 'check'; mix: Record<string, number> } | { id: Exclude<RowId, 'check'>; row: InProcessRow };

async function runRow(id: RowId, o: InProcessOptions): Promise<RowResult> {
  const s = await setup(o);
  return id === 'check' ? { id, mix: await check(s) } : { id, row: await measure(id, s, o) };
}

/** Runs every row, each in its own `node dist/bench/in-process.js` process. */
/** Hooks for a shared machine: wait for quiet before a row, and say whether a row run under load should be redone. */
export interface Quiet {
  before(what: string): Promise<unknown>;
  /** Resolves true (after waiting for quiet) when a row that saw `otherCores` busy should run again. */
  retry(what: string, otherCores: number | undefined): Promise<boolean>;
}

/** Runs every row, each in its own `node dist/bench/in-process.js` process. */
export async function runInProcess(o: InProcessOptions, log: (line: string) => void, quiet: Quiet): Promise<InProcessResult> {
  const rows: InProcessRow[] = [];
  let mix: Record<string, number> = {};
  for (const id of ROWS) {
    if (id === 'check') {
      const result = await runChild(id, o);
      if (result.id === 'check') mix = result.mix;
      log(`  ${o.cases} cases checked: the floor, raw json-rules-engine and raw opa-wasm agree with decideRefund; outcomes ${JSON.stringify(mix)}`);
      continue;
    }
    await quiet.before(`row ${id}`);
    let row: InProcessRow | undefined;
    for (let attempt = 1; ; attempt++) {
      const result = await runChild(id, o);
      if (result.id === 'check') throw new Error('unreachable');
      const r = result.row;
      log(`  ${r.name}: ${Math.round(r.perSecond)}/s (rounds ${r.rounds.join(', ')}), p50 ${r.p50Us.toFixed(1)} µs, p99 ${r.p99Us.toFixed(1)} µs; other processes: ${r.otherCoresBusy ?? '?'} cores`);
      // Of two attempts, keep the one other processes disturbed less.
      if (!row || (r.otherCoresBusy ?? 0) < (row.otherCoresBusy ?? 0)) row = { ...r, attempts: attempt };
      if (attempt >= 2 || !(await quiet.retry(`row ${id}`, r.otherCoresBusy))) break;
    }
    rows.push(row);
  }
  return { rows, mix };
}

function runChild(id: RowId, o: InProcessOptions): Promise<RowResult> {
  return new Promise((resolve, reject) => {
    const profile = o.profileDir && id === 'release' ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [];
    const child = spawn(process.execPath, [...profile, fileURLToPath(import.meta.url), id, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`in-process row ${id} failed (exit ${code})`));
      else resolve(JSON.parse(out) as RowResult);
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [id, options] = process.argv.slice(2);
  if (!ROWS.includes(id as RowId) || !options) {
    console.error(`usage: node dist/bench/in-process.js <${ROWS.join('|')}> '<options json>'`);
    process.exit(2);
  }
  runRow(id as RowId, JSON.parse(options) as InProcessOptions).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
