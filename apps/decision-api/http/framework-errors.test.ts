import type { Socket } from 'node:net';
import { clientError, parserProblem } from './framework-errors.js';

const err = (code: string, rawPacket?: Buffer) => Object.assign(new Error(code), { code, rawPacket });

describe('parserProblem', () => {
  it('maps what the HTTP parser refuses to a problem, and a reset connection to nothing', () => {
    expect(parserProblem(err('ECONNRESET'))).toBeUndefined();
    expect(parserProblem(err('ERR_HTTP_REQUEST_TIMEOUT'))).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    expect(parserProblem(err('HPE_INVALID_METHOD'))).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST' });
  });

  it('tells a request line too long (414) from headers too large (431)', () => {
    const longLine = Buffer.from(`GET /${'a'.repeat(20_000)}`);
    const longLineEnded = Buffer.from(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n`);
    const bigHeaders = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}`);
    const laterChunk = Buffer.from('a'.repeat(20_000));
    expect(parserProblem(err('HPE_HEADER_OVERFLOW', longLine))?.status).toBe(414);
    expect(parserProblem(err('HPE_HEADER_OVERFLOW', longLineEnded))?.status).toBe(414);
    expect(parserProblem(err('HPE_HEADER_OVERFLOW', bigHeaders))).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
    expect(parserProblem(err('HPE_HEADER_OVERFLOW', laterChunk))?.status).toBe(431);
    expect(parserProblem(err('HPE_HEADER_OVERFLOW'))?.status).toBe(431);
  });
});

describe('clientError', () => {
  const written = (rawPacket: Buffer): string => {
    let out = '';
    const socket = { destroyed: false, writable: true, end: (s: string) => (out = s) } as unknown as Socket;
    clientError(err('HPE_HEADER_OVERFLOW', rawPacket), socket);
    return out;
  };

  it('answers the problem on the socket, without a body for HEAD (a client would read it as a second response)', () => {
    const get = written(Buffer.from(`GET /${'a'.repeat(20_000)}`));
    expect(get).toMatch(/^HTTP\/1\.1 414 [^]*\r\n\r\n\{"type"/);
    const head = written(Buffer.from(`HEAD /${'a'.repeat(20_000)}`));
    expect(head).toMatch(/^HTTP\/1\.1 414 [^]*Content-Length: \d+\r\nConnection: close\r\n\r\n$/);
  });

  it('names the answer with a new request id (header and body) and reports it to the access log', () => {
    let out = '';
    const heard: unknown[] = [];
    const socket = { destroyed: false, writable: true, end: (s: string) => (out = s) } as unknown as Socket;
    clientError(err('HPE_HEADER_OVERFLOW', Buffer.from(`POST / HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`)), socket, (...a) => heard.push(a));
    const id = /\r\nX-Request-Id: ([0-9a-f-]{36})\r\n/.exec(out)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431, requestId: id });
    expect(heard).toEqual([[431, id, 'POST']]);
  });
});
