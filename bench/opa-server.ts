/**
 * The `opa-server` anchor row: `opa run --server` (the pinned CLI, installed by scripts/opa.sh when missing) answering
 * the refund risk policy alone, persisting nothing, loaded by the same wrk script with the same 4,096 cases and
 * connections as the service's HTTP row. Each case is sent as the input the service's policy step receives for it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { FileComponentSource, pseudonymize, pseudonymizer, ReleaseCompiler, tenantKey } from '../libs/decisions/index.js';
import { generateCases } from './cases.js';
import { freePort, machineBusy, processCpu, request } from './http.js';
import { runWrk, type Template } from './loadgen.js';
import { idleRssMb, RssSampler } from './memory.js';
import type { Summary } from './stats.js';

/** Distinct bodies, as the service's HTTP row sends. */
const BODIES = 4_096;
const RISK_POLICY_DIR = 'policies/refund-risk';

export interface OpaRow extends Summary {
  name: string;
  connections: number;
  seconds: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  /** Risk bands of the answers. */
  bands: Record<string, number>;
  cpu?: {
    windowSeconds: number;
    msPerRequest: { loadGenerator: number; opa: number };
    loadGenerator: number;
    opa: number;
    machineBusy: number;
  };
  memory: { idleMb?: number; peakMb?: number };
}

/** The pinned OPA CLI, installed into .tools/bin by scripts/opa.sh (go install) when missing. */
export function ensureOpa(root: string, log: (line: string) => void): string {
  log('  OPA CLI: scripts/opa.sh ensure (installs the pinned version with go install when missing; that takes minutes)');
  try {
    return execFileSync(join(root, 'scripts/opa.sh'), ['ensure'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch (e) {
    throw new Error(`the OPA CLI is not available (scripts/opa.sh ensure failed: ${(e as Error).message}); the opa-server row needs it`, { cause: e });
  }
}

/** The risk policy's inputs for the bench's cases, as the service builds them, and what the service's Wasm answered. */
export interface RiskInputs {
  release: string;
  /** The risk policy's bundle, name@version (policies/bundles/<name>/<version>.tar.gz). */
  policy: string;
  entrypoint: string;
  /** `{"input": …}` bodies with the place of the refundId where the policy's input carries it, as the service's HTTP row's bodies. */
  bodies: Template[];
  /** The policy's output for each body, from the same Wasm the service evaluates. */
  expected: unknown[];
}

/**
 * Decides each case with the refund type of the newest built-in release (the one the service serves) and keeps what
 * its policy step passed to the policy: the case after pseudonymization and feature values (an empty history, as
 * the first request of each case sees), i.e. the input the service's policy evaluation receives.
 */
export async function riskInputs(root: string, seed: number): Promise<RiskInputs> {
  const manifest = await new FileComponentSource(root).newestRelease('default');
  if (!manifest) throw new Error(`no built-in release under ${root}/releases/default`);
  const type = (await new ReleaseCompiler(new FileComponentSource(root)).compile(manifest)).refund();
  if (type.policySteps.length !== 1) throw new Error(`the opa-server row expects one policy step in ${type.ref}, found ${type.policySteps.length}`);
  const step = type.policySteps[0]!;
  const policy = step.policy;
  const evaluate = policy.evaluate.bind(policy);
  let seen: { input: unknown; output: unknown } | undefined;
  // This bench-local instance only: record the step's input and output as it evaluates.
  policy.evaluate = (entrypoint, input) => {
    const output = evaluate(entrypoint, input);
    if (entrypoint === step.entrypoint) seen = { input, output };
    return output;
  };
  const hash = pseudonymizer(tenantKey(randomBytes(32), 'bench'));
  const bodies: Template[] = [];
  const expected: unknown[] = [];
  for (const c of generateCases(BODIES, seed)) {
    seen = undefined;
    await type.decideValid(pseudonymize({ ...c, refundId: '\u0000' }, type.personal, hash));
    if (!seen) throw new Error(`${type.ref} did not evaluate ${step.entrypoint}`);
    const parts = JSON.stringify({ input: (seen as { input: unknown }).input }).split('\\u0000');
    // A step with inputPaths (refund@1.3.0) hands the policy no refundId: OPA then gets that same input, id-less.
    if (parts.length > 2) throw new Error(`the policy input carries the refundId ${parts.length - 1} times`);
    bodies.push(parts.length === 2 ? [`${parts[0]!}rf_`, parts[1]!] : [parts[0]!]);
    expected.push((seen as { output: unknown }).output);
  }
  return { release: `${manifest.name}@${manifest.version} (${type.ref}, ${policy.ref})`, policy: policy.ref, entrypoint: step.entrypoint, bodies, expected };
}

/** JSON with object keys sorted: OPA answers keys in sorted order, the Wasm in the policy's. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface OpaRowOptions {
  root: string;
  opa: string;
  inputs: RiskInputs;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Check OPA's answer on every body against the service's Wasm before loading it. */
  verify: boolean;
}

/** Starts `opa run --server` on the risk policy's sources, checks it answers as the Wasm does, loads it, stops it. */
export async function runOpaRow(o: OpaRowOptions, log: (line: string) => void): Promise<OpaRow> {
  const port = await freePort();
  // The Rego the bundle is built from, without its tests: OPA interprets it (its server does not run Wasm).
  const child = spawn(
    o.opa,
    ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--disable-telemetry', '--ignore', '*_test.rego', '--bundle', join(o.root, RISK_POLICY_DIR)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString('utf8')).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // An interrupted bench exits without reaching the finally below: OPA must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const path = `/v1/data/${o.inputs.entrypoint}`;
  try {
    const until = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`opa exited before it was ready:\n${output}`);
      const ok = await request(agent, port, 'GET', '/health', {}).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > until) throw new Error(`opa not ready after 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = child.pid!;
    const idleMb = await idleRssMb(pid, 2);
    if (o.verify) {
      for (let i = 0; i < o.inputs.bodies.length; i++) {
        const r = await request(agent, port, 'POST', path, { 'content-type': 'application/json' }, o.inputs.bodies[i]!.join(`verify_${i}`));
        const got = (JSON.parse(r.body) as { result?: unknown }).result;
        if (r.status !== 200 || canonical(got) !== canonical(o.inputs.expected[i])) {
          throw new Error(`opa run --server answers case ${i} differently from the service's Wasm: ${r.status} ${r.body.slice(0, 500)} vs ${JSON.stringify(o.inputs.expected[i]).slice(0, 500)}`);
        }
      }
      log(`  opa run --server answers all ${o.inputs.bodies.length} cases exactly as the service's Wasm (${o.inputs.release})`);
    }
    const spec = { port, path, bodies: o.inputs.bodies, marker: '"band":"', connections: o.connections };
    const run = `${process.pid}-${Date.now().toString(36)}`;
    if (o.warmupSeconds > 0) await runWrk({ ...spec, seconds: o.warmupSeconds, runId: `${run}w` }, log);
    const rss = new RssSampler(pid, 250);
    const a = { at: process.hrtime.bigint(), opa: processCpu(pid), machine: machineBusy() };
    const r = await runWrk({ ...spec, seconds: o.seconds, runId: `${run}m` }, log);
    const b = { at: process.hrtime.bigint(), opa: processCpu(pid), machine: machineBusy() };
    rss.stop();
    const windowSeconds = Number(b.at - a.at) / 1e9;
    const opaCpu = b.opa - a.opa;
    const perRequest = (s: number) => Math.round(((s * 1000) / ((r.requests * windowSeconds) / r.durationSeconds)) * 100) / 100;
    const non2xx = Object.entries(r.statuses).reduce((sum, [s, n]) => (Number(s) >= 200 && Number(s) < 300 ? sum : sum + n), 0);
    if (r.firstFailure) log(`  first failure: ${r.firstFailure}`);
    const row: OpaRow = {
      name: `opa run --server, POST ${path}`,
      connections: o.connections,
      seconds: r.durationSeconds,
      count: r.requests,
      perSecond: r.requests / r.durationSeconds,
      p50Us: r.p50Us,
      p90Us: r.p90Us,
      p99Us: r.p99Us,
      maxUs: r.maxUs,
      non2xx,
      errors: r.errors,
      statuses: r.statuses,
      bands: r.outcomes,
      ...(existsSync('/proc/stat') && {
        cpu: { windowSeconds, msPerRequest: { loadGenerator: perRequest(r.cpuSeconds), opa: perRequest(opaCpu) }, loadGenerator: r.cpuSeconds, opa: opaCpu, machineBusy: b.machine - a.machine },
      }),
      memory: { ...(idleMb !== undefined && { idleMb }), ...(rss.peakMb !== undefined && { peakMb: rss.peakMb }) },
    };
    log(`  ${row.name}: ${Math.round(row.perSecond)}/s p50 ${(row.p50Us / 1e3).toFixed(1)} ms p99 ${(row.p99Us / 1e3).toFixed(1)} ms non-2xx ${non2xx} errors ${r.errors}, load generator ${(r.cpuSeconds / windowSeconds).toFixed(3)} cores; RSS idle ${idleMb?.toFixed(0) ?? '?'} MB, peak ${rss.peakMb?.toFixed(0) ?? '?'} MB`);
    return row;
  } finally {
    process.off('exit', killOnExit);
    agent.destroy();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
