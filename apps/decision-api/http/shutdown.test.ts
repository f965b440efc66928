/**
 * A request that arrives while the app closes, on a connection that was already open, is answered 503 problem+json
 * with Retry-After and the request id, through the hooks (so onResponse, the access line and the metrics, see it).
 */
import { connect, type Socket } from 'node:net';
import Fastify from 'fastify';
import { requestIdFrom } from './request-id.js';
import { SHUTDOWN_RETRY_AFTER_S, ShutdownGate } from './shutdown.js';

/** Every byte the socket receives until the server closes it. */
const received = (socket: Socket) =>
  new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.on('close', () => resolve(text));
  });

describe('ShutdownGate', () => {
  it('answers a request arriving during close 503 problem+json with Retry-After and the request id, seen by onResponse', async () => {
    const f = Fastify({ return503OnClosing: false, genReqId: (req) => requestIdFrom(req.headers['x-request-id']) });
    new ShutdownGate().register(f);
    const answered: { url: string; status: number }[] = [];
    f.addHook('onResponse', (req, reply, done) => {
      answered.push({ url: req.url, status: reply.statusCode });
      done();
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    f.get('/hold', async () => {
      entered();
      await held;
      return { ok: true };
    });
    f.get('/next', () => Promise.resolve({ ok: true }));
    await f.listen({ port: 0, host: '127.0.0.1' });
    const { port } = f.server.address() as { port: number };

    const socket = connect(port, '127.0.0.1');
    const text = received(socket);
    socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await inHandler;
    const closed = f.close();
    // The second request on the same (busy, so not closed) connection arrives after close began.
    socket.write('GET /next HTTP/1.1\r\nHost: x\r\nX-Request-Id: during-close-1\r\n\r\n');
    await new Promise((r) => setImmediate(r));
    release();
    await closed;
    const all = await text;
    const second = all.slice(all.indexOf('HTTP/1.1', 1));
    expect(all.startsWith('HTTP/1.1 200')).toBe(true);
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\ncontent-type: application\/problem\+json[;\r]/i);
    expect(second).toMatch(new RegExp(`\\r\\nretry-after: ${SHUTDOWN_RETRY_AFTER_S}\\r\\n`, 'i'));
    expect(second).toMatch(/\r\nx-request-id: during-close-1\r\n/i);
    const body = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ status: 503, code: 'SHUTTING_DOWN', retryAfter: SHUTDOWN_RETRY_AFTER_S, requestId: 'during-close-1' });
    expect(answered).toEqual([
      { url: '/hold', status: 200 },
      { url: '/next', status: 503 },
    ]);
  });
});
