/**
 * The README and docs/ point only at what the repository holds: every relative link resolves to a file or folder in
 * it (and a `#fragment` to a heading there), and every `docs/examples/…` path the README mentions exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks (a `[x](y)` in a shell example is not a link). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Inline `[text](target)` and reference `[label]: target` links. */
export function links(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const reference = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...reference];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes; repeats get -1, -2, … */
export function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let candidate = slug;
    for (let n = 1; out.has(candidate); n++) candidate = `${slug}-${n}`;
    out.add(candidate);
  }
  return out;
}

const external = /^[a-z][a-z0-9+.-]*:/i;

/** The links of `doc` (a path from the repository root) that lead nowhere in the repository, each with why. */
export function brokenLinks(doc: string, text: string): string[] {
  const broken: string[] = [];
  for (const link of links(text)) {
    if (external.test(link)) continue;
    const [path, fragment] = link.split('#') as [string, string | undefined];
    const target = path ? resolve(root, dirname(doc), decodeURIComponent(path)) : join(root, doc);
    const inside = !relative(root, target).startsWith('..');
    if (!inside || !existsSync(target)) {
      broken.push(`${link}: ${inside ? 'no such file' : 'outside the repository'}`);
      continue;
    }
    const headings = target === join(root, doc) ? anchors(text) : target.endsWith('.md') && statSync(target).isFile() ? anchors(readFileSync(target, 'utf8')) : undefined;
    if (fragment && headings && !headings.has(fragment)) broken.push(`${link}: no heading with that anchor`);
  }
  return broken;
}

describe.each(documents)('%s', (doc) => {
  it('links only to files in the repository, and to headings that exist', () => {
    const text = readFileSync(join(root, doc), 'utf8');
    expect(brokenLinks(doc, text)).toEqual([]);
  });
});

describe('README.md', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it('mentions only docs/examples files that exist', () => {
    const mentioned = [...new Set([...readme.matchAll(/docs\/examples\/[\w./-]*[\w-]/g)].map((m) => m[0]))];
    expect(mentioned.length).toBeGreaterThan(0);
    expect(mentioned.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });

  it('names no path outside the repository (../shared, /work)', () => {
    expect(readme.match(/\.\.\/shared|\/work\/|api-contract\.md/g) ?? []).toEqual([]);
  });
});

describe('the link checker itself', () => {
  it('finds inline and reference links outside code blocks, and GitHub anchors', () => {
    const md = '# A `b` (c → d)\n\n[x](docs/a.md#a-b-c--d) [y](<f.md>)\n\n```sh\n[z](nope.md)\n```\n[r]: ./g.md "t"\n## A `b` (c → d)\n';
    expect(links(md)).toEqual(['docs/a.md#a-b-c--d', 'f.md', './g.md']);
    expect(anchors(md)).toEqual(new Set(['a-b-c--d', 'a-b-c--d-1']));
  });

  it('reports links out of the repository, to missing files and to missing headings', () => {
    const md = '# Top\n[a](../shared/api-contract.md) [b](docs/nope.md) [c](#top) [d](#bottom) [e](docs/benchmarks.md#nowhere) [f](https://example.org/x) [g](docs/examples/)\n';
    expect(brokenLinks('README.md', md)).toEqual([
      '../shared/api-contract.md: outside the repository',
      'docs/nope.md: no such file',
      '#bottom: no heading with that anchor',
      'docs/benchmarks.md#nowhere: no heading with that anchor',
    ]);
    expect(links(readFileSync(join(root, 'README.md'), 'utf8')).length).toBeGreaterThan(5);
  });
});
