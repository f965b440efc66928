/** Resident memory of a child process (Linux /proc), sampled over a row, and the growth trend of a soak. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in MiB, or undefined when it is gone or this is not Linux. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSample {
  /** Seconds since sampling started. */
  atS: number;
  mb: number;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly started = process.hrtime.bigint();

  constructor(
    private readonly pid: number,
    everyMs: number,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    const mb = rssMb(this.pid);
    if (mb !== undefined) this.samples.push({ atS: Number(process.hrtime.bigint() - this.started) / 1e9, mb });
  }

  stop(): RssSample[] {
    clearInterval(this.timer);
    this.sample();
    return this.samples;
  }

  get peakMb(): number | undefined {
    return this.samples.length ? Math.max(...this.samples.map((s) => s.mb)) : undefined;
  }
}

/**
 * RSS after start-up has settled: sampled every 250 ms for `seconds` while the process is left alone; the last sample
 * (V8 gives memory back on idle, so the trend is downwards, and the last is what an idle instance holds).
 */
export async function idleRssMb(pid: number, seconds: number): Promise<number | undefined> {
  const sampler = new RssSampler(pid, 250);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const samples = sampler.stop();
  return samples.at(-1)?.mb;
}

/** Least-squares slope of RSS in MiB per minute over the samples taken at or after `fromS`. */
export function slopeMbPerMin(samples: readonly RssSample[], fromS: number): number {
  const xs = samples.filter((s) => s.atS >= fromS);
  if (xs.length < 2) return NaN;
  const mx = xs.reduce((a, s) => a + s.atS, 0) / xs.length;
  const my = xs.reduce((a, s) => a + s.mb, 0) / xs.length;
  let num = 0;
  let den = 0;
  for (const s of xs) {
    num += (s.atS - mx) * (s.mb - my);
    den += (s.atS - mx) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 60;
}
