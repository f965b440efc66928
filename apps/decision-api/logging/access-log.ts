/**
 * The access log: ONE line per request, written when the answer is sent (Fastify's onResponse), for every answer the
 * service gives: routed ones, the 404 of an unknown route, body errors (400, 413, 415), and the answers made below
 * the routes (the router's, Node's parser's), which app.factory.ts reports here. Fields, and only these (no URL: a
 * query may hold a raw customer id; no header or body):
 *
 *   method, route (the pattern, e.g. /v1/refunds/:refundId; null when no route matched), status, durationMs,
 *   requestId, tenant and keyId (when a key authenticated), decisionId (decision routes), traceId (the request's trace:
 *   with tracing on, the server span's, so a log line leads to its trace; else the caller's W3C traceparent's when
 *   valid) and parentSpanId (the caller's span, from traceparent), msg "request".
 *
 * Cheap on purpose: no child logger per request (Fastify's own logger makes one for every request), one object, one
 * write. Every line is level info, a 5xx too: a 503 during a database outage is expected (the outage itself is logged
 * once, as a warning), and an unexpected 500 has its own error line with the stack (http/problem.filter.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuthedRequest } from '../auth/roles.js';
import { REQUEST_ID_HEADER } from '../http/request-id.js';
import { parseTraceParent } from '../http/trace-context.js';

/** What a route may add to its request's access line. */
export interface AccessLogged {
  /** The decision the request made or read (decision routes set it when they know it); null: none. */
  decisionId: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Declared with decorateRequest (AccessLog.register): every request has it. See AccessLogged. */
    decisionId: string | null;
    /** The request's own trace id when tracing is on (read in onRequest, inside its trace context); else null. */
    traceId: string | null;
  }
}

export class AccessLog {
  /** `activeTraceId`: the trace id of the span active while a request is answered; given only when tracing is on. */
  constructor(
    private readonly log: Logger,
    private readonly activeTraceId?: () => string | undefined,
  ) {}

  /**
   * Every answer carries the request id (onRequest: before any handler, guard or filter can answer), and every answer
   * sent through Fastify's lifecycle is logged once it is finished.
   */
  register(instance: FastifyInstance): void {
    // Declared up front, so setting it on a request does not change the request object's shape on the hot path.
    instance.decorateRequest('decisionId', null);
    instance.decorateRequest('traceId', null);
    const activeTraceId = this.activeTraceId;
    instance.addHook('onRequest', (req, reply, done) => {
      reply.header(REQUEST_ID_HEADER, req.id);
      // Read here: onRequest runs in the request's trace context; onResponse runs from the socket's, outside it.
      if (activeTraceId) req.traceId = activeTraceId() ?? null;
      done();
    });
    instance.addHook('onResponse', (req, reply, done) => {
      this.request(req, reply);
      done();
    });
  }

  /** The line of a request Fastify routed (or tried to). */
  request(req: FastifyRequest, reply: FastifyReply): void {
    if (!this.log.isLevelEnabled('info')) return;
    const r = req as FastifyRequest & AuthedRequest;
    const traceparent = req.headers.traceparent;
    const trace = traceparent === undefined ? undefined : parseTraceParent(traceparent);
    this.log.info(
      {
        method: req.method,
        route: req.is404 ? null : (req.routeOptions.url ?? null),
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        requestId: req.id,
        tenant: r.principal?.tenant,
        keyId: r.principal?.keyId,
        decisionId: r.decisionId ?? undefined,
        traceId: req.traceId ?? trace?.traceId,
        parentSpanId: trace?.parentSpanId,
      },
      'request',
    );
  }

  /** The line of an answer Node's HTTP parser refused before there was a request (written on the bare socket). */
  unparsed(status: number, requestId: string, method: string | undefined): void {
    this.log.info({ method, route: null, status, durationMs: 0, requestId }, 'request');
  }
}
