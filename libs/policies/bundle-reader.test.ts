/** Bundle reading: tar variants accepted, malformed and oversized bundles refused with stable codes. */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DomainError } from '../errors/index.js';
import { checkEntrypointCount, DEFAULT_BUNDLE_LIMITS, LoadedPolicy, readBundle } from './index.js';
import { readTar } from './bundle-reader.js';

const MiB = 1024 * 1024;
const committed = readFileSync(new URL('../../policies/bundles/refund-risk/1.0.0.tar.gz', import.meta.url));
const real = readTar(gunzipSync(committed), Infinity);
const realWasm = real.get('policy.wasm')!;
interface RiskData {
  refund_risk: { score_cap: number; signals: Record<string, { weight: number; threshold: unknown }> };
}
interface Assessment {
  score: number;
  band: string;
  reasons: { message: string }[];
}
const realManifest: { wasm: { entrypoint: string; module: string }[] } = JSON.parse(Buffer.from(real.get('.manifest')!).toString('utf8'));
const realData: RiskData = JSON.parse(Buffer.from(real.get('data.json')!).toString('utf8'));

// --- a tiny tar writer, enough to build malformed bundles ---

interface Entry {
  name: string;
  data?: Uint8Array | string;
  /** Typeflag: '0' file, '5' dir, 'L' GNU long name, 'x' pax, 'g' global pax. */
  type?: string;
  /** Declared size when it should lie about the data. */
  size?: number;
}

function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function tar(entries: Entry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data ?? new Uint8Array());
    parts.push(header(e.name, e.size ?? data.length, e.type ?? '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function pax(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 1;
      while (String(len).length + body.length !== len) len = String(len).length + body.length;
      return `${len}${body}`;
    })
    .join('');
}

const json = (v: unknown): string => JSON.stringify(v);

/** The committed bundle's files, with overrides; `undefined` drops a file. */
function bundle(over: Record<string, Uint8Array | string | undefined> = {}): Buffer {
  const files: Record<string, Uint8Array | string | undefined> = {
    '/data.json': json(realData),
    '/policy.wasm': realWasm,
    '/.manifest': json(realManifest),
    ...over,
  };
  return gzipSync(tar(Object.entries(files).flatMap(([name, data]) => (data === undefined ? [] : [{ name, data }]))));
}

function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a refusal');
}

// --- reading ---

describe('readBundle', () => {
  it('reads the committed bundle', () => {
    const b = readBundle(committed);
    expect(b.manifest).toMatchObject({
      revision: '1.0.0',
      roots: ['refund/risk', 'refund_risk'],
      metadata: { name: 'refund-risk', version: '1.0.0' },
      wasm: [{ entrypoint: 'refund/risk/assessment', module: '/policy.wasm' }],
    });
    expect((b.data as RiskData).refund_risk.score_cap).toBe(100);
    expect(b.wasm.subarray(0, 4)).toEqual(new Uint8Array([0, 0x61, 0x73, 0x6d]));
    expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each(['/', '', './'])('accepts member paths written as %j + name', (prefix) => {
    const b = readBundle(
      gzipSync(
        tar([
          { name: `${prefix}policy.wasm`, data: realWasm },
          { name: `${prefix}.manifest`, data: json({ revision: '7' }) },
        ]),
      ),
    );
    expect(b.manifest).toEqual({ revision: '7', roots: [''] });
    expect(b.data).toEqual({});
    expect(b.wasm.length).toBe(realWasm.length);
  });

  it('follows GNU long names and pax paths, and skips directories and global headers', () => {
    const longDir = `policies/${'very-long-directory-name/'.repeat(6)}`;
    const b = readBundle(
      gzipSync(
        tar([
          { name: 'pax_global_header', type: 'g', data: pax({ comment: 'hello' }) },
          { name: './', type: '5' },
          { name: '././@LongLink', type: 'L', data: '/policy.wasm\0' },
          { name: 'truncated-name', data: realWasm },
          { name: 'PaxHeaders/x', type: 'x', data: pax({ path: '/.manifest', mtime: '1.5' }) },
          { name: 'something-else', data: json({ revision: '2' }) },
          { name: '././@LongLink', type: 'L', data: `${longDir}risk.rego\0` },
          { name: 'ignored', data: 'package x' },
          { name: 'data.json', data: json({ a: 1 }) },
        ]),
      ),
    );
    expect(b.manifest.revision).toBe('2');
    expect(b.data).toEqual({ a: 1 });
  });

  it('accepts a tar that ends without the two zero blocks', () => {
    const b = readBundle(gzipSync(tar([{ name: 'policy.wasm', data: realWasm }, { name: '.manifest', data: json({ revision: '1' }) }], { end: false })));
    expect(b.manifest.revision).toBe('1');
  });
});

// --- refusals ---

describe('readBundle refusals', () => {
  const invalid = (fn: () => unknown, ...parts: string[]): void => {
    const e = refusal(fn);
    expect(e).toMatchObject({ code: 'POLICY_BUNDLE_INVALID', kind: 'unprocessable' });
    for (const p of parts) expect(e.message).toContain(p);
  };
  const tooLarge = (fn: () => unknown, ...parts: string[]): void => {
    const e = refusal(fn);
    expect(e).toMatchObject({ code: 'POLICY_BUNDLE_TOO_LARGE', kind: 'too_large' });
    for (const p of parts) expect(e.message).toContain(p);
  };

  it('refuses bytes that are not gzip', () => {
    invalid(() => readBundle(Buffer.from('{"not": "a bundle"}')), 'not gzip');
    invalid(() => readBundle(new Uint8Array()), 'not gzip');
  });

  it('refuses a truncated gzip stream', () => {
    invalid(() => readBundle(committed.subarray(0, committed.length / 2)), 'not valid gzip');
  });

  it('refuses gzip data that is not a tar', () => {
    invalid(() => readBundle(gzipSync(Buffer.alloc(2048, 'x'))), 'checksum mismatch');
  });

  it('refuses a tar truncated inside an entry', () => {
    const whole = tar([
      { name: '.manifest', data: json(realManifest) },
      { name: 'policy.wasm', data: realWasm },
    ]);
    invalid(() => readBundle(gzipSync(whole.subarray(0, 512 * 4))), 'truncated tar', 'policy.wasm', `declares ${realWasm.length} bytes`);
  });

  it('refuses a tar truncated inside a header', () => {
    const whole = tar([{ name: '.manifest', data: json(realManifest) }], { end: false });
    invalid(() => readBundle(gzipSync(Buffer.concat([whole, Buffer.alloc(100, 1)]))), 'truncated tar');
  });

  it('refuses a bundle without /policy.wasm', () => {
    invalid(() => readBundle(bundle({ '/policy.wasm': undefined })), 'no /policy.wasm');
  });

  it('refuses a bundle without /.manifest', () => {
    invalid(() => readBundle(bundle({ '/.manifest': undefined })), 'no /.manifest');
  });

  it('refuses a manifest that is not JSON', () => {
    invalid(() => readBundle(bundle({ '/.manifest': '{revision: 1' })), '/.manifest is not valid JSON');
  });

  it('refuses a manifest without revision', () => {
    invalid(() => readBundle(bundle({ '/.manifest': json({ roots: [''] }) })), '/.manifest has no revision');
  });

  it('refuses malformed manifest fields', () => {
    invalid(() => readBundle(bundle({ '/.manifest': json({ revision: '1', roots: 'x' }) })), 'roots');
    invalid(() => readBundle(bundle({ '/.manifest': json({ revision: '1', metadata: [] }) })), 'metadata');
    invalid(() => readBundle(bundle({ '/.manifest': json({ revision: '1', wasm: [{ entrypoint: 1 }] }) })), 'wasm[0]');
    invalid(
      () => readBundle(bundle({ '/.manifest': json({ revision: '1', wasm: [{ entrypoint: 'a', module: '/other.wasm' }] }) })),
      '/other.wasm',
    );
  });

  it('refuses data.json that is not JSON or not an object', () => {
    invalid(() => readBundle(bundle({ '/data.json': '{"a":' })), '/data.json is not valid JSON');
    invalid(() => readBundle(bundle({ '/data.json': '[1]' })), '/data.json must hold a JSON object');
  });

  it('refuses data files other than /data.json instead of dropping them', () => {
    invalid(() => readBundle(bundle({ '/refund_risk/data.json': '{}' })), '/refund_risk/data.json is not supported');
    invalid(() => readBundle(bundle({ '/data.yaml': 'a: 1' })), '/data.yaml');
  });

  it('refuses two entries for the same file', () => {
    invalid(() => readBundle(bundle({ './policy.wasm': realWasm })), 'two entries for /policy.wasm');
  });

  it('refuses a bundle over the compressed limit before inflating it', () => {
    tooLarge(() => readBundle(committed, { maxCompressedBytes: 1000 }), `${committed.length} bytes compressed`, 'limit is 1000 bytes');
    const huge = Buffer.alloc(10 * MiB + 1);
    huge[0] = 0x1f;
    huge[1] = 0x8b;
    tooLarge(() => readBundle(huge), 'compressed', 'limit is 10 MiB (10485760 bytes)');
  });

  it('refuses a gzip bomb (60 MiB of zeros) at the uncompressed limit', () => {
    const bomb = gzipSync(tar([{ name: 'policy.wasm', data: new Uint8Array(60 * MiB) }]));
    expect(bomb.length).toBeLessThan(MiB);
    tooLarge(() => readBundle(bomb), 'inflates to more than 50 MiB (52428800 bytes)');
    // maxOutputLength stops zlib at the limit, whatever the limit (speed is the bench's business, not a test's).
    tooLarge(() => readBundle(bomb, { maxUncompressedBytes: MiB }), 'inflates to more than 1 MiB');
  });

  it('refuses a tar entry claiming a huge size without trusting it', () => {
    const lying = tar([{ name: 'policy.wasm', data: 'x', size: 0o77777777777 }], { end: false });
    tooLarge(() => readBundle(gzipSync(lying)), 'tar entry policy.wasm declares 8589934591 bytes', 'limit is 50 MiB');
  });

  it('refuses a tar entry claiming more than is there', () => {
    const lying = tar([{ name: 'policy.wasm', data: 'x', size: 4096 }], { end: false });
    invalid(() => readBundle(gzipSync(lying)), 'truncated tar', 'declares 4096 bytes but only 512 remain');
  });
});

describe('LoadedPolicy.load refusals and data', () => {
  it('refuses a policy.wasm that does not load', async () => {
    await expect(LoadedPolicy.load(bundle({ '/policy.wasm': 'not wasm at all' }))).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
      kind: 'unprocessable',
      message: expect.stringContaining('/policy.wasm does not load'),
    });
  });

  it('refuses a manifest declaring an entrypoint the module does not export', async () => {
    const manifest = { ...realManifest, wasm: [...realManifest.wasm, { entrypoint: 'refund/risk/missing', module: '/policy.wasm' }] };
    await expect(LoadedPolicy.load(bundle({ '/.manifest': json(manifest) }))).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
      message: expect.stringContaining('declares entrypoint refund/risk/missing but /policy.wasm exports only [refund/risk/assessment]'),
    });
  });

  it('refuses a bundle whose metadata does not name it', async () => {
    await expect(LoadedPolicy.load(bundle({ '/.manifest': json({ revision: '1.0.0' }) }))).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
      message: expect.stringContaining('metadata.name'),
    });
  });

  it('falls back to the revision when metadata has no version', async () => {
    const p = await LoadedPolicy.load(bundle({ '/.manifest': json({ revision: '9.9.9', metadata: { name: 'x' } }) }));
    expect(p.ref).toBe('x@9.9.9');
  });

  it('refuses a bundle that is not the expected name or version', async () => {
    await expect(LoadedPolicy.load(committed, { expectName: 'refund-risk', expectVersion: '2.0.0' })).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_MISMATCH',
      kind: 'unprocessable',
      message: 'bundle is refund-risk@1.0.0, expected refund-risk@2.0.0',
    });
  });

  it('passes size limits through', async () => {
    await expect(LoadedPolicy.load(committed, { limits: { maxUncompressedBytes: 1024 } })).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_TOO_LARGE',
    });
  });

  // Rules are data: the same policy.wasm with other numbers in data.json answers differently.
  it.each([
    [29, 'LOW'],
    [30, 'ELEVATED'],
    [69, 'ELEVATED'],
    [70, 'HIGH'],
  ])('band edges come from data: a velocity weight of %i scores %s', async (weight, band) => {
    const data = structuredClone(realData);
    data.refund_risk.signals['REFUND_VELOCITY_HIGH']!.weight = weight;
    const p = await LoadedPolicy.load(bundle({ '/data.json': json(data) }));
    const r = p.evaluate('refund/risk/assessment', {
      requestedAmount: 100,
      customer: { accountAgeDays: 400, refundCount30d: 3, goodwillRefunds12m: 0, priorChargebacks: 0 },
      signals: { ipRisk: 'low' },
    }) as Assessment;
    expect(r.score).toBe(weight);
    expect(r.band).toBe(band);
  });

  it('takes the cap from data', async () => {
    const data = structuredClone(realData);
    data.refund_risk.score_cap = 50;
    const p = await LoadedPolicy.load(bundle({ '/data.json': json(data) }));
    const r = p.evaluate('refund/risk/assessment', {
      requestedAmount: 20001,
      customer: { accountAgeDays: 1, refundCount30d: 3, goodwillRefunds12m: 0, priorChargebacks: 1 },
      signals: { ipRisk: 'high', deviceAccounts: 5 },
    }) as Assessment;
    expect(r.score).toBe(50);
    expect(r.reasons[0]?.message).toBe('Risk score 50 is in the review band (30-69)');
  });
});

// --- entrypoints: an upload evaluates every one ---

describe('entrypoint limit', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `p/e${i}`);

  it(`a manifest declaring more than ${DEFAULT_BUNDLE_LIMITS.maxEntrypoints} entrypoints is 413 POLICY_BUNDLE_TOO_LARGE at /.manifest`, () => {
    const n = DEFAULT_BUNDLE_LIMITS.maxEntrypoints + 1;
    for (const manifest of [
      { ...realManifest, wasm: many(n).map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })) },
      { ...realManifest, metadata: { ...(realManifest as { metadata?: object }).metadata, entrypoints: many(n) } },
    ]) {
      const e = refusal(() => readBundle(bundle({ '/.manifest': json(manifest) })));
      expect(e).toMatchObject({ code: 'POLICY_BUNDLE_TOO_LARGE', kind: 'too_large', errors: [{ path: '/.manifest' }] });
      expect(e.message).toBe(`bundle has ${n} entrypoints in /.manifest; the limit is ${DEFAULT_BUNDLE_LIMITS.maxEntrypoints}`);
    }
  });

  it('the shipped bundle is within it; the limit is a BundleLimits setting', () => {
    expect(() => readBundle(committed)).not.toThrow();
    expect(refusal(() => readBundle(committed, { maxEntrypoints: 0 })).code).toBe('POLICY_BUNDLE_TOO_LARGE');
    expect(refusal(() => checkEntrypointCount(DEFAULT_BUNDLE_LIMITS.maxEntrypoints + 1, '/policy.wasm')).errors).toEqual([
      { path: '/policy.wasm', message: `bundle has ${DEFAULT_BUNDLE_LIMITS.maxEntrypoints + 1} entrypoints in /policy.wasm; the limit is ${DEFAULT_BUNDLE_LIMITS.maxEntrypoints}` },
    ]);
  });
});
