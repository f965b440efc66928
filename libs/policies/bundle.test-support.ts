/** Bundles for tests: the committed ones read apart, changed, and packed again as .tar.gz. */
import { gunzipSync, gzipSync } from 'node:zlib';
import { readTar } from './bundle-reader.js';

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** A .tar.gz of `files` (path → content). */
export function packBundle(files: Record<string, Uint8Array | string>): Uint8Array {
  const parts: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    parts.push(header(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return new Uint8Array(gzipSync(Buffer.concat(parts)));
}

/** A bundle's files by path (`.manifest`, `data.json`, `policy.wasm`, ...). */
export function unpackBundle(tarGz: Uint8Array): Map<string, Uint8Array> {
  return readTar(gunzipSync(tarGz), Infinity);
}

/**
 * `tarGz` with its manifest renamed to `name@version`, its data or Wasm replaced and metadata added when given: how a test turns a
 * committed bundle into another one (a never-returning entrypoint, oversized data) that still comes from opa build.
 */
export function variantBundle(
  tarGz: Uint8Array,
  name: string,
  version: string,
  over: { wasm?: Uint8Array; data?: unknown; metadata?: Record<string, unknown> } = {},
): Uint8Array {
  const files = unpackBundle(tarGz);
  const manifest = JSON.parse(Buffer.from(files.get('.manifest')!).toString('utf8')) as { revision?: string; metadata?: Record<string, unknown> };
  manifest.revision = version;
  manifest.metadata = { ...manifest.metadata, ...over.metadata, name, version };
  return packBundle({
    '/.manifest': JSON.stringify(manifest),
    '/data.json': over.data === undefined ? files.get('data.json')! : JSON.stringify(over.data),
    '/policy.wasm': over.wasm ?? files.get('policy.wasm')!,
  });
}
