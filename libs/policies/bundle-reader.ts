/** Reads an OPA Wasm bundle (.tar.gz) into manifest, policy.wasm and data, refusing malformed or oversized input. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { bundleInvalid, bundleTooLarge, formatBytes } from './policy-errors.js';

export interface BundleLimits {
  /** Size of the .tar.gz as received. */
  maxCompressedBytes: number;
  /** Size of the inflated tar stream, which bounds every member and their total. */
  maxUncompressedBytes: number;
  /** Entrypoints a bundle may declare or export; an upload evaluates each one (the shipped bundles have 1). */
  maxEntrypoints: number;
}

export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxCompressedBytes: 10 * 1024 * 1024,
  maxUncompressedBytes: 50 * 1024 * 1024,
  maxEntrypoints: 64,
});

/**
 * A bundle with more than `maxEntrypoints` entrypoints (declared by its manifest, or exported by its Wasm) is refused.
 * @throws DomainError POLICY_BUNDLE_TOO_LARGE naming `file`
 */
export function checkEntrypointCount(count: number, file: string, limits?: Partial<BundleLimits>): void {
  const { maxEntrypoints } = resolveLimits(limits);
  if (count > maxEntrypoints) throw bundleTooLarge(`bundle has ${count} entrypoints in ${file}; the limit is ${maxEntrypoints}`, file);
}

export interface BundleWasmModule {
  entrypoint: string;
  module: string;
}

export interface BundleManifest {
  revision: string;
  /** Data paths the bundle owns; OPA's default when absent is [''] (everything). */
  roots: string[];
  metadata?: Record<string, unknown>;
  wasm?: BundleWasmModule[];
}

export interface PolicyBundle {
  manifest: BundleManifest;
  wasm: Uint8Array;
  /** Parsed /data.json, or {} when the bundle has none. */
  data: unknown;
  /** Hex SHA-256 of the .tar.gz bytes exactly as given. */
  sha256: string;
}

const BLOCK = 512;
const WASM_FILE = 'policy.wasm';
const MANIFEST_FILE = '.manifest';
const DATA_FILE = 'data.json';
const utf8 = new TextDecoder('utf-8', { fatal: false });

export function resolveLimits(limits?: Partial<BundleLimits>): BundleLimits {
  return { ...DEFAULT_BUNDLE_LIMITS, ...limits };
}

export function readBundle(bytes: Uint8Array, limits?: Partial<BundleLimits>): PolicyBundle {
  const lim = resolveLimits(limits);
  if (bytes.byteLength > lim.maxCompressedBytes) {
    throw bundleTooLarge(
      `bundle is ${formatBytes(bytes.byteLength)} compressed; the limit is ${formatBytes(lim.maxCompressedBytes)}`,
    );
  }
  const files = readTar(gunzip(bytes, lim.maxUncompressedBytes), lim.maxUncompressedBytes);

  const wasmBytes = files.get(WASM_FILE);
  if (!wasmBytes) throw bundleInvalid('bundle has no /policy.wasm (build it with opa build -t wasm)', '/policy.wasm');
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) throw bundleInvalid('bundle has no /.manifest', '/.manifest');

  const manifest = parseManifest(parseJson(manifestBytes, '/.manifest'));
  const declared = manifest.metadata?.['entrypoints'];
  checkEntrypointCount(Math.max(manifest.wasm?.length ?? 0, Array.isArray(declared) ? declared.length : 0), '/.manifest', lim);
  const dataBytes = files.get(DATA_FILE);
  const data = dataBytes ? parseJson(dataBytes, '/data.json') : {};
  if (!isPlainObject(data)) throw bundleInvalid('/data.json must hold a JSON object at its top level', '/data.json');

  return {
    manifest,
    // A copy, so the inflated tar can be collected and the wasm sits in its own ArrayBuffer.
    wasm: new Uint8Array(wasmBytes),
    data,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

function gunzip(bytes: Uint8Array, maxOutput: number): Buffer {
  if (bytes.byteLength < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw bundleInvalid('bundle is not gzip data (a bundle is a .tar.gz built by opa build)');
  }
  try {
    // maxOutputLength makes zlib stop as soon as the output passes the limit, so a gzip
    // bomb costs at most the limit in memory, never its full inflated size.
    return gunzipSync(bytes, { maxOutputLength: maxOutput });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw bundleTooLarge(`bundle inflates to more than ${formatBytes(maxOutput)}, the uncompressed limit`);
    }
    throw bundleInvalid(`bundle is not valid gzip: ${e instanceof Error ? e.message : 'unknown zlib error'}`);
  }
}

/**
 * A minimal ustar reader: regular files only, keyed by normalised path ('policy.wasm' for
 * '/policy.wasm', './policy.wasm' or 'policy.wasm'). Links, directories and other special
 * entries are skipped, never followed. GNU long names ('L') and pax headers ('x') rename the
 * entry that follows; global pax headers ('g') and GNU long link names ('K') are skipped.
 */
export function readTar(tar: Uint8Array, maxEntryBytes: number): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let off = 0;
  let pendingPath: string | undefined;
  let pendingSize: number | undefined;

  for (;;) {
    // A clean end without the two zero blocks is accepted, as Go's archive/tar does.
    if (off === tar.byteLength) break;
    if (off + BLOCK > tar.byteLength) {
      throw bundleInvalid(`truncated tar: ${tar.byteLength - off} bytes at offset ${off} where a 512-byte header or padding should be`);
    }
    const header = tar.subarray(off, off + BLOCK);
    if (isZeroBlock(header)) break;
    verifyChecksum(header, off);

    const type = String.fromCharCode(header[156] ?? 0);
    const name = pendingPath ?? headerPath(header);
    const size = pendingSize ?? parseNumber(header.subarray(124, 136), name, off);
    pendingPath = undefined;
    pendingSize = undefined;

    // Checked before touching the data: a header may claim any size.
    if (size > maxEntryBytes) {
      throw bundleTooLarge(`tar entry ${name} declares ${size} bytes; the uncompressed limit is ${formatBytes(maxEntryBytes)}`, `/${normalisePath(name)}`);
    }
    const start = off + BLOCK;
    if (start + size > tar.byteLength) {
      throw bundleInvalid(
        `truncated tar: entry ${name} declares ${size} bytes but only ${tar.byteLength - start} remain`,
        `/${normalisePath(name)}`,
      );
    }
    const body = tar.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;

    switch (type) {
      case '0':
      case '\0':
      case '7': {
        const path = normalisePath(name);
        if (files.has(path)) throw bundleInvalid(`bundle has two entries for /${path}`, `/${path}`);
        refuseUnsupportedData(path);
        files.set(path, body);
        break;
      }
      case 'L':
        pendingPath = cString(body);
        break;
      case 'x': {
        const pax = parsePax(body, off);
        pendingPath = pax.path;
        pendingSize = pax.size;
        break;
      }
      default:
        // '5' directories, '1'/'2' links, 'g' global pax, 'K' long link names, devices, fifos.
        break;
    }
  }
  return files;
}

/** opa build writes all data into one /data.json; anything else would silently go missing. */
function refuseUnsupportedData(path: string): void {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === 'data.yaml' || base === 'data.yml' || (base === 'data.json' && path !== DATA_FILE)) {
    throw bundleInvalid(`bundle data file /${path} is not supported: data must be in /data.json`, `/${path}`);
  }
}

function normalisePath(p: string): string {
  let s = p;
  for (;;) {
    if (s.startsWith('./')) s = s.slice(2);
    else if (s.startsWith('/')) s = s.slice(1);
    else return s;
  }
}

function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return utf8.decode(end === -1 ? b : b.subarray(0, end));
}

/** ustar splits long names into prefix (345..500) and name (0..100). */
function headerPath(h: Uint8Array): string {
  const name = cString(h.subarray(0, 100));
  const isUstar = cString(h.subarray(257, 263)).startsWith('ustar');
  const prefix = isUstar ? cString(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

/** The checksum catches garbage and misaligned reads long before a bogus size is trusted. */
function verifyChecksum(h: Uint8Array, off: number): void {
  const stored = parseOctal(h.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored === undefined || (stored !== unsigned && stored !== signed)) {
    throw bundleInvalid(`bad tar header at offset ${off}: checksum mismatch (not a tar archive, or corrupted)`);
  }
}

function parseOctal(field: Uint8Array): number | undefined {
  const s = cString(field).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

/** Octal, or GNU base-256 when the high bit is set (used for sizes of 8 GiB and more). */
function parseNumber(field: Uint8Array, name: string, off: number): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    if (first & 0x40) throw bundleInvalid(`bad tar header for ${name} at offset ${off}: negative size`);
    let n = first & 0x3f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    // Precision may be lost past 2^53, but such a size is over any limit anyway.
    return n;
  }
  const n = parseOctal(field);
  if (n === undefined) throw bundleInvalid(`bad tar header for ${name} at offset ${off}: size is not octal`);
  return n;
}

/** Pax records are "<len> <key>=<value>\n"; only path and size matter here. */
function parsePax(body: Uint8Array, off: number): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    const len = space === -1 ? NaN : Number(utf8.decode(body.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) {
      throw bundleInvalid(`malformed pax header before offset ${off}`);
    }
    const record = utf8.decode(body.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf('=');
    if (eq > 0) {
      const key = record.slice(0, eq);
      const value = record.slice(eq + 1);
      if (key === 'path') out.path = value;
      else if (key === 'size') {
        const size = Number(value);
        if (!/^\d+$/.test(value) || !Number.isFinite(size)) throw bundleInvalid(`malformed pax size "${value}" before offset ${off}`);
        out.size = size;
      }
    }
    pos += len;
  }
  return out;
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch (e) {
    throw bundleInvalid(`${file} is not valid JSON: ${e instanceof Error ? e.message : 'parse error'}`, file);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseManifest(raw: unknown): BundleManifest {
  const file = '/.manifest';
  if (!isPlainObject(raw)) throw bundleInvalid('/.manifest must be a JSON object', file);
  const { revision, roots, metadata, wasm } = raw;
  if (typeof revision !== 'string' || revision === '') {
    throw bundleInvalid('/.manifest has no revision (build with opa build --revision <version>)', file);
  }
  let rootList = [''];
  if (roots !== undefined) {
    if (!Array.isArray(roots) || !roots.every((r): r is string => typeof r === 'string')) {
      throw bundleInvalid('/.manifest roots must be an array of strings', file);
    }
    rootList = roots;
  }
  if (metadata !== undefined && !isPlainObject(metadata)) {
    throw bundleInvalid('/.manifest metadata must be an object', file);
  }
  const manifest: BundleManifest = { revision, roots: rootList };
  if (metadata !== undefined) manifest.metadata = metadata;
  if (wasm !== undefined) {
    if (!Array.isArray(wasm)) throw bundleInvalid('/.manifest wasm must be an array of {entrypoint, module}', file);
    manifest.wasm = wasm.map((w: unknown, i) => {
      if (!isPlainObject(w) || typeof w.entrypoint !== 'string' || typeof w.module !== 'string') {
        throw bundleInvalid(`/.manifest wasm[${i}] must be {entrypoint: string, module: string}`, file);
      }
      if (normalisePath(w.module) !== WASM_FILE) {
        throw bundleInvalid(`/.manifest wasm[${i}] names module ${w.module}; only /policy.wasm is supported`, file);
      }
      return { entrypoint: w.entrypoint, module: w.module };
    });
  }
  return manifest;
}
