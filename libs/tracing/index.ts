/**
 * Tracing as the domain sees it: named units of work with a few low-cardinality attributes, reported to whatever the
 * application plugs in (apps/decision-api/tracing/tracing.ts: OpenTelemetry). No dependency: a lib that traces
 * takes an optional Tracer, and when tracing is off it gets none, so a traced call site (`tracer ? tracer.within(…) : work`, written
 * inline so that no closure is made when off) costs one `undefined` check and calls nothing (not even an OpenTelemetry no-op).
 */

/** Span attributes: names of types and components, indexes, counts. Never case data (it may be personal). */
export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

/** A unit of work being traced. */
export interface TraceSpan {
  /** Marks the span failed with `error` (a refusal or a fault); `end()` must still be called. */
  fail(error: unknown): void;
  end(): void;
}

export interface Tracer {
  /**
   * Starts a span, a child of the current one, without making it current: for work that calls nothing traced
   * (a pipeline step evaluating in memory).
   */
  start(name: string, attributes?: SpanAttributes): TraceSpan;
  /**
   * Runs `work` in a new current span, so what it calls (database statements, nested spans) is traced under it; the
   * span ends when `work` settles, failed if it rejects.
   */
  within<T>(name: string, work: () => Promise<T>, attributes?: SpanAttributes): Promise<T>;
}

/** Synchronous `work` in a span of `tracer` (started, not made current), failed if it throws. */
export function inSpan<T>(tracer: Tracer, name: string, attributes: SpanAttributes | undefined, work: () => T): T {
  const span = tracer.start(name, attributes);
  try {
    return work();
  } catch (e) {
    span.fail(e);
    throw e;
  } finally {
    span.end();
  }
}
