/**
 * The built-in derivations a decision type may declare (decision-type.schema.json#/$defs/derivation): small, pure,
 * total functions of the facts, so derived facts are data and no decision type needs TypeScript of its own.
 */
import { parsePointer } from '../../names/index.js';
import type { PathSegment } from '../../rules/json-path.js';
import type { Derivation, Predicate } from './decision-type.js';

const MS_PER_DAY = 86_400_000; // a unit conversion, not a policy number


export type Getter = (value: unknown) => unknown;

/** A compiled pointer: own properties only, a missing step is undefined. */
export function getter(pointer: string): Getter {
  const segments: PathSegment[] = parsePointer(pointer);
  if (segments.length === 0) return (v) => v;
  // Composed once per pointer, so a read is a chain of property lookups with no loop over segments.
  const step = (key: PathSegment): Getter => (v) =>
    v !== null && typeof v === 'object' && Object.hasOwn(v, key) ? (v as Record<PathSegment, unknown>)[key] : undefined;
  return segments.map(step).reduce((inner, outer) => (v) => {
    const x = inner(v);
    return x === undefined ? undefined : outer(x);
  });
}

/** Deep equality of JSON values (predicates compare with literals from the document). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export type Test = (value: unknown) => boolean;

export function compilePredicate(p: Predicate): Test {
  const get = getter(p.path);
  if ('equals' in p) return (v) => jsonEqual(get(v), p.equals);
  if ('notEquals' in p) return (v) => !jsonEqual(get(v), p.notEquals);
  if (p.in) {
    const list = p.in;
    return (v) => {
      const x = get(v);
      return list.some((y) => jsonEqual(x, y));
    };
  }
  const list = p.notIn ?? [];
  return (v) => {
    const x = get(v);
    return !list.some((y) => jsonEqual(x, y));
  };
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const time = (v: unknown): number | null => {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
};

/** The elements of the array at `of` that pass `where` (none when it is not an array). */
function elements(of: Getter, where: Test | undefined): (facts: unknown) => unknown[] {
  return (facts) => {
    const list: unknown = of(facts);
    if (!Array.isArray(list)) return [];
    const items = list as unknown[];
    return where ? items.filter(where) : items;
  };
}

export interface CompiledDerivation {
  compute(facts: unknown): unknown;
  /** The JSON Schema of what it computes, for type-checking the conditions that read it. */
  schema: Record<string, unknown>;
  /** Pointers it reads, for checking them against the facts available. */
  reads: string[];
  /** For aggregates: the array it walks and the pointers it reads in each element (`field`, `where.path`). */
  perElement?: { of: string; reads: string[] };
}

export function compileDerivation(d: Derivation): CompiledDerivation {
  const where = d.where ? compilePredicate(d.where) : undefined;
  if (d.difference) {
    const [a, b] = d.difference.map(getter) as [Getter, Getter];
    return {
      compute: (f) => {
        const x = a(f);
        const y = b(f);
        return isNumber(x) && isNumber(y) ? x - y : null;
      },
      schema: { type: ['number', 'null'] },
      reads: [...d.difference],
    };
  }
  if (d.daysBetween) {
    const from = getter(d.daysBetween.from);
    const to = getter(d.daysBetween.to);
    return {
      compute: (f) => {
        const x = time(from(f));
        const y = time(to(f));
        return x === null || y === null ? null : (y - x) / MS_PER_DAY;
      },
      schema: { type: ['number', 'null'] },
      reads: [d.daysBetween.from, d.daysBetween.to],
    };
  }
  if (d.count !== undefined) {
    const of = getter(d.count);
    const perElement = { of: d.count, reads: d.where ? [d.where.path] : [] };
    // Counted in a loop: no filtered copy of the array per decision.
    const compute = (f: unknown): number => {
      const list: unknown = of(f);
      if (!Array.isArray(list)) return 0;
      if (!where) return list.length;
      let n = 0;
      for (const item of list as unknown[]) if (where(item)) n++;
      return n;
    };
    return { compute, schema: { type: 'integer', minimum: 0 }, reads: [d.count], perElement };
  }
  if (d.present !== undefined) {
    const get = getter(d.present);
    return { compute: (f) => { const v = get(f); return v !== null && v !== undefined; }, schema: { type: 'boolean' }, reads: [d.present] };
  }
  const of = (d.sum ?? d.min ?? d.max)!;
  const items = elements(getter(of), where);
  const field = getter(d.field!);
  const numbers = (f: unknown): number[] => items(f).map(field).filter(isNumber);
  const perElement = { of, reads: [d.field!, ...(d.where ? [d.where.path] : [])] };
  if (d.sum !== undefined) {
    return { compute: (f) => numbers(f).reduce((s, x) => s + x, 0), schema: { type: 'number' }, reads: [of], perElement };
  }
  const smaller = d.min !== undefined;
  return {
    // A loop, not Math.min(...xs): a case may carry more elements than a call has argument slots.
    compute: (f) => {
      let best: number | null = null;
      for (const x of numbers(f)) if (best === null || (smaller ? x < best : x > best)) best = x;
      return best;
    },
    schema: { type: ['number', 'null'] },
    reads: [of],
    perElement,
  };
}
