/** The simple JSONPath subset packs may use (`$.a.b`, `$.a[0]`): parsing, display and resolution. */

export type PathSegment = string | number;

// Same pattern as #/$defs/jsonPath in rule-pack.schema.json.
const SIMPLE_PATH = /^\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:0|[1-9][0-9]*)\])+$/;
const SEGMENT = /\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]/g;

/** Segments of a simple path, or undefined when the path uses any other JSONPath syntax. */
export function parseSimplePath(path: string): PathSegment[] | undefined {
  if (!SIMPLE_PATH.test(path)) return undefined;
  const segments: PathSegment[] = [];
  for (const match of path.matchAll(SEGMENT)) {
    segments.push(match[1] ?? Number(match[2]));
  }
  return segments;
}

/** `order.items[0].sku`, for messages. */
export function displayPath(fact: string, segments: readonly PathSegment[]): string {
  let out = fact;
  for (const segment of segments) out += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
  return out;
}

/**
 * Walks pre-parsed segments. Own properties only, so `$.constructor` cannot reach prototypes;
 * a missing step yields undefined (which no operator treats as a match, except notEqual/notIn).
 */
export function resolveSegments(value: unknown, segments: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}

/** RFC 6901 pointers are built in one place (libs/names). */
export { pointer } from '../names/index.js';
