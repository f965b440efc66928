/**
 * Requests that arrive while the service closes (app.close(): SIGTERM, a rolling deploy) on a connection that is still
 * open get 503 problem+json with Retry-After, the request id and an access line like every other answer. Fastify's
 * own return503OnClosing (turned off in app.factory.ts) answers them with a bare JSON 503 below every hook.
 */
import type { FastifyInstance } from 'fastify';
import { problem, sendProblem } from '../problem.js';

/** Seconds: another instance (or this one restarted) takes the request; a client should not wait long. */
export const SHUTDOWN_RETRY_AFTER_S = 1;

export class ShutdownGate {
  private closing = false;

  get isClosing(): boolean {
    return this.closing;
  }

  /** From now on every new request is refused (Fastify's preClose hook calls it). */
  begin(): void {
    this.closing = true;
  }

  register(instance: FastifyInstance): void {
    instance.addHook('preClose', (done) => {
      this.begin();
      done();
    });
    instance.addHook('onRequest', (_req, reply, done) => {
      if (!this.closing) return done();
      // The connection is not kept: the client opens its next one to an instance that is up.
      reply.header('connection', 'close');
      sendProblem(reply, problem(503, 'SHUTTING_DOWN', 'The service is shutting down; send the request again', [], { retryAfter: SHUTDOWN_RETRY_AFTER_S }));
    });
  }
}
