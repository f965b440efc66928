/** FileComponentSource.newestRelease: the release the service serves is the highest semantic version of its name. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileComponentSource } from './file-component-source.js';

describe('FileComponentSource.newestRelease', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'releases-'));
    const put = async (dir: string, name: string, version: string) => {
      await mkdir(join(root, 'releases', dir), { recursive: true });
      await writeFile(join(root, 'releases', dir, `${version}.json`), JSON.stringify({ name, version, components: {} }));
    };
    // 1.10.0 sorts before 1.9.0 as text; another name's higher version is not this name's.
    for (const v of ['1.2.0', '1.9.0', '1.10.0', '1.10.0-rc.1']) await put('default', 'default', v);
    await put('other', 'other', '9.0.0');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('answers the highest version of the name, by semantic version, not by text', async () => {
    const files = new FileComponentSource(root);
    expect((await files.newestRelease('default'))?.version).toBe('1.10.0');
    expect((await files.newestRelease('other'))?.version).toBe('9.0.0');
    expect(await files.newestRelease('missing')).toBeUndefined();
  });
});
