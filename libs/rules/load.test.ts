/** Loading packs from files and rule-packs directories. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainError } from '../errors/index.js';
import { fixturePack, type Json } from './fixtures.test-support.js';
import { loadPackDirectory, loadPackFile, loadPackSchema } from './index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rule-packs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(relative: string, content: Json | string): Promise<string> {
  const file = join(dir, relative);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('loadPackFile', () => {
  it('loads and validates a pack', async () => {
    const file = await put('fixture-pack/1.2.3.json', fixturePack());
    expect((await loadPackFile(file)).name).toBe('fixture-pack');
  });

  it('names the file in the summary and in every error', async () => {
    const pack = fixturePack();
    pack.rules[0].conditions.all[0].fact = 'amont';
    const file = await put('fixture-pack/1.2.3.json', pack);
    const error = await failure(loadPackFile(file));
    expect(error.code).toBe('RULE_PACK_INVALID');
    expect(error.message.startsWith(`${file}: rule pack fixture-pack@1.2.3 is invalid`)).toBe(true);
    expect(error.errors).toEqual([
      { path: '/rules/0/conditions/all/0/fact', message: expect.stringMatching(new RegExp(`^${file}: rule 'big-amount': fact 'amont'`)) as string, rule: 'big-amount' },
    ]);
  });

  it('refuses a file that is not JSON', async () => {
    const file = await put('x/1.0.0.json', '{ "name": ');
    const error = await failure(loadPackFile(file));
    expect(error.code).toBe('RULE_PACK_INVALID');
    expect(error.message).toMatch(new RegExp(`^${file}: not valid JSON`));
  });

  it('reports a missing file as not found', async () => {
    const error = await failure(loadPackFile(join(dir, 'nope.json')));
    expect(error).toMatchObject({ code: 'RULE_PACK_NOT_FOUND', kind: 'not_found' });
  });
});

describe('loadPackDirectory', () => {
  it('loads every <name>/<version>.json, sorted by file', async () => {
    const v2 = { ...fixturePack(), version: '2.0.0' };
    await put('fixture-pack/2.0.0.json', v2);
    await put('fixture-pack/1.2.3.json', fixturePack());
    await put('README.md', 'not a pack');
    await put('fixture-pack/notes.txt', 'ignored');
    const loaded = await loadPackDirectory(dir);
    expect(loaded.map((l) => [l.file, `${l.pack.name}@${l.pack.version}`])).toEqual([
      [join(dir, 'fixture-pack/1.2.3.json'), 'fixture-pack@1.2.3'],
      [join(dir, 'fixture-pack/2.0.0.json'), 'fixture-pack@2.0.0'],
    ]);
  });

  it('reports the errors of every bad file together, including a file in the wrong place', async () => {
    const broken = fixturePack();
    broken.rules[0].conditions.all[0].value = { param: 'nope' };
    await put('fixture-pack/1.2.3.json', broken);
    await put('other-name/1.2.3.json', fixturePack());
    await put('fixture-pack/9.9.9.json', fixturePack());
    await put('ok/1.0.0.json', '[');
    const error = await failure(loadPackDirectory(dir));
    expect(error.code).toBe('RULE_PACK_INVALID');
    expect(error.message).toMatch(/^4 of 4 rule pack file\(s\) under .* are invalid/);
    expect(error.errors.map((e) => [e.path, e.message.split(': ')[0]])).toEqual([
      ['/rules/0/conditions/all/0/value/param', join(dir, 'fixture-pack/1.2.3.json')],
      ['/version', join(dir, 'fixture-pack/9.9.9.json')],
      ['', join(dir, 'ok/1.0.0.json')],
      ['/name', join(dir, 'other-name/1.2.3.json')],
    ]);
  });

  it('reports a missing directory as not found', async () => {
    const error = await failure(loadPackDirectory(join(dir, 'missing')));
    expect(error.code).toBe('RULE_PACK_NOT_FOUND');
  });

  it("loads the repository's rule-packs", async () => {
    const loaded = await loadPackDirectory(fileURLToPath(new URL('../../rule-packs', import.meta.url)));
    expect(loaded.map((l) => `${l.pack.name}@${l.pack.version}`)).toContain('refund-policy@1.0.0');
  });
});

describe('rule-pack.schema.json', () => {
  it('is a JSON Schema 2020-12 document with descriptions', () => {
    const schema = loadPackSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(typeof schema.description).toBe('string');
  });
});
