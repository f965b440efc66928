/**
 * `Expect: 100-continue`: the `100 Continue` goes out when something starts reading the request's body, not when its
 * headers arrive (Node's default). A request answered from its headers alone (a declared length over the limit: 413;
 * a media type no route takes: 415) gets that answer with nothing sent before it, and a client that waits for the 100
 * never sends a body the service would discard (RFC 9110 §10.1.1). Go's net/http does the same. (A JSON body to a
 * route that does not exist is still read before its 404: Fastify parses it first.)
 *
 * Every reader here starts with a 'data' listener, resume() or pipe() (each emits 'resume') or a 'readable' listener
 * (async iteration): a bare read() with no listener would not send the 100, and nothing in the service does that.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Requests that asked for a 100 Continue still to be sent: when their body is first read. */
const pending = new WeakSet<IncomingMessage>();

export function registerExpectContinue(server: Server): void {
  // With a listener here, Node neither sends the 100 itself nor emits 'request' for such a request: this does both.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    // No body to wait for: the 100 at once (Node closes the connection after an answer to an Expect that got none).
    if (!hasBody(req)) {
      res.writeContinue();
      server.emit('request', req, res);
      return;
    }
    pending.add(req);
    const go = () => {
      req.off('resume', go);
      req.off('newListener', onListener);
      // Not after the answer: a body read then (Node discarding it) is not one the client should send.
      if (pending.delete(req) && !res.headersSent && !res.writableEnded) res.writeContinue();
    };
    // 'resume': a 'data' listener, resume() or pipe(); 'readable' is the other way to read, and emits no 'resume'.
    const onListener = (event: string | symbol) => {
      if (event === 'readable') go();
    };
    req.on('resume', go);
    req.on('newListener', onListener);
    server.emit('request', req, res);
  });
  // Any other expectation: answered as if absent (RFC 9110 lets a server refuse it with 417; Node's own 417 is a bare
  // answer, with no problem body and no x-request-id).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
}

/**
 * True while the request asked for a 100 Continue and none was sent: a client that waits for it has sent no body, and
 * an answer now is one made from the headers alone (lingering-close.ts).
 */
export function continuePending(req: IncomingMessage): boolean {
  return pending.has(req);
}

/**
 * From now on the request gets no 100 Continue, even if its body is read (to drain what an impatient client sent
 * anyway): its answer is going out without one.
 */
export function cancelContinue(req: IncomingMessage): void {
  pending.delete(req);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : !/^0+$/.test(length);
}
