/**
 * When the service traces: the one rule shared by the preload (telemetry.ts, which must not import the app) and the
 * configuration (config.ts, which names a bad variable at boot). No imports, so the preload loads nothing else.
 */

/** The OTLP protocols the SDK's exporters speak (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set (and OTEL_SDK_DISABLED is not `true`); every other OTEL_*
 * variable is the SDK's own (service name, sampler, batch delays, headers). Unset: nothing is loaded, nothing exported.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  return set(env.OTEL_EXPORTER_OTLP_ENDPOINT) && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true';
}

/** What is wrong with the tracing variables, one line per variable (empty: nothing). */
export function tracingProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (set(endpoint) && !(/^https?:\/\//.test(endpoint.trim()) && URL.canParse(endpoint.trim()))) {
    problems.push(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, e.g. http://127.0.0.1:4318 (got "${endpoint}")`);
  }
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
    const v = env[name];
    if (set(v) && !(OTLP_PROTOCOLS as readonly string[]).includes(v.trim())) problems.push(`${name} must be one of ${OTLP_PROTOCOLS.join(', ')} (got "${v}")`);
  }
  const disabled = env.OTEL_SDK_DISABLED;
  if (set(disabled) && !['true', 'false'].includes(disabled.trim().toLowerCase())) problems.push(`OTEL_SDK_DISABLED must be true or false (got "${disabled}")`);
  return problems;
}

/**
 * Set on globalThis by the preload (telemetry.ts) once the SDK has started. OTEL_EXPORTER_OTLP_ENDPOINT says tracing is
 * wanted; this says it runs: main.js started without `--import telemetry.js` has the endpoint and no SDK.
 */
export const OTEL_STARTED = Symbol.for('decision-api.otel');

/** Whether the preload started the SDK in this process. */
export function otelStarted(): boolean {
  return (globalThis as Record<symbol, unknown>)[OTEL_STARTED] === true;
}
