/** Content hashes, the content-keyed compile cache, a tenant's component source, and the upload/activation checks. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { variantBundle } from '../policies/bundle.test-support.js';
import {
  canonicalJson,
  checkActivation,
  checkBundleUpload,
  checkPackUpload,
  CompileCache,
  FileComponentSource,
  packDigest,
  releaseDigest,
  ReleaseCompiler,
  TenantComponentSource,
  type ComponentDigest,
  type ReleaseManifest,
  type TenantComponentStore,
} from './index.js';

const root = resolve(import.meta.dirname, '../..');
const files = new FileComponentSource(root);
const shippedPack = () => JSON.parse(readFileSync(resolve(root, 'rule-packs/refund-policy/1.0.0.json'), 'utf8')) as Record<string, any>;
const BASE = { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' };

/** A tenant store in memory, counting reads. */
class MemoryStore implements TenantComponentStore {
  readonly packs = new Map<string, unknown>();
  readonly releases = new Map<string, ReleaseManifest>();
  reads = 0;
  private k = (t: string, n: string, v: string) => `${t}/${n}@${v}`;
  put(tenant: string, pack: Record<string, any>): void {
    this.packs.set(this.k(tenant, pack.name as string, pack.version as string), pack);
  }
  pack(t: string, n: string, v: string): Promise<unknown> {
    this.reads++;
    return Promise.resolve(this.packs.get(this.k(t, n, v)));
  }
  type(): Promise<unknown> {
    this.reads++;
    return Promise.resolve(undefined);
  }
  bundle(): Promise<Uint8Array | undefined> {
    this.reads++;
    return Promise.resolve(undefined);
  }
  digest(t: string, n: string, v: string): Promise<ComponentDigest | undefined> {
    this.reads++;
    const p = this.packs.get(this.k(t, n, v));
    return Promise.resolve(p === undefined ? undefined : { kind: 'pack', sha256: packDigest(p) });
  }
  release(t: string, n: string, v: string): Promise<ReleaseManifest | undefined> {
    return Promise.resolve(this.releases.get(this.k(t, n, v)));
  }
}

function withLimit(limit: number, version: string): Record<string, any> {
  const pack = shippedPack();
  pack.version = version;
  pack.parameters.autoApproveLimit = limit;
  pack.tests.cases = pack.tests.cases.filter((c: { name: string }) => !c.name.startsWith('auto-approve'));
  return pack;
}

describe('content hashes', () => {
  it('canonical JSON ignores key order and undefined members, not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } })).toBe('{"a":{"d":[2,1]},"b":1}');
    expect(packDigest({ x: 1, y: 2 })).toBe(packDigest({ y: 2, x: 1 }));
    expect(packDigest({ x: [1, 2] })).not.toBe(packDigest({ x: [2, 1] }));
  });

  it("a release's hash is its name, version and components, whatever their order or description", () => {
    const m = { name: 'r', version: '1.0.0', components: { a: '1.0.0', b: '2.0.0' } };
    expect(releaseDigest({ ...m, description: 'note', components: { b: '2.0.0', a: '1.0.0' } })).toBe(releaseDigest(m));
    expect(releaseDigest({ ...m, components: { a: '1.0.1', b: '2.0.0' } })).not.toBe(releaseDigest(m));
  });
});

describe('TenantComponentSource and the content-keyed compile cache', () => {
  it("reads the tenant's stored components first, then the built-in files; tenants do not see each other's", async () => {
    const store = new MemoryStore();
    store.put('acme', withLimit(20000, '1.1.0'));
    const acme = new TenantComponentSource('acme', store, files);
    const globex = new TenantComponentSource('globex', store, files);
    expect(await acme.digest('refund-policy', '1.1.0')).toMatchObject({ kind: 'pack' });
    expect(await globex.digest('refund-policy', '1.1.0')).toBeUndefined();
    expect(await acme.digest('refund-risk', '1.0.0')).toMatchObject({ kind: 'bundle' });
    expect(await acme.release('default', '1.0.0')).toMatchObject({ builtin: true, manifest: { components: BASE } });
  });

  it('compiles identical content once across tenants, and the same name@version with other content apart', async () => {
    const store = new MemoryStore();
    store.put('acme', withLimit(20000, '1.1.0'));
    store.put('globex', withLimit(20000, '1.1.0'));
    store.put('initech', withLimit(30000, '1.1.0'));
    const cache = new CompileCache();
    const compile = (tenant: string) =>
      new ReleaseCompiler(new TenantComponentSource(tenant, store, files), cache).compile({ name: 'r', version: '1.0.0', components: { ...BASE, 'refund-policy': '1.1.0' } });
    const [acme, globex, initech] = [await compile('acme'), await compile('globex'), await compile('initech')];
    expect(globex).toBe(acme);
    expect(initech).not.toBe(acme);
    expect(initech.packs.get('refund-policy')!.parameters.autoApproveLimit).toBe(30000);
    // Bundles are shared too: one compiled policy per content.
    expect(initech.policies.get('refund-risk')).toBe(acme.policies.get('refund-risk'));
  });

  it('remembers found digests, so a cached release costs no store reads', async () => {
    const store = new MemoryStore();
    store.put('acme', withLimit(20000, '1.1.0'));
    const compiler = new ReleaseCompiler(new TenantComponentSource('acme', store, files));
    const manifest = { name: 'r', version: '1.0.0', components: { ...BASE, 'refund-policy': '1.1.0' } };
    const first = await compiler.compile(manifest);
    const reads = store.reads;
    expect(await compiler.compile(manifest)).toBe(first);
    expect(store.reads).toBe(reads);
  });

  it('names every missing component at once', async () => {
    const compiler = new ReleaseCompiler(files);
    await expect(compiler.compile({ name: 'r', version: '1.0.0', components: { ...BASE, 'refund-policy': '9.0.0', 'refund-risk': '9.0.0' } })).rejects.toMatchObject({
      code: 'RELEASE_COMPONENT_NOT_FOUND',
      errors: [{ path: '/components/refund-policy' }, { path: '/components/refund-risk' }],
    });
  });
});

describe('upload and activation checks', () => {
  it('a pack whose own case fails is refused naming the case', async () => {
    const pack = shippedPack();
    pack.parameters.autoApproveLimit = 40000;
    await expect(checkPackUpload(pack)).rejects.toMatchObject({
      code: 'RULE_PACK_TESTS_FAILED',
      errors: [expect.objectContaining({ rule: 'auto-approve: exactly 50000 is approved automatically' })],
    });
    await expect(checkPackUpload(shippedPack())).resolves.toMatchObject({ ref: 'refund-policy@1.0.0' });
  });

  it('a bundle must be named as asked and survive a smoke evaluation of {} (an undefined result is fine)', async () => {
    const bytes = readFileSync(resolve(root, 'policies/bundles/redemption-gate/1.0.0.tar.gz'));
    await expect(checkBundleUpload(bytes, 'redemption-gate', '1.0.0')).resolves.toMatchObject({ ref: 'redemption-gate@1.0.0' });
    await expect(checkBundleUpload(bytes, 'redemption-gate', '2.0.0')).rejects.toMatchObject({ code: 'POLICY_BUNDLE_MISMATCH' });
    await expect(checkBundleUpload(new Uint8Array([1, 2, 3]), 'x', '1.0.0')).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
    // An upload's manifest must declare its reads well-formed (a stored bundle with odd ones loads as declaring none).
    const odd = variantBundle(bytes, 'redemption-gate', '1.0.1', { metadata: { reads: { 'ledger/redemption/decision': ['/features/bad~2'] } } });
    await expect(checkBundleUpload(odd, 'redemption-gate', '1.0.1')).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID', message: expect.stringContaining('metadata.reads') });
    const declared = variantBundle(bytes, 'redemption-gate', '1.0.2', { metadata: { reads: { 'ledger/redemption/decision': ['/amount'] } } });
    await expect(checkBundleUpload(declared, 'redemption-gate', '1.0.2')).resolves.toMatchObject({ ref: 'redemption-gate@1.0.2' });
  });

  it('activation needs every domain served and every pack case passing', async () => {
    const compiler = new ReleaseCompiler(files);
    await expect(checkActivation(await compiler.compile({ name: 'default', version: '1.0.0', components: BASE }))).resolves.toBeUndefined();
    const { 'redemption-gate': _gate, ...noGate } = BASE;
    await expect(checkActivation(await compiler.compile({ name: 'x', version: '1.0.0', components: noGate }))).rejects.toMatchObject({ code: 'RELEASE_INCOMPLETE' });

    const store = new MemoryStore();
    const broken = shippedPack();
    broken.version = '1.0.1';
    broken.tests.cases.find((c: { name: string }) => c.name === 'open dispute goes to review').expect.events = [];
    store.put('acme', broken);
    const release = await new ReleaseCompiler(new TenantComponentSource('acme', store, files)).compile({
      name: 'broken',
      version: '1.0.0',
      components: { ...BASE, 'refund-policy': '1.0.1' },
    });
    await expect(checkActivation(release)).rejects.toMatchObject({
      code: 'RELEASE_TESTS_FAILED',
      errors: [expect.objectContaining({ path: '/components/refund-policy', rule: 'open dispute goes to review' })],
    });
  });
});
