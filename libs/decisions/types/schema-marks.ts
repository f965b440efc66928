/**
 * Marks an input schema puts on a case field (`x-pii`, `x-canonical`): where they are, read the one way the platform
 * applies them, through `properties`, `items`, `prefixItems` and the alternatives of `allOf`/`anyOf`/`oneOf` (not
 * through `$ref`, `additionalProperties`, `patternProperties`, `if`/`then`/`else`: a mark there would be ignored, so a
 * type holding one is refused, see unreachableMarks).
 */

/** One marked field: where (pointer tokens, `*` for every element of an array) and the mark's value. */
export interface MarkedField {
  path: readonly string[];
  value: string;
  /** Where the mark is in the schema (`/properties/ip`), and the subschema holding it. */
  at: string;
  node: Readonly<Record<string, unknown>>;
}

/** The `*` of a marked field's path: every element of an array. */
export const ANY_ELEMENT_TOKEN = '*';

const escape = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');

/** Every field the schema marks with `keyword`; a marked field's own subschema is not looked into. */
export function markedFields(schema: unknown, keyword: string): MarkedField[] {
  const out: MarkedField[] = [];
  walkReachable(schema, [], '', keyword, (path, at, value, node) => out.push({ path, value, at, node }));
  return out;
}

/** Schema locations (`/properties/a/items`) of `keyword` marks that markedFields does not reach. */
export function unreachableMarks(schema: unknown, keyword: string): string[] {
  const all: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${at}/${i}`));
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === keyword) all.push(at);
      else walk(v, `${at}/${escape(k)}`);
    }
  };
  walk(schema, '');
  const reached = new Set<string>();
  walkReachable(schema, [], '', keyword, (_path, at) => reached.add(at));
  return all.filter((p) => !reached.has(p));
}

type Found = (path: string[], at: string, value: string, node: Record<string, unknown>) => void;

function walkReachable(node: unknown, path: string[], at: string, keyword: string, found: Found): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const s = node as Record<string, unknown>;
  if (typeof s[keyword] === 'string') return found(path, at, s[keyword], s);
  if (s.properties && typeof s.properties === 'object') {
    for (const [k, v] of Object.entries(s.properties as Record<string, unknown>)) walkReachable(v, [...path, k], `${at}/properties/${escape(k)}`, keyword, found);
  }
  if (s.items) walkReachable(s.items, [...path, ANY_ELEMENT_TOKEN], `${at}/items`, keyword, found);
  if (Array.isArray(s.prefixItems)) s.prefixItems.forEach((v, i) => walkReachable(v, [...path, String(i)], `${at}/prefixItems/${i}`, keyword, found));
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) (s[k] as unknown[]).forEach((v, i) => walkReachable(v, path, `${at}/${k}/${i}`, keyword, found));
  }
}
