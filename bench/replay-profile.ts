/**
 * One process's CPU per replayed case, profiled: BENCH_PROFILE_ROWS (default 100,000) stored refund decisions of
 * `default@<BENCH_PROFILE_RELEASE>` (default 1.0.0) held in memory as a replay reads them, replayed once in this thread to
 * warm up, then again under the inspector's CPU profiler. Prints the CPU per case and writes the profile to
 * BENCH_PROFILE_OUT (default replay.cpuprofile in the system's temporary directory; `node dist/bench/profile.js <file>` summarises it).
 * Run it several times: on a shared host, processes with identical code differ (see docs/benchmarks.md, seventh session).
 *
 * Standalone: `node dist/bench/replay-profile.js` after `npm run bench` compiled it (or `swc bench -d dist`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayItem } from '../apps/decision-api/simulations/replay-item.js';
import { runSimulation } from '../libs/decisions/index.js';
import { builtInRefundRows } from './replay-threads.js';
import { runIfMain } from './stats.js';

export async function runReplayProfile(o: { root: string; rows: number; release: string; out: string; log: (line: string) => void }): Promise<void> {
  const { type, rows } = await builtInRefundRows(o.root, o.release, o.rows);
  const replay = () =>
    runSimulation(
      (function* () {
        for (let i = 0; i < rows.length; i += 2_000) yield rows.slice(i, i + 2_000).map((r) => replayItem(r, type.outputNames));
      })(),
      { candidate: type, keep: (r) => r.changed, maxKept: 1_000 },
    );
  await replay();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await replay();
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - t0;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  await mkdir(dirname(o.out), { recursive: true });
  await writeFile(o.out, JSON.stringify(profile));
  o.log(
    `replay profile (default@${o.release}, ${o.rows.toLocaleString('en-US')} cases, in this thread, profiled): ${Math.round((o.rows / ms) * 1000).toLocaleString('en-US')} cases/s, ` +
      `${((used.user + used.system) / o.rows).toFixed(1)} µs of CPU per case; profile in ${o.out}`,
  );
}

runIfMain(import.meta.url, () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return runReplayProfile({
    root,
    rows: Number(process.env.BENCH_PROFILE_ROWS ?? 100_000),
    release: process.env.BENCH_PROFILE_RELEASE ?? '1.0.0',
    out: process.env.BENCH_PROFILE_OUT ?? join(tmpdir(), 'replay.cpuprofile'),
    log: (line) => console.log(line),
  });
});
