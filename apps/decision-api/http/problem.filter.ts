/** The global exception filter: every error leaves as problem+json; unexpected ones are logged with an id, never leaked. */
import { Catch, HttpException, Injectable, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../../libs/errors/index.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { fromDomainError, fromFastifyError, problem, sendProblem, type Problem } from '../problem.js';
import { unsupportedMediaType } from './media-type.js';

export function toProblem(e: unknown, logger: Logger, database: DatabaseAvailability, req?: FastifyRequest): Problem {
  if (e instanceof DomainError) return fromDomainError(e);
  // Fastify's own 415 (a Content-Type that is not a media type at all) names the type, as media-type.ts does.
  if (req && fastifyCode(e) === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return fromDomainError(unsupportedMediaType(req.headers['content-type']));
  if (e instanceof HttpException) {
    // Nest wraps Fastify's own errors (body parsing, size, media type); map the original.
    const fromFastify = e.cause ? fromFastifyError(e.cause as { code?: string; statusCode?: number; message: string }) : undefined;
    if (fromFastify) return fromFastify;
    const status = e.getStatus();
    if (status === 404) return problem(404, 'NOT_FOUND', req ? `No route ${req.method} ${req.url.split('?')[0]}` : 'Not found');
    if (status < 500) return problem(status, `HTTP_${status}`, e.message);
  }
  const fastifyProblem = fromFastifyError(e as { code?: string; statusCode?: number; message: string });
  if (fastifyProblem) return fastifyProblem;
  // The database away or too slow: 503 with Retry-After, logged once per outage by the monitor, not once per request.
  const unavailable = database.report(e);
  if (unavailable) return fromDomainError(unavailable);
  const id = randomUUID();
  // The error as an object (logging/logger.ts safeError: a driver's message, which may echo input, is dropped), never
  // the request's body; the request id ties the line to the request's access line.
  logger.error({ msg: `unexpected error ${id}`, errorId: id, requestId: req?.id, err: e });
  return problem(500, 'INTERNAL_ERROR', `Unexpected error; reference ${id}`);
}

function fastifyCode(e: unknown): string | undefined {
  const cause = e instanceof HttpException ? e.cause : e;
  return typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
}

@Catch()
@Injectable()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  constructor(private readonly database: DatabaseAvailability) {}

  catch(e: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const p = toProblem(e, this.logger, this.database, http.getRequest<FastifyRequest>());
    sendProblem(reply, p);
  }
}
