/**
 * Authors' content is bounded (issue 8): over-limit packs and decision types are refused at upload with a code and the
 * path, nothing is stored, and a pattern that backtracks catastrophically cannot stall decisions once activated.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, readPack } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

let svc: TestService;
let author: string;
let publisher: string;
let service: string;

beforeAll(async () => {
  svc = await TestService.start('content_limits');
  author = await svc.issueKey('acme', ['author']);
  publisher = await svc.issueKey('acme', ['publisher']);
  service = await svc.issueKey('acme', ['service']);
});
afterAll(() => svc?.stop());

const post = (path: string, key: string, body: unknown) => svc.request('POST', path, { key, idempotencyKey: newKey(), body });

async function packVersion(version: string): Promise<Record<string, any>> {
  const pack = await readPack('refund-policy');
  pack.version = version;
  return pack;
}

describe('over-limit content is refused at upload, naming the path, and not stored', () => {
  it('a pack with more rules than allowed: 413 RULE_PACK_TOO_LARGE at /rules', async () => {
    const pack = await packVersion('2.0.0');
    const rule = pack.rules[0];
    pack.rules = Array.from({ length: 251 }, (_, i) => ({ ...rule, name: `rule-${i}` }));
    const r = await post('/v1/rule-packs', author, pack);
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body).toMatchObject({ code: 'RULE_PACK_TOO_LARGE', errors: [{ path: '/rules', message: '251 rules; a pack may have at most 250' }] });
    expect((await svc.request('GET', '/v1/rule-packs/refund-policy/2.0.0', { key: author })).status).toBe(404);
  });

  it('conditions nested deeper than allowed: 422 RULE_PACK_TOO_COMPLEX naming the condition', async () => {
    const pack = await packVersion('2.0.1');
    let c: Record<string, unknown> = pack.rules[0].conditions.all[0];
    for (let i = 0; i < 15; i++) c = { not: c }; // under the root block: 15 levels of not, then the leaf at level 17
    pack.rules[0].conditions = { all: [c] };
    const r = await post('/v1/rule-packs', author, pack);
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'RULE_PACK_TOO_COMPLEX', errors: [{ path: `/rules/0/conditions/all/0${'/not'.repeat(15)}` }] });
  });

  it('a fact-schema pattern the linear-time engine cannot run: 422 SCHEMA_PATTERN_UNSUPPORTED at the pattern', async () => {
    const pack = await packVersion('2.0.2');
    pack.factSchema.$defs.orderItem.properties.sku.pattern = '^(?!TEST-)[A-Z0-9-]+$';
    const r = await post('/v1/rule-packs', author, pack);
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'SCHEMA_PATTERN_UNSUPPORTED', errors: [{ path: '/factSchema/$defs/orderItem/properties/sku/pattern', message: expect.stringMatching(/lookahead/) }] });
  });

  it('a decision type whose output schema is over the size limit: 413 SCHEMA_TOO_LARGE at that schema', async () => {
    const type = JSON.parse(await readFile(join(repoRoot, 'decision-types/refund/1.0.0.json'), 'utf8')) as Record<string, any>;
    type.name = 'big-refund';
    type.pipeline[1].outputSchema.description = 'x'.repeat(70 * 1024);
    const r = await post('/v1/decision-types', author, type);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ code: 'SCHEMA_TOO_LARGE', errors: [{ path: '/pipeline/1/outputSchema' }] });
    expect((await svc.request('GET', '/v1/decision-types/big-refund/1.0.0', { key: author })).status).toBe(404);
  });
});

describe('a catastrophic pattern, uploaded and activated, cannot stall a decision', () => {
  const withSku = (sku: string, refundId: string) => refundCase({ refundId, order: { items: [{ sku, amount: 12999, finalSale: false, category: 'apparel' }] } });
  const decide = (c: Record<string, unknown>) => post('/v1/decisions/refund', service, { case: c });

  beforeAll(async () => {
    const pack = await packVersion('1.1.0');
    // The probe's pattern: each character more doubles a backtracking engine's time on a string it refuses.
    pack.factSchema.$defs.orderItem.properties.sku.pattern = '^([A-Za-z0-9-]+)+$';
    expect((await post('/v1/rule-packs', author, pack)).status).toBe(201);
    const release = { name: 'acme', version: '1.1.0', components: { 'refund-policy': '1.1.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } };
    expect((await post('/v1/releases', author, release)).status).toBe(201);
    expect((await post('/v1/releases/acme/1.1.0/activate', publisher, undefined)).status).toBe(200);
  });

  it('an ordinary decision is answered as before', async () => {
    const r = await decide(withSku('SKU-2024-BLUE-M', 'rf_sku_ok'));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ outcome: 'APPROVE', release: { name: 'acme', version: '1.1.0' } });
  });

  it('a SKU the pattern refuses is answered at once, at every length the type allows', async () => {
    // 32 characters blocked the process 10-30 s on a backtracking engine (the probe: 1.9 s at 28); 255 would never end.
    for (const length of [32, 255]) {
      const started = Date.now();
      const r = await decide(withSku('A'.repeat(length - 1) + '_', `rf_sku_${length}`));
      expect(Date.now() - started).toBeLessThan(5_000); // a hang guard
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'RULE_FACTS_INVALID', errors: [expect.objectContaining({ path: '/order/items/0/sku' })] });
    }
    expect((await decide(withSku('SKU-9', 'rf_sku_after'))).status).toBe(201);
  });
});
