/**
 * OpenTelemetry tracing, loaded before the service's own modules: `node --import ./dist/apps/decision-api/telemetry.js
 * dist/apps/decision-api/main.js` (what `npm start` runs). With OTEL_EXPORTER_OTLP_ENDPOINT unset (or invalid, which
 * main.ts then reports with the other bad variables) it loads only its two dependency-free helpers (tracing/settings,
 * tracing/redaction) and node:worker_threads, and starts nothing.
 *
 * Set, it starts the SDK with the HTTP server (W3C traceparent in, via the SDK's default propagators), Fastify
 * (@fastify/otel: request and handler spans) and pg (one span per statement) instrumentations, and the OTLP trace exporter
 * the standard OTEL_* variables describe (OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf by default, http/json or grpc;
 * OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS …). Traces only: metrics are
 * Prometheus's (/metrics) and logs are stdout's, so the SDK's metric and log exporters stay off.
 */
import { isMainThread } from 'node:worker_threads';
import { maskSqlLiterals, pathOnly, queryNamesOnly, sqlCommand } from './tracing/redaction.js';
import { OTEL_STARTED, tracingEnabled, tracingProblems } from './tracing/settings.js';

/** Probes and scrapes, polled every few seconds: nothing to follow, so no trace. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const untraced = (url: string | undefined): boolean => url !== undefined && UNTRACED_PATHS.has(pathOnly(url));

/** The modules the instrumentations patch: the only ones import-in-the-middle intercepts (the rest load untouched). */
const INSTRUMENTED_MODULES = ['pg', 'pg-pool', 'http', 'https', 'node:http', 'node:https'];

async function startTracing(): Promise<void> {
  // ESM: the loader hook must be in place before `pg` is imported, so it goes first, in this thread (Node >= 24.11.1).
  const { register, supportsSyncHooks } = await import('import-in-the-middle/register-hooks.mjs');
  if (supportsSyncHooks()) register({ include: INSTRUMENTED_MODULES });
  else {
    const { register: registerAsync } = await import('node:module');
    registerAsync('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED_MODULES } });
  }
  const [{ NodeSDK }, { getSpanProcessorsFromEnv }, { ScrubbingSpanProcessor }, { HttpInstrumentation }, { PgInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    // The exporters the OTEL_* variables describe, as NodeSDK builds them when given no processors (it exports no such
    // helper; @opentelemetry/sdk-node is pinned exactly, and has no `exports` map closing this path).
    import('@opentelemetry/sdk-node/build/src/utils.js'),
    import('./tracing/span-scrubber.js'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
    import('@fastify/otel'),
  ]);
  // The service's name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES (read by the SDK) gives one.
  const named = !!process.env.OTEL_SERVICE_NAME || /(^|,)\s*service\.name=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(!named && { serviceName: 'decision-api' }),
    instrumentations: [
      new HttpInstrumentation({
        // Background work (webhook posts, a payment provider's calls) makes no root traces of its own.
        requireParentforOutgoingSpans: true,
        ignoreIncomingRequestHook: (request) => untraced(request.url),
        // A query string may carry a raw customer id: its parameter names stay, their values do not.
        requestHook: (span, request) => {
          const url = 'url' in request ? request.url : undefined;
          const q = url?.indexOf('?') ?? -1;
          if (url && q >= 0) span.setAttribute('url.query', queryNamesOnly(url.slice(q + 1)));
        },
      }),
      // Registers itself on every Fastify instance as it is created (the FastifyAdapter's), through diagnostics_channel.
      // Request and handler spans only: a span per hook (Nest's middleware runner, the Host check …) would cost more
      // than it tells.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        ignorePaths: ({ url }) => untraced(url),
      }),
      // requireParentSpan: the pool's background work (release polls, outbox relay, sweepers) makes no root traces.
      // Statements MikroORM wrote with their values inlined keep their shape only; pool checkouts make no span.
      new PgInstrumentation({
        requireParentSpan: true,
        ignoreConnectSpans: true,
        requestHook: (span, { query, connection }) => {
          if (!query.values?.length) span.setAttribute('db.query.text', maskSqlLiterals(query.text));
          // A statement the pool marked with a leading comment is named by its command, as the instrumentation names the
          // rest (`pg.query:WITH <database>`); a named one keeps its statement name.
          if (!query.name && query.text.startsWith('/*')) {
            const command = sqlCommand(query.text);
            if (command) span.updateName(`pg.query:${command}${connection.database ? ` ${connection.database}` : ''}`);
          }
        },
      }),
    ],
    // Addresses, user agents, raw paths and PostgreSQL's error messages come out of each span before it is queued.
    spanProcessors: [new ScrubbingSpanProcessor(), ...getSpanProcessorsFromEnv(undefined)],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  // The app makes its tracer only when this is set (tracing/tracing.ts): the endpoint alone, without this preload, traces nothing.
  (globalThis as Record<symbol, unknown>)[OTEL_STARTED] = true;
  // Whatever is still batched when the process exits normally; main.ts's SIGTERM path flushes through the app (tracing/tracing.ts).
  process.once('beforeExit', () => void sdk.shutdown());
}

// Worker threads inherit --import: the service's main thread traces, its webhook and replay workers do not.
if (isMainThread && tracingProblems(process.env).length === 0 && tracingEnabled(process.env)) {
  try {
    await startTracing();
  } catch (e) {
    // The service still starts: untraced, with one line saying why (its own spans then go to the API's no-op).
    console.error(`OpenTelemetry tracing not started: ${e instanceof Error ? e.message : String(e)}`);
  }
}
