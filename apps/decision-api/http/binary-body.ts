/**
 * Raw request bodies (`application/gzip`, `application/octet-stream`) as a Buffer. Only the policy bundle route may
 * send up to the bundle limit; every other route keeps the 1 MiB limit, so nobody (authenticated or not: parsing
 * comes before the guard) can make any route buffer 10 MiB.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastify from 'fastify';

export const BINARY_TYPES = ['application/gzip', 'application/octet-stream'];

export function registerBinaryBodies(instance: FastifyInstance, o: { defaultLimit: number; routeLimits: Record<string, number> }): void {
  instance.addContentTypeParser(BINARY_TYPES, (req: FastifyRequest, payload, done) => {
    const limit = o.routeLimits[req.routeOptions.url ?? ''] ?? o.defaultLimit;
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
