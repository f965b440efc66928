/**
 * An answer made before the body was read (here: over the body limit) reaches a client that is still sending, and the
 * wait for the rest of the body is bounded in bytes and in time.
 */
import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerExpectContinue } from './expect-continue.js';
import { DEFAULT_LINGER, registerLingeringClose, type LingerBounds } from './lingering-close.js';

const LIMIT = 1024;

async function server(bounds: LingerBounds, o: { answerAfterMs?: number } = {}): Promise<{ f: FastifyInstance; port: number }> {
  const f = Fastify({ bodyLimit: LIMIT });
  registerLingeringClose(f, bounds);
  registerExpectContinue(f.server);
  // A slow answer: what makes a client that asked for a 100 Continue stop waiting and send its body anyway.
  const delay = o.answerAfterMs;
  if (delay) f.addHook('onRequest', (_req, _reply, done) => void setTimeout(done, delay));
  f.post('/echo', (req, reply) => reply.send(req.body));
  f.get('/ping', () => ({ ok: true }));
  await f.listen({ port: 0, host: '127.0.0.1' });
  return { f, port: (f.server.address() as { port: number }).port };
}

/** Writes the head and then `body` bytes as fast as the socket takes them; resolves with what came back and how many bytes were never written. */
function send(port: number, declared: number, body: number): Promise<{ text: string; error?: string; unsent: number }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    let error: string | undefined;
    let left = body;
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ text, error, unsent: left }));
    socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (left > 0 && !socket.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!socket.write(chunk.subarray(0, n))) return void socket.once('drain', pump);
      }
    };
    pump();
  });
}

/** A POST declaring `declared` bytes that asks for a 100 Continue, then sends `early` (if any) without waiting for it; resolves with all that came back once the server closes. */
function expecting100(port: number, declared: number, early?: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${declared}\r\n\r\n`);
    if (early) socket.write(early);
  });
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

describe('lingering close', () => {
  let running: FastifyInstance | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  // That a client still writing reads its 413 at all is test/lingering-close.e2e.test.ts's: in one process, the two
  // sides' timing hides the reset.

  it('a client that stops sending gets its answer once the time bound passes', async () => {
    const { f, port } = await server({ maxBytes: 64 * 1024 * 1024, maxMs: 200 });
    running = f;
    const started = Date.now();
    const sent = await send(port, 10 * 1024 * 1024, 2 * LIMIT);
    expect(statusOf(sent.text)).toBe(413);
    // It waited for the rest of the body (timers never fire early; the slack is the clock's granularity).
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('a client sending more than the byte bound is cut off, not read to its end', async () => {
    // No time bound to speak of: only the byte bound can end the wait before the 1 GiB is all sent.
    const { f, port } = await server({ maxBytes: 256 * 1024, maxMs: 600_000 });
    running = f;
    const sent = await send(port, 1024 * 1024 * 1024, 1024 * 1024 * 1024);
    expect(sent.text === '' || statusOf(sent.text) === 413).toBe(true);
    // Cut off long before its end (read to its end, the whole GiB would have been written).
    expect(sent.unsent).toBeGreaterThan(512 * 1024 * 1024);
  });

  it('a client that asked for a 100 Continue but sent its body anyway is drained, and never sent a 100', async () => {
    const { f, port } = await server({ maxBytes: 64 * 1024 * 1024, maxMs: 300 }, { answerAfterMs: 200 });
    running = f;
    const started = Date.now();
    // Not waiting for the 100: part of the body at once, then nothing more.
    const got = await expecting100(port, 10 * 1024 * 1024, Buffer.alloc(8 * LIMIT, 0x61));
    expect(statusOf(got)).toBe(413);
    expect(got).not.toContain('100 Continue');
    // The answer waited for the rest of the body, up to the time bound, as for a client that never asked for a 100.
    expect(Date.now() - started).toBeGreaterThanOrEqual(200 + 290);
  });

  it('a client that asked for a 100 Continue and waits for it gets the answer at once, without one', async () => {
    const { f, port } = await server({ maxBytes: 64 * 1024 * 1024, maxMs: 5_000 });
    running = f;
    const started = Date.now();
    const got = await expecting100(port, 10 * 1024 * 1024);
    expect(statusOf(got)).toBe(413);
    expect(got).not.toContain('100 Continue');
    expect(/\r\nconnection: close\r\n/i.test(got)).toBe(true);
    // Not the 5 s drain bound: there is no body coming to wait for.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('a client that asked for a 100 Continue and sends its body after the answer anyway is read, not reset', async () => {
    const { f, port } = await server({ maxBytes: 64 * 1024 * 1024, maxMs: 5_000 });
    running = f;
    const declared = 4 * 1024 * 1024;
    const got = await new Promise<{ text: string; error?: string }>((resolve) => {
      const socket: Socket = connect(port, '127.0.0.1');
      let text = '';
      let error: string | undefined;
      let sending = false;
      socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      socket.on('close', () => resolve({ text, error }));
      socket.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        // The whole answer is in: now the body, as a client whose wait for the 100 ran out at that moment would.
        if (sending || !text.includes('\r\n\r\n') || !text.endsWith('}')) return;
        sending = true;
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = declared;
        const pump = () => {
          while (left > 0 && !socket.destroyed) {
            left -= chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        pump();
      });
      socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${declared}\r\n\r\n`);
    });
    expect(statusOf(got.text)).toBe(413);
    expect(got.text).not.toContain('100 Continue');
    expect(got.error).toBeUndefined();
  });

  it('a request with no body that asks for a 100 Continue gets it, and its connection stays open', async () => {
    const { f, port } = await server(DEFAULT_LINGER);
    running = f;
    const got = await new Promise<string>((resolve) => {
      const socket: Socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        if (text.includes('{"ok":true}')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('close', () => resolve(text));
      socket.write('GET /ping HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n');
    });
    expect(got.startsWith('HTTP/1.1 100 Continue\r\n')).toBe(true);
    expect(/\r\nconnection: keep-alive\r\n/i.test(got)).toBe(true);
  });

  it('a body within the limit is untouched and the connection stays open', async () => {
    const { f, port } = await server(DEFAULT_LINGER);
    running = f;
    const r = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect({ status: r.status, body: await r.json(), connection: r.headers.get('connection') }).toEqual({ status: 200, body: { a: 1 }, connection: 'keep-alive' });
  });
});
