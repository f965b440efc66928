/**
 * The HTTP rows' load generator: wrk (Debian's package) driven by bench/wrk/cycle.lua. A native generator, so that on a
 * 2-core machine the load costs the service and the database little CPU; its own CPU is measured and reported.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench's own script (from dist/bench/ or bench/), whichever tree's service is measured (a baseline's, say). */
const SCRIPT = [new URL('../../bench/wrk/cycle.lua', import.meta.url), new URL('./wrk/cycle.lua', import.meta.url)].map((u) => fileURLToPath(u)).find((f) => existsSync(f));

/** One bench body with the places of the per-request id: `parts.join(id)` (usually `head + id + tail`). */
export type Template = readonly string[];

export interface LoadSpec {
  port: number;
  path: string;
  bodies: readonly Template[];
  /** Authorization header value, if any. */
  authorization?: string;
  /** Text right before the value counted per answer, e.g. `"outcome":"`. */
  marker: string;
  connections: number;
  seconds: number;
  /** Distinguishes the ids of this run from every other run against the same database. */
  runId: string;
  /** Called with wrk's pid once it runs (to sample others' CPU or memory while it does). */
  onStart?: (pid: number) => void;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  statuses: Record<string, number>;
  outcomes: Record<string, number>;
  /** Socket errors and timeouts; non-2xx answers are in `statuses`. */
  errors: number;
  firstFailure: string;
  /** CPU seconds wrk used (all its threads), read by wrk itself at the end. */
  cpuSeconds: number;
}

/** What bench/wrk/*.lua's done() writes. */
export interface WrkOutput {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  statuses: Record<string, number>;
  outcomes: Record<string, number>;
  firstFailure: string;
  cpuTicks: number;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
export const CLK_TCK = 100;
/** One wrk thread per core: more threads than cores only adds switches. */
const THREADS = 2;

let wrkPath: string | undefined;

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** wrk's path; installs Debian's package when it is missing, or explains what to do instead. */
export function ensureWrk(log: (line: string) => void): string {
  if (wrkPath) return wrkPath;
  let found = which('wrk');
  if (!found) {
    log('  wrk not found: apt-get install -y wrk');
    const attempts = [['install', '-y', 'wrk'], ['update'], ['install', '-y', 'wrk']];
    let why = '';
    for (const args of attempts) {
      try {
        execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
        if (args[0] === 'install') break;
      } catch (e) {
        why = (e as { stderr?: Buffer }).stderr?.toString('utf8').trim().split('\n').pop() ?? (e as Error).message;
      }
    }
    found = which('wrk');
    if (!found) {
      throw new Error(`wrk is not installed and "apt-get install -y wrk" did not install it (${why || 'no apt-get'}): install wrk (Debian/Ubuntu package "wrk"), or set BENCH_LOADGEN=node to drive the HTTP rows from the bench's own process (it costs the machine more CPU)`);
    }
  }
  wrkPath = found;
  return found;
}

/** Runs wrk for `spec.seconds` with `spec.connections` keep-alive connections. */
export async function runWrk(spec: LoadSpec, log: (line: string) => void): Promise<LoadResult> {
  const wrk = ensureWrk(log);
  if (!SCRIPT) throw new Error('bench/wrk/cycle.lua not found next to the bench');
  const dir = await mkdtemp(join(tmpdir(), 'dp-bench-wrk-'));
  try {
    const bodiesFile = join(dir, 'bodies');
    const resultFile = join(dir, 'result.json');
    // JSON text holds no raw tab or newline: both separate safely.
    await writeFile(bodiesFile, spec.bodies.map((parts) => parts.join('\t')).join('\n') + '\n');
    const threads = Math.min(THREADS, spec.connections);
    const args = [
      `-t${threads}`,
      `-c${spec.connections}`,
      `-d${Math.max(1, Math.round(spec.seconds))}s`,
      // A slow answer on a loaded machine is a latency to report, not an error.
      '--timeout',
      '60s',
      '-s',
      SCRIPT,
      `http://127.0.0.1:${spec.port}`,
      '--',
      bodiesFile,
      resultFile,
      spec.runId,
      spec.path,
      spec.authorization ?? '',
      spec.marker,
      String(threads),
    ];
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString('utf8')).slice(-4_000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString('utf8')).slice(-4_000)));
    if (child.pid !== undefined) spec.onStart?.(child.pid);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    let r: WrkOutput;
    try {
      r = JSON.parse(await readFile(resultFile, 'utf8')) as WrkOutput;
    } catch {
      throw new Error(`wrk exited with ${code} and wrote no result:\n${output}`);
    }
    const e = r.errors;
    return {
      requests: r.requests,
      durationSeconds: r.durationUs / 1e6,
      p50Us: r.latencyUs.p50,
      p90Us: r.latencyUs.p90,
      p99Us: r.latencyUs.p99,
      maxUs: r.latencyUs.max,
      statuses: r.statuses,
      outcomes: r.outcomes,
      // wrk's "status" errors are non-2xx/3xx answers, already counted in statuses.
      errors: e.connect + e.read + e.write + e.timeout,
      firstFailure: r.firstFailure,
      cpuSeconds: r.cpuTicks / CLK_TCK,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
