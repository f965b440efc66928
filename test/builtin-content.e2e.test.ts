/**
 * The built service started on a content root holding a built-in reward program an upload would refuse: it starts, its
 * log names the file and the problem at once, and the program is refused where it is used (opening an account), as
 * before. The rest of the built-in content serves as usual.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentRoot, readPack, type ContentRoot } from './support/content-root.js';
import { newKey } from './support/harness.js';
import { ServiceProcess } from './support/service-process.js';

let root: ContentRoot;
let svc: ServiceProcess;

beforeAll(async () => {
  const pack = await readPack('issuer-b');
  root = await contentRoot([{ ...pack, version: '1.0.1', parameters: { ...pack.parameters, monthlyCap: -1 } }]);
  await writeFile(join(root.dir, 'rule-packs', 'issuer-b', '1.0.2.json'), '{ not json');
  svc = await ServiceProcess.start('builtin_content', { CONTENT_ROOT: root.dir, LOG_LEVEL: 'info', LOG_PRETTY: 'false' });
});
afterAll(async () => {
  await svc?.stop();
  await root?.remove();
});

it('starts, warns naming the file and the problem, and refuses the program where it is used', async () => {
  expect((await svc.request('GET', '/readyz')).status).toBe(200);
  // The check runs beside the start: wait for its summary line.
  for (let i = 0; i < 200 && !svc.stdout.some((l) => /built-in rule pack\(s\) checked/.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  const warnings = svc.stdout.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn' && /built-in rule pack/.test(l.msg));
  expect(warnings).toHaveLength(2);
  expect(warnings[0]!.msg).toMatch(/rule-packs\/issuer-b\/1\.0\.1\.json: REWARD_PROGRAM_INVALID at \/parameters\/monthlyCap: /);
  expect(warnings[1]!.msg).toMatch(/rule-packs\/issuer-b\/1\.0\.2\.json is not JSON/);
  expect(svc.stdout.some((l) => /\d+ built-in rule pack\(s\) checked, 2 refused/.test(l))).toBe(true);

  const key = await svc.issueKey('acme', ['service']);
  const open = (program: string) => svc.request('PUT', `/v1/ledger/accounts/acct-${program}-${newKey().slice(0, 8)}`, { key, body: { program, currency: 'EUR', cycleAnchorDay: 1 } });
  const bad = await open('issuer-b@1.0.1');
  expect(bad.status).toBe(422);
  expect(bad.body.code).toBe('REWARD_PROGRAM_INVALID');
  expect((await open('issuer-b@1.0.0')).status).toBe(201);
});

it('lists the built-in packs without a file that does not read as one, and no tenant can take its name@version', async () => {
  const author = await svc.issueKey('acme', ['author']);
  const list = await svc.request('GET', '/v1/rule-packs?limit=500', { key: author });
  expect(list.status).toBe(200);
  const refs = list.body.items.map((p: { name: string; version: string }) => `${p.name}@${p.version}`);
  expect(refs).toEqual(expect.arrayContaining(['issuer-b@1.0.0', 'issuer-b@1.0.1', 'refund-policy@1.0.0']));
  expect(refs).not.toContain('issuer-b@1.0.2');
  const pack = await readPack('issuer-b');
  const upload = await svc.request('POST', '/v1/rule-packs', { key: author, idempotencyKey: newKey('up'), body: { ...pack, version: '1.0.2' } });
  expect(upload.status).toBe(409);
  expect(upload.body.code).toBe('RULE_PACK_VERSION_EXISTS');
  // Another version is the tenant's to publish.
  expect((await svc.request('POST', '/v1/rule-packs', { key: author, idempotencyKey: newKey('up'), body: { ...pack, version: '1.0.3' } })).status).toBe(201);
});
