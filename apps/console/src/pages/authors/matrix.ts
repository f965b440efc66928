/** The transition matrix (from outcome → to outcome, with counts) of a simulation or shadow summary. */

export interface Matrix {
  outcomes: string[];
  /** counts[from][to] */
  counts: Record<string, Record<string, number>>;
  max: number;
  total: number;
  changed: number;
}

/**
 * From `{"APPROVE->REVIEW": 3, …}`. Outcomes are ordered as `order` lists them (a type's declared outcomes), then
 * any other seen, alphabetically; `unchanged` adds the diagonal when the summary gives only changes.
 */
export function buildMatrix(transitions: Record<string, number>, order: string[] = [], unchanged?: Record<string, number>): Matrix {
  const counts: Record<string, Record<string, number>> = {};
  const seen = new Set<string>();
  const add = (from: string, to: string, n: number) => {
    seen.add(from);
    seen.add(to);
    (counts[from] ??= {})[to] = ((counts[from] ?? {})[to] ?? 0) + n;
  };
  for (const [k, n] of Object.entries(transitions)) {
    const [from, to] = k.split('->');
    if (from && to) add(from, to, n);
  }
  for (const [o, n] of Object.entries(unchanged ?? {})) if (!counts[o]?.[o]) add(o, o, n);
  const outcomes = [...order.filter((o) => seen.has(o)), ...[...seen].filter((o) => !order.includes(o)).sort()];
  let max = 0;
  let total = 0;
  let changed = 0;
  for (const from of outcomes)
    for (const to of outcomes) {
      const n = counts[from]?.[to] ?? 0;
      max = Math.max(max, n);
      total += n;
      if (from !== to) changed += n;
    }
  return { outcomes, counts, max, total, changed };
}

/** Cell shade 0..1 by log scale (one big diagonal must not wash out the changes). */
export const shade = (n: number, max: number): number => (n <= 0 || max <= 0 ? 0 : Math.log1p(n) / Math.log1p(max));
