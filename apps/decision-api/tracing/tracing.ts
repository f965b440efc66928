/**
 * The service's own spans (libs/tracing's Tracer) on @opentelemetry/api, whose SDK telemetry.ts starts before the app.
 * Tracing off (OTEL_EXPORTER_OTLP_ENDPOINT unset, or the preload did not start the SDK: main.ts warns): `tracer` is
 * undefined, so the services and the pipeline call nothing.
 *
 * Span names (README "Traces"): decision.validate, decision.read, decision.evaluate with decision.step.<kind> under it,
 * decision.persist. Attributes name types and components, never case values; a failed span records the error's code
 * (DomainError) or class, not its message, which may quote the case.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { isSpanContextValid, SpanStatusCode, trace, type Span, type Tracer as OtelTracer } from '@opentelemetry/api';
import { DomainError } from '../../../libs/errors/index.js';
import type { SpanAttributes, TraceSpan, Tracer } from '../../../libs/tracing/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG } from '../tokens.js';
import { otelStarted } from './settings.js';

/** The instrumentation scope of the service's own spans. */
export const TRACER_NAME = 'decision-api';

/** The service's span names, in the order a decision makes them. */
export const SPANS = {
  /** The request body and the case against the decision type's input schema. */
  validate: 'decision.validate',
  /** What the decision reads from the platform's history before evaluating: its features (and a refund's committed total). */
  read: 'decision.read',
  /** The pipeline; its steps are `decision.step.<kind>` spans under it (libs/decisions/types/pipeline.ts). */
  evaluate: 'decision.evaluate',
  /** The decision's write: the stored decision with its idempotency record, event, history (and a refund's rows). */
  persist: 'decision.persist',
} as const;

function fail(span: Span, error: unknown): void {
  const type = error instanceof DomainError ? error.code : error instanceof Error ? error.name : typeof error;
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

class OtelSpan implements TraceSpan {
  constructor(private readonly span: Span) {}
  fail(error: unknown): void {
    fail(this.span, error);
  }
  end(): void {
    this.span.end();
  }
}

export class OpenTelemetryTracer implements Tracer {
  constructor(private readonly tracer: OtelTracer) {}

  start(name: string, attributes?: SpanAttributes): TraceSpan {
    return new OtelSpan(this.tracer.startSpan(name, attributes && { attributes }));
  }

  within<T>(name: string, work: () => Promise<T>, attributes?: SpanAttributes): Promise<T> {
    return this.tracer.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
      try {
        return await work();
      } catch (e) {
        fail(span, e);
        throw e;
      } finally {
        span.end();
      }
    });
  }
}

/** What a provider that may flush looks like (the SDK's; the API's no-op has no forceFlush). */
interface Flushable {
  forceFlush?: () => Promise<void>;
}

/**
 * How long shutdown waits for the last spans: an unreachable collector would otherwise hold it for the exporter's
 * timeout and retries (7–10 s, past an orchestrator's grace period); after this the batch is dropped.
 */
export const FLUSH_TIMEOUT_MS = 2_000;

/** Whether this process traces: the endpoint is set (config) and the preload started the SDK (telemetry.ts). */
export function tracingActive(config: Pick<AppConfig, 'tracing'>): boolean {
  return config.tracing && otelStarted();
}

@Injectable()
export class Tracing implements OnApplicationShutdown {
  /** Undefined when tracing is off: callers pass it on as is, and nothing is traced or called. */
  readonly tracer: Tracer | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.tracer = tracingActive(config) ? new OpenTelemetryTracer(trace.getTracer(TRACER_NAME)) : undefined;
  }

  /**
   * The spans of the last requests go out before the process exits (main.ts exits right after closing the app), if the
   * collector takes them within FLUSH_TIMEOUT_MS.
   */
  async onApplicationShutdown(): Promise<void> {
    if (!this.tracer) return;
    const delegate = (trace.getTracerProvider() as { getDelegate?: () => Flushable }).getDelegate?.();
    if (!delegate?.forceFlush) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)));
    await Promise.race([delegate.forceFlush().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }
}

/** The trace id of the span active now (the request's, inside its handling), if a valid one is; for the access line. */
export function activeTraceId(): string | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx.traceId : undefined;
}
