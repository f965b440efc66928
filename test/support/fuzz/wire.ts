/**
 * Requests as bytes on the wire, for the fuzz suite: `fetch` normalises paths and merges duplicated headers, so the
 * suite sends through node:http (exact path, headers in order, duplicates kept) or, for what Node's client refuses to
 * write (control bytes in a header, a raw space in the path), through a plain socket.
 */
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface WireRequest {
  method: string;
  /** The request target exactly as sent: may hold %-escapes, raw bytes (as latin1 characters) and a query. */
  target: string;
  /** In order; a name may repeat. */
  headers: [string, string][];
  body?: Buffer;
  /** Through a plain socket, byte for byte (Node's client validates header values and the path). */
  raw?: boolean;
  /** What generated it, for the report: "METHOD /route/{template}". */
  route: string;
}

export interface WireAnswer {
  status: number;
  contentType: string;
  body: string;
}

export class Hang extends Error {}

/** Shown in a failure report (fast-check prints values with this): the request, not a dump of its buffers. */
export function describe(r: WireRequest): string {
  // Head and tail of long values: the odd part of a body is often at its end.
  const show = (s: string, max: number) =>
    s.length > max ? `${JSON.stringify(s.slice(0, max / 2))} … ${JSON.stringify(s.slice(-max / 2))} (${s.length} chars)` : JSON.stringify(s);
  const lines = [`${r.method} ${show(r.target, 300)}${r.raw ? ' (raw socket)' : ''}   [${r.route}]`];
  for (const [k, v] of r.headers) lines.push(`  ${show(k, 80)}: ${show(v, 200)}`);
  if (r.body) lines.push(`  body (${r.body.length} bytes): ${show(r.body.toString('latin1'), 1200)}`);
  return lines.join('\n');
}

/** Attaches the readable form fast-check uses when it prints a counterexample. */
export function printable(r: WireRequest): WireRequest {
  return Object.defineProperty(r, fc.toStringMethod, { value: () => `\n${describe(r)}\n`, enumerable: false });
}

export function send(base: URL, r: WireRequest, deadlineMs: number): Promise<WireAnswer> {
  return r.raw ? sendRaw(base, r, deadlineMs) : sendHttp(base, r, deadlineMs);
}

function sendHttp(base: URL, r: WireRequest, deadlineMs: number): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    // With headers as a list Node adds no Host (HTTP/1.1 requires one).
    const flat: string[] = ['host', base.host];
    for (const [k, v] of r.headers) flat.push(k, v);
    // Without a length Node sends a POST's empty body chunked; clients (fetch, curl -d '') say content-length: 0.
    const framed = r.headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
    if (!framed && (r.body || !/^(GET|HEAD|DELETE|OPTIONS)$/i.test(r.method))) flat.push('content-length', String(r.body?.length ?? 0));
    // A fresh connection each time: a server that closes after an odd request must not fail the next one.
    const req = httpRequest({ host: base.hostname, port: base.port, method: r.method, path: r.target, headers: flat, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Hang(`no answer within ${deadlineMs} ms`));
    }, deadlineMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // The server closed without an answer (Node does for some malformed requests): not a 5xx and not a hang.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') resolve({ status: 0, contentType: '', body: '' });
      else reject(e);
    });
    req.end(r.body);
  });
}

function sendRaw(base: URL, r: WireRequest, deadlineMs: number): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const head = [`${r.method} ${r.target} HTTP/1.1`, `host: ${base.host}`, 'connection: close'];
    for (const [k, v] of r.headers) head.push(`${k}: ${v}`);
    if (r.body) head.push(`content-length: ${r.body.length}`);
    const bytes = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]);
    const socket = connect({ host: base.hostname, port: Number(base.port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Hang(`no answer within ${deadlineMs} ms`));
    }, deadlineMs);
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      // The server may close without a word (Node does for some malformed requests): not a 5xx and not a hang.
      if (!m) return resolve({ status: 0, contentType: '', body: text });
      const [headText = '', body = ''] = text.split('\r\n\r\n', 2);
      const contentType = /\r\ncontent-type:\s*([^\r\n]*)/i.exec(headText)?.[1] ?? '';
      resolve({ status: Number(m[1]), contentType, body });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after the server answered and closed: what it said is what counts.
      if (chunks.length > 0 || e.code === 'ECONNRESET' || e.code === 'EPIPE') return done();
      clearTimeout(timer);
      reject(e);
    });
    socket.write(bytes);
  });
}
