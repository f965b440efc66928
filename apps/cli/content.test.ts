/**
 * `decisions test` on the repository's own content folder: every shipped decision type runs its embedded cases with the
 * components of the newest release that ships it, so an older type is not run with a pack written for its successor.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { contentRoot } from '../../test/support/content-root.js';
import { loadTypeFile, runTypeCases } from './content.js';

const root = resolve(import.meta.dirname, '../..');

it('runs each shipped type version with the release that ships it, and every case passes', async () => {
  const runs: Record<string, unknown> = {};
  for (const name of await readdir(join(root, 'decision-types'))) {
    for (const f of (await readdir(join(root, 'decision-types', name))).filter((x) => x.endsWith('.json'))) {
      const run = await runTypeCases(await loadTypeFile(join(root, 'decision-types', name, f)));
      runs[`${name}@${f.replace(/\.json$/, '')}`] = run.ran ? run.failures : run.note;
    }
  }
  // giftcard-redemption@1.0.0 with default@1.4.0's giftcard-redemption-policy@1.0.0, not 1.1.0 (which reads a feature 1.0.0 does not count).
  expect(runs).toEqual(Object.fromEntries(Object.keys(runs).map((k) => [k, []])));
  expect(Object.keys(runs).length).toBeGreaterThanOrEqual(10);
  const old = await runTypeCases(await loadTypeFile(join(root, 'decision-types/giftcard-redemption/1.0.0.json')));
  expect(old).toMatchObject({ ran: true, components: { 'giftcard-redemption': '1.0.0', 'giftcard-redemption-policy': '1.0.0' } });
}, 120_000);

it('passes over release files it cannot use, and a release the folder cannot serve, newest first', async () => {
  const root = await contentRoot();
  try {
    const dir = join(root.dir, 'releases', 'acme');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '9.0.0.json'), 'null');
    await writeFile(join(dir, '9.1.0.json'), JSON.stringify({ name: 'acme', version: '9.1.0', components: { 'giftcard-redemption': '1.0.0', 'giftcard-redemption-policy': 7 } }));
    // Newest of all, naming the type, but a pack version the folder does not hold: passed over.
    await writeFile(join(dir, '9.2.0.json'), JSON.stringify({ name: 'acme', version: '9.2.0', components: { 'giftcard-redemption': '1.0.0', 'giftcard-redemption-policy': '99.0.0' } }));
    const run = await runTypeCases(await loadTypeFile(join(root.dir, 'decision-types/giftcard-redemption/1.0.0.json')));
    expect(run).toMatchObject({ ran: true, failures: [], components: { 'giftcard-redemption-policy': '1.0.0' } });
  } finally {
    await root.remove();
  }
}, 120_000);
