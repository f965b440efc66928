/**
 * How long the disk takes to make a write durable (fdatasync of an 8 KiB block rewritten in place, as a WAL flush does), sampled for a
 * few seconds: on a shared virtual disk the tail, not the median, decides a committed answer's p99, since every
 * request that commits while one flush stalls waits for it.
 */
import { closeSync, fdatasyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DiskFlushProbe {
  flushes: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Whether the probe's file was on the device of PostgreSQL's data directory (undefined: that directory unreadable). */
  sameDeviceAsPostgres?: boolean;
}

/** Flushes back to back for `seconds` in `dir`; `postgresDataDir` (SHOW data_directory) only to say whether it is the same device. */
export function probeDiskFlush(seconds: number, postgresDataDir?: string, dir = tmpdir()): DiskFlushProbe {
  const path = join(dir, `dp-bench-flush-${process.pid}`);
  const block = Buffer.alloc(8192, 1);
  const fd = openSync(path, 'w');
  const ms: number[] = [];
  try {
    const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
    // Rewritten in place, as PostgreSQL rewrites its preallocated WAL segments: a flush that need not record a new size.
    writeSync(fd, block, 0, block.length, 0);
    fdatasyncSync(fd);
    while (process.hrtime.bigint() < end) {
      writeSync(fd, block, 0, block.length, 0);
      const t = process.hrtime.bigint();
      fdatasyncSync(fd);
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * q))]!;
  let sameDeviceAsPostgres: boolean | undefined;
  try {
    if (postgresDataDir) sameDeviceAsPostgres = statSync(postgresDataDir).dev === statSync(dir).dev;
  } catch {
    sameDeviceAsPostgres = undefined;
  }
  return { flushes: ms.length, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxMs: ms[ms.length - 1]!, ...(sameDeviceAsPostgres !== undefined && { sameDeviceAsPostgres }) };
}

export const formatDiskFlush = (p: DiskFlushProbe): string =>
  `${p.flushes} flushes, p50 ${p.p50Ms.toFixed(2)} ms, p99 ${p.p99Ms.toFixed(1)} ms, p99.9 ${p.p999Ms.toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms` +
  (p.sameDeviceAsPostgres === undefined ? '' : p.sameDeviceAsPostgres ? " (PostgreSQL's device)" : " (not PostgreSQL's device)");
