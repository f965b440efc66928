/** The one place that turns errors into application/problem+json (api-contract.md §2). */
import type { FastifyReply } from 'fastify';
import { DomainError, type ErrorDetail, type ErrorKind } from '../../libs/errors/index.js';
import { REQUEST_ID_HEADER } from './http/request-id.js';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors: ErrorDetail[];
  [extension: string]: unknown;
}

/** Details listed in one answer: a body with 90,000 unknown keys must not get a 5 MB answer listing each. */
export const MAX_ERROR_DETAILS = 100;

export function problem(status: number, code: string, detail: string, errors: ErrorDetail[] = [], ext: Record<string, unknown> = {}): Problem {
  if (errors.length > MAX_ERROR_DETAILS) {
    const more = errors.length - MAX_ERROR_DETAILS;
    errors = [...errors.slice(0, MAX_ERROR_DETAILS), { path: '', message: `${more} more error${more === 1 ? '' : 's'} not listed` }];
  }
  return {
    type: `https://decision-platform.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    errors,
    ...ext,
  };
}

export function fromDomainError(e: DomainError): Problem {
  return problem(STATUS[e.kind], e.code, e.message, e.errors, e.extensions);
}

/** Fastify's own errors (body parsing, size, content type) mapped to the same document. */
export function fromFastifyError(e: { code?: string; statusCode?: number; message: string }): Problem | undefined {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large: the limit is 1 MiB (10 MiB for a policy bundle)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (a policy bundle as application/gzip)');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem(400, 'MALFORMED_JSON', 'Body is not valid JSON', [{ path: '/', message: 'is not valid JSON' }]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(400, 'MALFORMED_JSON', 'Body is empty but Content-Type is application/json', [{ path: '/', message: 'is empty' }]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem(400, 'MALFORMED_REQUEST', e.message);
    default:
      break;
  }
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message))) {
    return problem(400, 'MALFORMED_JSON', `Body is not valid JSON: ${e.message}`, [{ path: '/', message: 'is not valid JSON' }]);
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return problem(e.statusCode, e.code ?? 'BAD_REQUEST', e.message);
  }
  return undefined;
}

/** The problem as sent: its body names the request (the x-request-id the answer carries too). */
export function withRequestId(p: Problem, requestId: string): Problem {
  return { ...p, requestId };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  const requestId = reply.request.id;
  // 429 and 503 say when to come back (rate limits, the database away); the body carries the same number.
  if ((p.status === 429 || p.status === 503) && typeof p.retryAfter === 'number') reply.header('retry-after', String(p.retryAfter));
  // A conflict with an existing object (REFUND_EXISTS) says where that object is, in the header as in the body.
  if (p.status === 409 && typeof p.location === 'string' && p.location.startsWith('/')) reply.header('location', p.location);
  // The header too: an answer made before the onRequest hooks ran (the router's) has no other way to get it.
  return reply
    .status(p.status)
    .header('content-type', 'application/problem+json')
    .header(REQUEST_ID_HEADER, requestId)
    .send(JSON.stringify(withRequestId(p, requestId)));
}
