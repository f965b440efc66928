/**
 * Large JSON answers sent as a stream, serialised a slice at a time. A 10,000-event ledger what-if answers about 10 MB:
 * JSON.stringify and the UTF-8 copy of that at once held the event loop for hundreds of milliseconds per answer.
 */
import { Readable } from 'node:stream';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { StreamableFile } from '@nestjs/common';
import { JSON_TYPE } from './idempotent-command.js';

/** Longest stretch of serialising before the event loop gets a turn (ms). */
const SLICE_MS = 10;
/** Text gathered before it is handed to the socket as one chunk. */
const CHUNK_CHARS = 64 * 1024;

/**
 * `value` as JSON, byte for byte what JSON.stringify(value) gives (keys in order, undefined members left out), with
 * its top-level arrays serialised element by element between turns of the event loop.
 */
export function jsonStream(value: Readonly<Record<string, unknown>>): StreamableFile {
  return new StreamableFile(Readable.from(pieces(value)), { type: JSON_TYPE });
}

/** The text of jsonStream, in chunks. Exported for its test. */
export async function* pieces(value: Readonly<Record<string, unknown>>): AsyncGenerator<string> {
  let chunk = '{';
  let sliceStart = performance.now();
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    const text = Array.isArray(member) ? undefined : JSON.stringify(member);
    if (!Array.isArray(member) && text === undefined) continue; // as JSON.stringify leaves out undefined, functions, symbols
    chunk += `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (!Array.isArray(member)) {
      chunk += text;
      continue;
    }
    chunk += '[';
    for (const [i, element] of (member as unknown[]).entries()) {
      chunk += `${i === 0 ? '' : ','}${JSON.stringify(element) ?? 'null'}`;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextMacrotask();
        sliceStart = performance.now();
      }
    }
    chunk += ']';
  }
  yield `${chunk}}`;
}
