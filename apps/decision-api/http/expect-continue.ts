/**
 * `Expect: 100-continue`: the `100 Continue` goes out when something starts reading the request's body, not when its
 * headers arrive (Node's default). A request answered from its headers alone (a declared length over the limit: 413;
 * a media type no route takes: 415; no such route: 404) gets that answer with nothing sent before it, and a client
 * that waits for the 100 never sends a body the service would discard (RFC 9110 §10.1.1). Go's net/http does the same.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Requests that asked for a 100 Continue that has not been sent. */
const withheld = new WeakSet<IncomingMessage>();

export function registerExpectContinue(server: Server): void {
  // With a listener here, Node neither sends the 100 itself nor emits 'request' for such a request: this does both.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    withheld.add(req);
    const go = () => {
      req.off('resume', go);
      req.off('newListener', onListener);
      // Not after the answer: a body read then (Node discarding it) is not one the client should send.
      if (withheld.delete(req) && !res.headersSent && !res.writableEnded) res.writeContinue();
    };
    // 'resume': a 'data' listener, resume() or pipe(); 'readable' is the other way to read, and emits no 'resume'.
    const onListener = (event: string | symbol) => {
      if (event === 'readable') go();
    };
    req.on('resume', go);
    req.on('newListener', onListener);
    server.emit('request', req, res);
  });
}

/**
 * True while the request asked for a 100 Continue and none was sent: its client has not sent the body and will not
 * before it reads the answer, so the answer needs no draining of it, and the connection closes after it (the body's
 * bytes would otherwise be read as the next request).
 */
export function continueWithheld(req: IncomingMessage): boolean {
  return withheld.has(req);
}
