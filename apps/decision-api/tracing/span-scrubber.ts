/**
 * What the instrumentations record that must not leave the service, taken out of every span as it ends, before the
 * batch processor queues it for export (telemetry.ts puts this processor first). The logs keep route patterns and no
 * addresses; spans keep the same:
 * - who called: client.address (from Forwarded / X-Forwarded-For: the end user's IP behind a proxy), network.peer.*,
 *   user_agent.original and every other `*.address` / peer attribute are dropped;
 * - which record: url.path, url.full, http.target, http.url hold raw path ids (/v1/ledger/accounts/alice-cashback, a
 *   person's name): replaced by the route pattern (http.route) when the span has one, else dropped;
 * - what failed: instrumentation-pg sets a failed statement's status message to PostgreSQL's error message, which can
 *   echo input values (`Key (refund_id)=(rf-…) already exists`): replaced by the error's SQLSTATE code.
 * No import of the SDK: the span is typed by what is read and written here.
 */

/** What of an ended span (the SDK's ReadableSpan) this reads and rewrites. */
export interface ScrubbableSpan {
  readonly attributes: Record<string, unknown>;
  readonly status: { code: number; message?: string };
  readonly instrumentationScope: { readonly name: string };
  readonly events?: readonly { readonly attributes?: Record<string, unknown> }[];
}

/** Who called, or which host answered: `client.address`, `network.peer.address`, `net.sock.peer.addr`, `user_agent.original` … */
const IDENTIFYING = /(^|\.)(address|addr|ip)$|(^|\.)(peer|client|client_ip)(\.|$)|user_agent/;
/** The request's concrete URL or path (with ids in it): the route pattern replaces it. */
const RAW_URL = new Set(['url.path', 'url.full', 'http.target', 'http.url']);
const PG_SCOPE = '@opentelemetry/instrumentation-pg';
const ERROR = 2;

/** Takes out of `span`, in place, what names a person or a record (see the module comment). */
export function scrubSpan(span: ScrubbableSpan): void {
  const attributes = span.attributes;
  const route = attributes['http.route'];
  for (const key of Object.keys(attributes)) {
    if (IDENTIFYING.test(key)) delete attributes[key];
    else if (RAW_URL.has(key)) {
      if (typeof route === 'string' && route !== '') attributes[key] = route;
      else delete attributes[key];
    }
  }
  if (span.instrumentationScope.name === PG_SCOPE && span.status.code === ERROR && span.status.message !== undefined) {
    (span.status as { message?: string }).message = pgErrorCode(span);
  }
}

/**
 * The failed statement's SQLSTATE: instrumentation-pg records the exception as `PostgreSQL error of type '…' occurred
 * (code: 23505)` (its own sanitised message) and sets error.type on some paths.
 */
function pgErrorCode(span: ScrubbableSpan): string {
  const type = span.attributes['error.type'];
  if (typeof type === 'string' && type !== '') return type;
  for (const e of span.events ?? []) {
    const message = e.attributes?.['exception.message'];
    const code = typeof message === 'string' ? /\(code: ([^)]+)\)/.exec(message)?.[1] : undefined;
    if (code) return code;
  }
  return 'PostgreSQLError';
}

/** A SpanProcessor (structurally: the SDK's interface) that scrubs each span as it ends; it exports nothing itself. */
export class ScrubbingSpanProcessor {
  onStart(): void {}
  onEnd(span: ScrubbableSpan): void {
    scrubSpan(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
