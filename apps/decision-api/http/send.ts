/** Writes a stored or fresh answer exactly as recorded (same bytes), flagging replays. */
import type { FastifyReply } from 'fastify';
import type { HttpAnswer } from './idempotency.service.js';

export function sendAnswer(reply: FastifyReply, a: HttpAnswer): FastifyReply {
  reply.status(a.status).header('content-type', a.contentType);
  if (a.replayed) reply.header('idempotent-replayed', 'true');
  return reply.send(a.body);
}
