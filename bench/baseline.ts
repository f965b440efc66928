/**
 * BENCH_BASELINE=<git revision>: that revision's tree, built in a temporary directory, so one bench run can measure the
 * working tree against it on the same machine in the same time window (bench/compare.ts, the HTTP comparison in run.ts).
 *
 * The tree comes from `git archive` (the committed files, nothing else), its `node_modules` is a symlink to this one's,
 * and it is built with its own `npm run build`. Sharing node_modules is only sound when both revisions declare the
 * same dependencies, so a revision whose package.json dependencies differ is refused (use two worktrees then, see
 * docs/benchmarks.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Baseline {
  /** The revision as given. */
  rev: string;
  /** The full commit id it names. */
  commit: string;
  /** The built tree (with a trailing slash, like the bench's own root). */
  root: string;
  /** Removes the temporary directory. */
  remove(): void;
}

const git = (root: string, ...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function dependencies(pkg: string): Record<string, string> {
  return (JSON.parse(pkg) as { dependencies?: Record<string, string> }).dependencies ?? {};
}

/** The baseline can share this tree's node_modules when each of its dependencies is here at the same version (it may have fewer). */
function sharesNodeModules(ours: Record<string, string>, theirs: Record<string, string>): boolean {
  return Object.entries(theirs).every(([name, version]) => ours[name] === version);
}

export function prepareBaseline(root: string, rev: string, log: (line: string) => void): Baseline {
  const commit = git(root, 'rev-parse', '--verify', `${rev}^{commit}`);
  const ours = readFileSync(join(root, 'package.json'), 'utf8');
  const theirs = git(root, 'show', `${commit}:package.json`);
  if (!sharesNodeModules(dependencies(ours), dependencies(theirs))) {
    throw new Error(
      `BENCH_BASELINE=${rev}: ${commit.slice(0, 12)} declares a dependency this tree lacks or has at another version, so it cannot share node_modules; ` +
        'compare with two worktrees instead (docs/benchmarks.md, "Comparing with an earlier commit")',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), `dp-bench-baseline-${commit.slice(0, 8)}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const tar = join(dir, '.source.tar');
    git(root, 'archive', '--format=tar', '-o', tar, commit);
    execFileSync('tar', ['-xf', tar, '-C', dir]);
    rmSync(tar);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    log(`Baseline ${rev} (${commit.slice(0, 12)}): building it in ${dir}`);
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    remove();
    throw e;
  }
  return { rev, commit, root: `${dir}/`, remove };
}
