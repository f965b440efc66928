/** Line diffs of two JSON documents and parameter tables, for the release diff and the activation confirmation. */

export type DiffLine = { kind: 'same' | 'add' | 'del'; text: string };

/** Longest-common-subsequence line diff (documents of a few hundred lines: O(n·m) is fine). */
export function lineDiff(a: string[], b: string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ kind: 'del', text: a[i++]! });
    else out.push({ kind: 'add', text: b[j++]! });
  }
  while (i < n) out.push({ kind: 'del', text: a[i++]! });
  while (j < m) out.push({ kind: 'add', text: b[j++]! });
  return out;
}

/** Pretty JSON with sorted keys, so two versions line up by key rather than by insertion order. */
export function prettyLines(v: unknown): string[] {
  const sort = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(sort) : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])])) : x;
  return JSON.stringify(sort(v), null, 2).split('\n');
}

export interface ParamChange {
  name: string;
  before: unknown;
  after: unknown;
  change: 'added' | 'removed' | 'changed' | 'same';
}

export function paramDiff(a: Record<string, unknown> = {}, b: Record<string, unknown> = {}): ParamChange[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.map((name) => {
    const before = a[name];
    const after = b[name];
    const change = !(name in a) ? 'added' : !(name in b) ? 'removed' : JSON.stringify(before) === JSON.stringify(after) ? 'same' : 'changed';
    return { name, before, after, change };
  });
}

export interface ComponentChange {
  name: string;
  before?: string;
  after?: string;
}

/** Components whose version differs between two releases (added and removed ones included). */
export function componentChanges(a: Record<string, string>, b: Record<string, string>): ComponentChange[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .filter((n) => a[n] !== b[n])
    .map((name) => ({ name, before: a[name], after: b[name] }));
}

/** `name@version` → parts; undefined when it is not one. */
export function parseRef(ref: string | null | undefined): { name: string; version: string } | undefined {
  const m = /^([a-z0-9]+(?:-[a-z0-9]+)*)@(\S+)$/.exec(ref ?? '');
  return m ? { name: m[1]!, version: m[2]! } : undefined;
}
