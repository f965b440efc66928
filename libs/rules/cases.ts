/** Embedded test-case semantics: facts deep-merged over defaults, and expected events matched as a set. */
import type { ExpectedEvent, PackEvent } from './types.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `patch` deep-merged over `base`: objects merge key by key; arrays, scalars and null replace. Neither input is modified. */
export function mergeFacts(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const merged = Object.hasOwn(base, key) ? mergeFacts(base[key], value) : value;
    // defineProperty, not assignment: a "__proto__" key from JSON must stay data, not become the prototype.
    Object.defineProperty(out, key, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** Every expected param is present in `actual` with a deep-equal value. */
export function paramsContain(actual: Record<string, unknown> | undefined, expected: Record<string, unknown> | undefined): boolean {
  if (!expected) return true;
  return Object.entries(expected).every(([k, v]) => actual !== undefined && Object.hasOwn(actual, k) && deepEqual(actual[k], v));
}

export function eventMatches(expected: ExpectedEvent, actual: { type: string; params?: Record<string, unknown> }): boolean {
  return expected.type === actual.type && paramsContain(actual.params, expected.params);
}

/**
 * Compares expected and fired events as a set with exact count (a maximum bipartite matching, so
 * a loose expectation cannot steal the only event a stricter one matches). Returns why they differ, or undefined.
 */
export function compareEvents(expected: readonly ExpectedEvent[], actual: readonly PackEvent[]): string | undefined {
  const matchOfActual = new Array<number>(actual.length).fill(-1);
  const tryAssign = (e: number, seen: boolean[]): boolean => {
    for (let a = 0; a < actual.length; a++) {
      if (seen[a] || !eventMatches(expected[e]!, actual[a]!)) continue;
      seen[a] = true;
      if (matchOfActual[a] === -1 || tryAssign(matchOfActual[a]!, seen)) {
        matchOfActual[a] = e;
        return true;
      }
    }
    return false;
  };
  const missing = expected.filter((_, e) => !tryAssign(e, new Array<boolean>(actual.length).fill(false)));
  const unexpected = actual.filter((_, a) => matchOfActual[a] === -1);
  if (missing.length === 0 && unexpected.length === 0) return undefined;
  const lines = [
    `expected ${expected.length} event(s), got ${actual.length}`,
    `  expected:   ${expected.map(formatExpected).join(', ') || '(none)'}`,
    `  actual:     ${actual.map(formatActual).join(', ') || '(none)'}`,
  ];
  if (missing.length > 0) lines.push(`  missing:    ${missing.map(formatExpected).join(', ')}`);
  if (unexpected.length > 0) lines.push(`  unexpected: ${unexpected.map(formatActual).join(', ')}`);
  return lines.join('\n');
}

function formatExpected(event: ExpectedEvent): string {
  return event.params ? `${event.type} ${JSON.stringify(event.params)}` : event.type;
}

function formatActual(event: PackEvent): string {
  const code = typeof event.params.code === 'string' ? ` ${event.params.code}` : '';
  return `${event.type}${code} (rule ${event.rule})`;
}
