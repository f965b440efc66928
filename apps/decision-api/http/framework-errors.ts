/**
 * Answers made below Nest, as problem+json like every other: the router's (a malformed URL, an over-long path
 * parameter) and Node's HTTP parser's (headers or request line too large, not HTTP at all, too slow), which write to
 * the socket directly because there is no request to reply to.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { fromFastifyError, problem, sendProblem, type Problem } from '../problem.js';

/** Fastify's `frameworkErrors`: the router refused the URL before any route, hook or filter ran. */
export function frameworkError(e: FastifyError, _req: unknown, reply: FastifyReply): void {
  sendProblem(reply, routerProblem(e));
}

function routerProblem(e: FastifyError): Problem {
  switch (e.code) {
    case 'FST_ERR_BAD_URL':
      return problem(400, 'MALFORMED_URL', 'The URL is not valid: a percent-escape does not decode', [{ path: 'url', message: 'is not a valid URL' }]);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem(414, 'URI_TOO_LONG', 'A path parameter is longer than any name or version can be', [{ path: 'url', message: 'path parameter too long' }]);
    default:
      return fromFastifyError(e) ?? problem(400, 'MALFORMED_REQUEST', 'The request could not be routed');
  }
}

/** HTTP/1.1 requires a Host header (RFC 9112 §3.2); without one the answer is a 400 problem like any other. */
export function requireHost(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
    sendProblem(reply, problem(400, 'MALFORMED_REQUEST', 'HTTP/1.1 requires a Host header', [{ path: 'header:Host', message: 'is required' }]));
    return;
  }
  done();
}

/** What the HTTP parser's error is, as a problem; undefined when there is no one left to answer. */
export function parserProblem(e: NodeJS.ErrnoException & { rawPacket?: unknown }): Problem | undefined {
  switch (e.code) {
    case 'ECONNRESET':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return problem(408, 'REQUEST_TIMEOUT', 'The request did not arrive in time');
    case 'HPE_HEADER_OVERFLOW':
      // The request line counts towards the same limit: when it is the line that overflowed, the URL is too long.
      return requestLineTooLong(e.rawPacket)
        ? problem(414, 'URI_TOO_LONG', 'The request line is longer than the 16 KiB allowed for it and the headers together')
        : problem(431, 'HEADERS_TOO_LARGE', 'The request headers are larger than the 16 KiB allowed');
    default:
      return problem(400, 'MALFORMED_REQUEST', 'The request is not valid HTTP/1.1');
  }
}

function requestLineTooLong(raw: unknown): boolean {
  if (!(raw instanceof Uint8Array)) return false;
  const text = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, 64 * 1024)).toString('latin1');
  if (!/^[A-Z]+ /.test(text)) return false;
  const eol = text.indexOf('\r\n');
  return eol === -1 || eol > 8 * 1024;
}

/** The method of the request line the parser refused, when it starts like one (for the access line). */
function methodOf(raw: unknown): string | undefined {
  if (!(raw instanceof Uint8Array)) return undefined;
  return /^([A-Z]{1,16}) /.exec(Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, 17)).toString('latin1'))?.[1];
}

/**
 * Fastify's `clientErrorHandler`: writes the problem on the bare socket and closes it (the parser cannot go on). There
 * is no request to read an x-request-id from: the answer carries a new one, and `answered` (the access log) hears of it.
 */
export function clientError(
  e: NodeJS.ErrnoException & { rawPacket?: unknown },
  socket: Socket,
  answered?: (status: number, requestId: string, method: string | undefined) => void,
): void {
  const p = parserProblem(e);
  if (!p || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const body = JSON.stringify({ ...p, requestId });
  const title = p.title.replace(/[^\x20-\x7e]/g, '');
  const method = methodOf(e.rawPacket);
  // An answer to HEAD has no body (RFC 9110 §9.3.2): a client reads the next bytes as a second, malformed response.
  const head = method === 'HEAD';
  socket.end(
    `HTTP/1.1 ${p.status} ${title}\r\nContent-Type: application/problem+json\r\nX-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
  );
  answered?.(p.status, requestId, method);
}
