/** Latency summaries and table printing for the benchmark. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { pathToFileURL } from 'node:url';

export interface Summary {
  /** Measured operations. */
  count: number;
  /** Operations per second over the measured wall time. */
  perSecond: number;
  /** Latencies in microseconds. */
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** `latenciesNs` in nanoseconds; `elapsedNs` the wall time the operations took together. */
export function summarise(latenciesNs: Float64Array, elapsedNs: number): Summary {
  const sorted = Float64Array.from(latenciesNs).sort();
  return {
    count: sorted.length,
    perSecond: sorted.length / (elapsedNs / 1e9),
    p50Us: percentile(sorted, 50) / 1e3,
    p90Us: percentile(sorted, 90) / 1e3,
    p99Us: percentile(sorted, 99) / 1e3,
    maxUs: (sorted[sorted.length - 1] ?? NaN) / 1e3,
  };
}

export function formatRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Microseconds shown in µs below 1 ms, in ms above. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us < 1_000) return `${us < 10 ? us.toFixed(2) : us.toFixed(1)} µs`;
  return `${(us / 1_000).toFixed(us < 10_000 ? 2 : 1)} ms`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the bench started. */
  loadAverage: number[];
  /** Cores other processes kept busy just before the bench started (Linux). */
  backgroundBusyCores?: number;
  /** The commit measured, and the tracked files that differed from it (the bench measures the working tree). */
  git?: { commit: string; modifiedFiles: string[] };
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpuCount: list.length,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${osType()} ${release()}`,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    ...gitState(),
  };
}

function gitState(): { git?: MachineInfo['git'] } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const modifiedFiles = git('diff', '--name-only', 'HEAD').split('\n').filter(Boolean);
    return { git: { commit: git('rev-parse', 'HEAD'), modifiedFiles } };
  } catch {
    return {}; // not a git checkout
  }
}

/** Busy and total CPU time of the whole machine from /proc/stat, in clock ticks. */
export function machineTicks(): { busy: number; total: number } | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  // user nice system idle iowait irq softirq steal
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** Cores kept busy by the machine over `ms` while this process sleeps (Linux only). */
export async function backgroundLoad(ms: number): Promise<number | undefined> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  if (!a || !b) return undefined;
  return ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
}

/**
 * Runs a standalone probe when its module is the one node was started with (`node dist/bench/<probe>.js`), and exits
 * with its outcome (0, or 1 after printing the error).
 */
export function runIfMain(moduleUrl: string, run: () => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
