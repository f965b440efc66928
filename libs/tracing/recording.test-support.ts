/** A Tracer that keeps what it was told, nested as OpenTelemetry's context would nest it (for unit tests). */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SpanAttributes, TraceSpan, Tracer } from './index.js';

export interface RecordedSpan {
  name: string;
  attributes: SpanAttributes;
  /** The span current when this one started (undefined: a root). */
  parent: RecordedSpan | undefined;
  ended: number;
  failed: unknown[];
}

export class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];
  private readonly current = new AsyncLocalStorage<RecordedSpan>();

  start(name: string, attributes: SpanAttributes = {}): TraceSpan & { span: RecordedSpan } {
    const span: RecordedSpan = { name, attributes, parent: this.current.getStore(), ended: 0, failed: [] };
    this.spans.push(span);
    return { span, fail: (e) => void span.failed.push(e), end: () => void span.ended++ };
  }

  async within<T>(name: string, work: () => Promise<T>, attributes?: SpanAttributes): Promise<T> {
    const s = this.start(name, attributes);
    try {
      return await this.current.run(s.span, work);
    } catch (e) {
      s.fail(e);
      throw e;
    } finally {
      s.end();
    }
  }

  /** Each span as `parent > name` (`> name` for a root), in the order they started. */
  tree(): string[] {
    return this.spans.map((s) => `${s.parent?.name ?? ''} > ${s.name}`);
  }
}
