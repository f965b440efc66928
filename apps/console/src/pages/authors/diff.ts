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
    // Compared with sorted keys: a pack read back from the store may list an object's keys in another order.
    const change = !Object.hasOwn(a, name) ? 'added' : !Object.hasOwn(b, name) ? 'removed' : sortedJson(before) === sortedJson(after) ? 'same' : 'changed';
    return { name, before, after, change };
  });
}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

/**
 * A pack's parameters and its parameter tables as rows of one diff: a table as a row per entry (`name[JPY]`) and for
 * its key, default and description, so a changed rate in a table of 58 currencies reads as that rate.
 */
export function parameterRows(pack: { parameters?: Record<string, unknown>; parameterTables?: Record<string, unknown> } | undefined): Record<string, unknown> | undefined {
  if (!pack) return undefined;
  const rows: Record<string, unknown> = { ...pack.parameters };
  for (const [name, t] of Object.entries(pack.parameterTables ?? {})) {
    const table = t as { description?: string; key?: unknown; values?: Record<string, unknown>; default?: unknown };
    rows[`${name} (key)`] = table.key;
    rows[`${name} (default)`] = table.default;
    if (table.description !== undefined) rows[`${name} (description)`] = table.description;
    for (const [entry, value] of Object.entries(table.values ?? {})) rows[`${name}[${entry}]`] = value;
  }
  return rows;
}

/** Rows in reading order: each table's rows together, after its name (`amountCap` not between `amount (key)` and `amount[JPY]`). */
export function groupTableRows(rows: ParamChange[], tables: readonly string[]): ParamChange[] {
  const group = (name: string): [string, number] => {
    const table = tables.find((t) => name.startsWith(`${t}[`) || name.startsWith(`${t} (`));
    return table === undefined ? [name, 0] : [table, 1];
  };
  return [...rows].sort((a, b) => {
    const [ga, ka] = group(a.name);
    const [gb, kb] = group(b.name);
    if (ga !== gb) return ga < gb ? -1 : 1;
    if (ka !== kb) return ka - kb;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** A row of a table's entry that did not change: left out of the diff, where 58 unchanged currencies would bury one change. */
export function isQuietTableRow(p: ParamChange, tables: readonly string[]): boolean {
  return p.change === 'same' && tables.some((t) => p.name.startsWith(`${t}[`) || p.name === `${t} (description)`);
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
