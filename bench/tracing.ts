/**
 * `BENCH_ONLY=tracing`: what OpenTelemetry tracing costs a refund decision over HTTP. The HTTP row's load (same bodies,
 * same connections, PostgreSQL) on three services:
 * - none: started without `npm start`'s telemetry.ts preload, so no OpenTelemetry code is loaded at all (the baseline);
 * - off: as `npm start` runs it (the preload), OTEL_EXPORTER_OTLP_ENDPOINT unset;
 * - on: the preload, the endpoint naming a sink in this process that reads and discards each batch (OTLP
 *   http/protobuf, the default; every span sampled).
 * off ÷ none is "off costs nothing"; on ÷ off is what tracing costs. Each run is a fresh service and database; each
 * round runs the three in a rotated order (none, off, on; then off, on, none; …) and the medians are compared. A none or off run that exported anything fails the
 * bench.
 */
import { createServer, type Server } from 'node:http';
import { runHttp, type HttpOptions, type HttpRow } from './http.js';
import { formatRate, formatUs } from './stats.js';

export interface TracingBenchOptions extends Pick<HttpOptions, 'root' | 'serverUrl' | 'connections' | 'warmupSeconds' | 'seconds' | 'seed' | 'serviceNodeArgs'> {
  rounds: number;
  log: (line: string) => void;
}

interface Sink {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/** An OTLP/HTTP endpoint that reads each export to the end, answers 200 with an empty body (an empty response message), and keeps nothing. */
function startSink(): Promise<Sink> {
  return new Promise((resolve, reject) => {
    const sink = { url: '', requests: 0, bytes: 0, close: () => Promise.resolve() };
    const server: Server = createServer((req, res) => {
      sink.requests++;
      req.on('data', (c: Buffer) => (sink.bytes += c.length));
      req.on('end', () => res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') }).end());
    });
    server.keepAliveTimeout = 60_000;
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (!addr || typeof addr !== 'object') return reject(new Error('no port'));
      sink.url = `http://127.0.0.1:${addr.port}`;
      sink.close = () => new Promise((r) => server.close(() => r()));
      resolve(sink);
    });
  });
}

export interface TracingRun {
  row: HttpRow;
  /** What the sink received during the run (service start to stop). */
  exports: { requests: number; bytes: number };
}

type Arm = 'none' | 'off' | 'on';
const ARMS: readonly Arm[] = ['none', 'off', 'on'];
const ARM_NAMES: Record<Arm, string> = { none: 'no preload', off: 'tracing off', on: 'tracing on' };

interface Medians {
  perSecond: number;
  p50Us: number;
  p99Us: number;
  serviceMs: number;
}

/** One side over another, of the medians: throughput and service CPU per decision as ratios, p50 and p99 as differences in ms. */
export interface Ratio {
  perSecond: number;
  serviceCpu: number;
  p50DeltaMs: number;
  p99DeltaMs: number;
}

export interface TracingBenchResult {
  none: TracingRun[];
  off: TracingRun[];
  on: TracingRun[];
  median: Record<Arm, Medians>;
  /** on ÷ off: what tracing costs. */
  ratio: Ratio;
  /** off ÷ none: what the preload costs with tracing off (the claim is: nothing measurable). */
  offVsNone: Ratio;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function medians(runs: TracingRun[]): Medians {
  const rows = runs.map((r) => r.row);
  return {
    perSecond: median(rows.map((r) => r.perSecond)),
    p50Us: median(rows.map((r) => r.p50Us)),
    p99Us: median(rows.map((r) => r.p99Us)),
    serviceMs: median(rows.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.service] : []))),
  };
}

const ratioOf = (a: Medians, b: Medians): Ratio => ({
  perSecond: a.perSecond / b.perSecond,
  serviceCpu: a.serviceMs / b.serviceMs,
  p50DeltaMs: (a.p50Us - b.p50Us) / 1e3,
  p99DeltaMs: (a.p99Us - b.p99Us) / 1e3,
});

const signed = (ms: number): string => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)} ms`;
const describe = (r: Ratio): string => `throughput ${r.perSecond.toFixed(3)}, service CPU per decision ${r.serviceCpu.toFixed(3)}, p50 ${signed(r.p50DeltaMs)}, p99 ${signed(r.p99DeltaMs)}`;

export async function runTracingBench(o: TracingBenchOptions, waitQuiet: (what: string) => Promise<unknown>): Promise<TracingBenchResult> {
  const { log } = o;
  log(`\nTracing: POST /v1/decisions/refund on PostgreSQL: no preload (no OpenTelemetry code loaded) vs as npm start runs it (telemetry.ts preloaded), tracing off vs on (OTLP http/protobuf to a discarding sink, every span sampled), ${o.rounds} round(s) rotating`);
  const sink = await startSink();
  const runs: Record<Arm, TracingRun[]> = { none: [], off: [], on: [] };
  try {
    for (let round = 1; round <= o.rounds; round++) {
      // Rotated each round (none, off, on; off, on, none; …): a drift along a round (the machine warming, PostgreSQL's
      // checkpoints) does not land on the same arm every time.
      const order = ARMS.map((_, i) => ARMS[(i + round - 1) % ARMS.length]!);
      for (const arm of order) {
        await waitQuiet(`${ARM_NAMES[arm]}, round ${round}`);
        const before = { requests: sink.requests, bytes: sink.bytes };
        const row = await runHttp(
          {
            root: o.root,
            store: 'postgresql',
            serverUrl: o.serverUrl,
            connections: o.connections,
            warmupSeconds: o.warmupSeconds,
            seconds: o.seconds,
            seed: o.seed,
            serviceNodeArgs: o.serviceNodeArgs,
            withoutPreload: arm === 'none',
            // Off and none: the endpoint is unset whatever the bench's own environment says.
            env: arm === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'always_on' } : { OTEL_EXPORTER_OTLP_ENDPOINT: '' },
            name: `${ARM_NAMES[arm]} (round ${round})`,
          },
          log,
        );
        const exports = { requests: sink.requests - before.requests, bytes: sink.bytes - before.bytes };
        log(`  sink: ${exports.requests} export requests, ${(exports.bytes / 1e6).toFixed(1)} MB`);
        if (arm !== 'on' && exports.requests > 0) throw new Error(`${ARM_NAMES[arm]} exported ${exports.requests} requests: the service must not trace without OTEL_EXPORTER_OTLP_ENDPOINT`);
        if (arm === 'on' && exports.requests === 0) throw new Error('tracing on exported nothing: the row would not measure tracing');
        runs[arm].push({ row, exports });
      }
    }
  } finally {
    await sink.close();
  }
  const median = { none: medians(runs.none), off: medians(runs.off), on: medians(runs.on) };
  const ratio = ratioOf(median.on, median.off);
  const offVsNone = ratioOf(median.off, median.none);
  log(`\nTracing, medians of ${o.rounds} round(s):`);
  for (const arm of ARMS) {
    const m = median[arm];
    log(`  ${ARM_NAMES[arm].padEnd(11)} ${formatRate(m.perSecond)}/s p50 ${formatUs(m.p50Us)} p99 ${formatUs(m.p99Us)}, service CPU ${m.serviceMs.toFixed(2)} ms/decision`);
  }
  log(`  off/none (the preload, tracing off): ${describe(offVsNone)}`);
  log(`  on/off (tracing, every span sampled): ${describe(ratio)}`);
  log('  none and off exported nothing (checked per run); the off side makes no OpenTelemetry call per request (no tracer is given to the services)');
  return { ...runs, median, ratio, offVsNone };
}
