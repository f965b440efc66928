/** builtinPackProblems: the repository's packs pass what an upload must; each that does not is named with its first problem. */
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FileComponentSource } from './file-component-source.js';
import { builtinPackProblems } from './release-checks.js';

const repo = resolve(import.meta.dirname, '../..');

describe('builtinPackProblems', () => {
  let root: string;
  const issuerA = async () => JSON.parse(await readFile(join(repo, 'rule-packs', 'issuer-a', '1.0.0.json'), 'utf8')) as Record<string, any>;
  const put = async (dir: string, version: string, pack: unknown) => {
    await mkdir(join(root, 'rule-packs', dir), { recursive: true });
    await writeFile(join(root, 'rule-packs', dir, `${version}.json`), JSON.stringify(pack));
  };
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'builtin-packs-'));
    await cp(join(repo, 'rule-packs'), join(root, 'rule-packs'), { recursive: true });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("passes the repository's own packs, every one of them", async () => {
    const files = new FileComponentSource(repo);
    const { checked, problems } = await builtinPackProblems(files);
    expect(problems).toEqual([]);
    expect(checked).toBe((await files.packFiles()).length);
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('names a reward program whose parameters the ledger cannot use, a pack named unlike its file and a failing case, naming each file', async () => {
    const a = await issuerA();
    await put('issuer-a', '1.0.1', { ...a, version: '1.0.1', parameters: { ...a.parameters, graceDays: 1.5 } });
    await put('issuer-a', '1.0.2', { ...a, version: '1.0.3' });
    const refund = JSON.parse(await readFile(join(repo, 'rule-packs', 'refund-policy', '1.0.0.json'), 'utf8')) as Record<string, any>;
    const failing = structuredClone(refund);
    failing.version = '1.0.9';
    failing.tests.cases[2].expect = { events: [] }; // 30 days and a second after delivery: the window's rule fires
    await put('refund-policy', '1.0.9', failing);
    // Not a pack file (no semantic version): not read, not refused.
    await writeFile(join(root, 'rule-packs', 'issuer-a', 'notes.json'), '{}');
    const { checked, problems } = await builtinPackProblems(new FileComponentSource(root));
    expect(checked).toBe((await new FileComponentSource(repo).packFiles()).length + 3);
    expect(problems).toHaveLength(3);
    expect(problems).toEqual([
      expect.stringMatching(/^rule-packs\/issuer-a\/1\.0\.1\.json: REWARD_PROGRAM_INVALID at \/parameters\/graceDays: /),
      'rule-packs/issuer-a/1.0.2.json: names itself issuer-a@1.0.3',
      expect.stringMatching(/^rule-packs\/refund-policy\/1\.0\.9\.json: RULE_PACK_TESTS_FAILED at \/tests\/cases\/2: /),
    ]);
  });

  it('names what cannot be read (a folder where a file should be, JSON that is no object) and goes on; a stray file beside the pack folders is no pack', async () => {
    await writeFile(join(root, 'rule-packs', 'notes'), 'not a folder');
    await mkdir(join(root, 'rule-packs', 'issuer-a', '1.0.5.json'), { recursive: true });
    await put('nothing', '1.0.0', null);
    const { checked, problems } = await builtinPackProblems(new FileComponentSource(root));
    expect(problems).toEqual([
      expect.stringMatching(/^rule-packs\/issuer-a\/1\.0\.5\.json: EISDIR/),
      expect.stringMatching(/^rule-packs\/nothing\/1\.0\.0\.json: RULE_PACK_INVALID at \/: /),
    ]);
    // The stray file beside the pack folders is no pack: not counted, not named.
    expect(checked).toBe((await new FileComponentSource(repo).packFiles()).length + 2);
  });

  it('names a file that is not JSON, and checks the others', async () => {
    await mkdir(join(root, 'rule-packs', 'broken'), { recursive: true });
    await writeFile(join(root, 'rule-packs', 'broken', '1.0.0.json'), '{ not json');
    const { problems } = await builtinPackProblems(new FileComponentSource(root));
    expect(problems).toEqual([expect.stringMatching(/^rule-packs\/broken\/1\.0\.0\.json is not JSON/)]);
  });
});
