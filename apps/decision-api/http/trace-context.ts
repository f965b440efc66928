/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header a caller sends, read into its trace
 * id and the caller's span id, or nothing when it is malformed (the spec says to ignore such a header, not to refuse
 * the request). Shared by the access log and, when OpenTelemetry is on, by whatever needs the caller's context.
 */

export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits, not all zero. */
  readonly parentSpanId: string;
  /** Bit 0: the caller sampled this trace. */
  readonly sampled: boolean;
}

// version "-" trace-id "-" parent-id "-" flags, then (for versions after 00 only) more fields after another "-".
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The trace context in a `traceparent` header value, or undefined when it is absent, repeated or malformed. */
export function parseTraceParent(header: string | string[] | undefined): TraceParent | undefined {
  // Sent twice, the header is ambiguous (the spec: a receiver may discard it).
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, parentSpanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // ff is forbidden; version 00 has exactly four fields (a later version may add some, read by their 00 prefix).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return undefined;
  return { traceId, parentSpanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}
