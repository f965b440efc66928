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

export type Rgb = readonly [number, number, number];
export const BLUE: Rgb = [11, 87, 208];
export const ORANGE: Rgb = [196, 62, 0];
export const DARK = '#1b1f24';
const DARK_RGB: Rgb = [0x1b, 0x1f, 0x24];
const WHITE_RGB: Rgb = [255, 255, 255];

/** WCAG relative luminance and contrast ratio. */
function luminance([r, g, b]: Rgb): number {
  const c = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
}
export function contrast(a: Rgb, b: Rgb): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

/**
 * A cell's opaque background (`base` at an opacity growing with the shade `s`, over white) and the text colour with
 * the better contrast on it. Where neither reaches 4.5:1 (mid shades of orange), the cell is made darker until white
 * text does: the shade is a hint, the count must stay readable.
 */
export function cellColors(base: Rgb, s: number): { background: string; text: string; ratio: number } {
  for (let alpha = 0.12 + 0.78 * s; ; alpha = Math.min(1, alpha + 0.02)) {
    const bg = base.map((v) => Math.round(alpha * v + (1 - alpha) * 255)) as unknown as Rgb;
    const [onDark, onWhite] = [contrast(bg, DARK_RGB), contrast(bg, WHITE_RGB)];
    const background = `rgb(${bg.join(', ')})`;
    if (onDark >= 4.5 && onDark >= onWhite) return { background, text: DARK, ratio: onDark };
    if (onWhite >= 4.5 || alpha >= 1) return { background, text: '#ffffff', ratio: onWhite };
  }
}
