/**
 * Raw request bodies (`application/gzip`, `application/octet-stream`) as a Buffer, on the routes that take one (the
 * policy bundle upload) and up to that route's limit. Any other route answers 415 before reading a byte: a Buffer
 * handed to a JSON handler was validated as an object with one property per byte (a 1 MiB body held the process for
 * seconds building a million errors), and nobody (authenticated or not: parsing comes before the guard) can make a
 * route buffer more than it takes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastify from 'fastify';
import { unsupportedMediaType } from './media-type.js';

export const BINARY_TYPES = ['application/gzip', 'application/octet-stream'];

/** `routes`: route URL → the most bytes it takes. */
export function registerBinaryBodies(instance: FastifyInstance, o: { routes: Record<string, number> }): void {
  instance.addContentTypeParser(BINARY_TYPES, (req: FastifyRequest, payload, done) => {
    // No such route: its 404 needs no body.
    if (req.is404) {
      done(null, undefined);
      return;
    }
    const limit = o.routes[req.routeOptions.url ?? ''];
    if (limit === undefined) {
      done(unsupportedMediaType(req.headers['content-type']), undefined);
      return;
    }
    const tooLarge = () => new fastify.errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      done(tooLarge(), undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      done(err, body);
    };
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        payload.removeAllListeners('data');
        payload.resume(); // drain the rest without keeping it
        finish(tooLarge());
      } else chunks.push(chunk);
    });
    payload.on('end', () => finish(null, Buffer.concat(chunks, size)));
    payload.on('error', (e) => finish(e));
  });
}
