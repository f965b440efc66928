/**
 * Lingering close: an answer made before the request's body was read (a body over the limit, a body the parser
 * refused) closes the connection, as Fastify does, but only after reading and discarding what the client is still
 * sending, within bounds.
 *
 * Why: closing a socket with unread bytes in its receive buffer sends a TCP reset. A client still writing its body
 * then fails with EPIPE or ECONNRESET and never reads the 413 it was sent (Node's fetch did, for about 1 in 10 bodies
 * over 3 MiB on localhost). nginx's `lingering_close` is the same idea. The bounds keep a slow or endless body from
 * holding the connection: past them the answer goes out and the connection closes as before.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { cancelContinue, continuePending } from './expect-continue.js';

export interface LingerBounds {
  /** The most bytes read and discarded after the answer was decided. */
  maxBytes: number;
  /** The longest wait for the rest of the body. */
  maxMs: number;
}

export const DEFAULT_LINGER: LingerBounds = { maxBytes: 64 * 1024 * 1024, maxMs: 5_000 };

export function registerLingeringClose(instance: FastifyInstance, bounds: LingerBounds = DEFAULT_LINGER): void {
  // A callback hook, not an async one: every answer passes here and almost none waits.
  instance.addHook('onSend', (request, reply, payload, done) => {
    if (request.raw.complete) return done(null, payload);
    if (continuePending(request.raw)) {
      // An answer from the headers alone: no 100 now, and the connection closes after it (the body is not read).
      cancelContinue(request.raw);
      reply.header('connection', 'close');
      // A client waiting for the 100 sends nothing before this answer: it goes out at once. One that stopped waiting
      // (curl after 1 s, .NET after 350 ms) may be sending: drain what has arrived first, as for any client; and
      // whatever comes after the answer is read too, before the connection is let go (lingerAfterAnswer).
      lingerAfterAnswer(request.raw, bounds);
      if (!bodyArriving(request.raw)) return done(null, payload);
    }
    if (!closing(reply.getHeader('connection'))) return done(null, payload);
    void drain(request.raw, bounds).then(() => {
      try {
        done(null, payload);
      } catch {
        // The connection went while draining: nothing is left to answer.
      }
    });
  });
}

/**
 * After the answer, the write side closes (FIN) at once, and the socket is destroyed only when the client closes its
 * side, or `maxMs` passes, or `maxBytes` more arrive. What a client sends meanwhile is read (Node's parser discards
 * the body of a request already answered) instead of meeting a reset. Go's closeWriteAndWait does the same.
 */
function lingerAfterAnswer(raw: IncomingMessage, bounds: LingerBounds): void {
  const socket = raw.socket as Socket | null;
  if (!socket) return;
  // Node lets go of a connection whose last answer went out with destroySoon(): on this socket it lingers first.
  socket.destroySoon = function lingering(this: Socket): void {
    if (this.writable) this.end();
    discard(this, bounds, () => this.destroy());
  };
}

/** Body bytes have reached the request or its socket, unread. */
function bodyArriving(raw: IncomingMessage): boolean {
  return raw.readableLength > 0 || (raw.socket?.readableLength ?? 0) > 0;
}

function closing(header: unknown): boolean {
  return typeof header === 'string' && header.toLowerCase() === 'close';
}

/** Resolves once the body has ended, the connection has gone, or a bound is reached. Never rejects. */
export function drain(raw: IncomingMessage, bounds: LingerBounds): Promise<void> {
  // Already ended, or gone (the client gave up before the answer): its events have fired, and none will come.
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    discard(raw, bounds, resolve);
    // A body refused on its declared length was never read: start reading it. One the parser stopped reading flows on.
    raw.resume();
  });
}

/** Reads and drops what `stream` brings until it ends, closes or fails, or a bound is reached; then `done`, once. */
function discard(stream: Readable, bounds: LingerBounds, done: () => void): void {
  let read = 0;
  const finish = () => {
    clearTimeout(timer);
    stream.off('data', onData);
    stream.off('end', finish);
    stream.off('close', finish);
    stream.off('error', finish);
    done();
  };
  const onData = (chunk: Buffer) => {
    read += chunk.length;
    if (read > bounds.maxBytes) finish();
  };
  const timer = setTimeout(finish, bounds.maxMs);
  stream.on('data', onData);
  stream.once('end', finish);
  stream.once('close', finish);
  stream.once('error', finish);
}
