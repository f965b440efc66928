/**
 * `BENCH_ONLY=tracing`: what OpenTelemetry tracing costs a refund decision over HTTP. The HTTP row's load (same bodies,
 * same connections, PostgreSQL) on the service as `npm start` runs it (the telemetry.ts preload included), with tracing
 * off (OTEL_EXPORTER_OTLP_ENDPOINT unset) against on (the endpoint names a sink in this process that reads and discards
 * each batch; OTLP http/protobuf, the default; every span sampled). Each run is a fresh service and database; the runs
 * alternate off, on, off, on… and the medians are compared. An off run that exported anything fails the bench.
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

export interface TracingBenchResult {
  off: TracingRun[];
  on: TracingRun[];
  median: {
    off: { perSecond: number; p50Us: number; p99Us: number; serviceMs: number };
    on: { perSecond: number; p50Us: number; p99Us: number; serviceMs: number };
  };
  /** on ÷ off of the medians; p50 and p99 as differences in ms. */
  ratio: { perSecond: number; serviceCpu: number; p50DeltaMs: number; p99DeltaMs: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function medians(runs: TracingRun[]): TracingBenchResult['median']['on'] {
  const rows = runs.map((r) => r.row);
  return {
    perSecond: median(rows.map((r) => r.perSecond)),
    p50Us: median(rows.map((r) => r.p50Us)),
    p99Us: median(rows.map((r) => r.p99Us)),
    serviceMs: median(rows.flatMap((r) => (r.cpu ? [r.cpu.msPerRequest.service] : []))),
  };
}

export async function runTracingBench(o: TracingBenchOptions, waitQuiet: (what: string) => Promise<unknown>): Promise<TracingBenchResult> {
  const { log } = o;
  log(`\nTracing: POST /v1/decisions/refund on PostgreSQL, as npm start runs it (telemetry.ts preloaded), tracing off vs on (OTLP http/protobuf to a discarding sink, every span sampled), ${o.rounds} round(s) alternating`);
  const sink = await startSink();
  const off: TracingRun[] = [];
  const on: TracingRun[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const traced of [false, true]) {
        await waitQuiet(`tracing ${traced ? 'on' : 'off'}, round ${round}`);
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
            // Off: the endpoint is unset whatever the bench's own environment says.
            env: traced ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'always_on' } : { OTEL_EXPORTER_OTLP_ENDPOINT: '' },
            name: `tracing ${traced ? 'on' : 'off'} (round ${round})`,
          },
          log,
        );
        const exports = { requests: sink.requests - before.requests, bytes: sink.bytes - before.bytes };
        log(`  sink: ${exports.requests} export requests, ${(exports.bytes / 1e6).toFixed(1)} MB`);
        if (!traced && exports.requests > 0) throw new Error(`tracing off exported ${exports.requests} requests: the service must not trace without OTEL_EXPORTER_OTLP_ENDPOINT`);
        if (traced && exports.requests === 0) throw new Error('tracing on exported nothing: the row would not measure tracing');
        (traced ? on : off).push({ row, exports });
      }
    }
  } finally {
    await sink.close();
  }
  const m = { off: medians(off), on: medians(on) };
  const ratio = {
    perSecond: m.on.perSecond / m.off.perSecond,
    serviceCpu: m.on.serviceMs / m.off.serviceMs,
    p50DeltaMs: (m.on.p50Us - m.off.p50Us) / 1e3,
    p99DeltaMs: (m.on.p99Us - m.off.p99Us) / 1e3,
  };
  log(`\nTracing, medians of ${o.rounds} round(s): off ${formatRate(m.off.perSecond)}/s p50 ${formatUs(m.off.p50Us)} p99 ${formatUs(m.off.p99Us)}, service CPU ${m.off.serviceMs.toFixed(2)} ms/decision`);
  log(`                             on  ${formatRate(m.on.perSecond)}/s p50 ${formatUs(m.on.p50Us)} p99 ${formatUs(m.on.p99Us)}, service CPU ${m.on.serviceMs.toFixed(2)} ms/decision`);
  log(`  on/off: throughput ${ratio.perSecond.toFixed(3)}, service CPU per decision ${ratio.serviceCpu.toFixed(3)}, p50 ${ratio.p50DeltaMs >= 0 ? '+' : ''}${ratio.p50DeltaMs.toFixed(1)} ms, p99 ${ratio.p99DeltaMs >= 0 ? '+' : ''}${ratio.p99DeltaMs.toFixed(1)} ms`);
  log('  off exported nothing (checked per run); the off side makes no OpenTelemetry call per request (no tracer is given to the services)');
  return { off, on, median: m, ratio };
}
