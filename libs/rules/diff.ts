/** What changed between two versions of a pack: rules, parameters, parameter tables and the fact schema, for review before release. */
import type { RulePack } from './types.js';

/** Equality of JSON values: key order and object prototypes do not matter. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameJson(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  // Own keys only: a table entry may be named __proto__, which `b[k]` would read as b's prototype.
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export interface ValueChange {
  name: string;
  from: unknown;
  to: unknown;
}

export interface RuleChange {
  name: string;
  /** Which parts of the rule differ: `conditions`, `event`, `priority`, `description`. */
  fields: string[];
}

export interface SchemaChange {
  /** JSON pointer of the sub-schema inside factSchema, e.g. `/properties/order/properties/items`. */
  path: string;
  /** The sub-schema's own keywords (nested sub-schemas left out) before and after. */
  from: Record<string, unknown>;
  to: Record<string, unknown>;
}

export interface PackDiff {
  from: string;
  to: string;
  /** Top-level fields other than rules, parameters, parameter tables, factSchema and tests whose value differs (`kind`, `description`). */
  header: ValueChange[];
  rules: { added: string[]; removed: string[]; changed: RuleChange[]; reordered: boolean };
  parameters: { added: ValueChange[]; removed: ValueChange[]; changed: ValueChange[] };
  /** Parameter tables, whole: a changed entry, key or default shows the table before and after. */
  parameterTables: { added: ValueChange[]; removed: ValueChange[]; changed: ValueChange[] };
  factSchema: { added: string[]; removed: string[]; changed: SchemaChange[] };
  /** `changed`: cases of the same name whose facts or expectations differ; `defaultsChanged`: tests.defaults differ. */
  tests: { from: number; to: number; added: string[]; removed: string[]; changed: string[]; defaultsChanged: boolean };
  /** True when nothing but the version differs. */
  same: boolean;
}

const RULE_FIELDS = ['conditions', 'event', 'priority', 'description'] as const;
/** Keywords whose values are sub-schemas (walked separately) rather than constraints of this schema. */
const SUBSCHEMA_MAPS = ['properties', '$defs', 'patternProperties'] as const;
const SUBSCHEMA_SINGLE = ['items', 'additionalProperties', 'not', 'contains', 'propertyNames'] as const;
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;

const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Every sub-schema reachable from `schema`, by JSON pointer, with its own keywords only. */
function flatten(schema: unknown, path = '', out = new Map<string, Record<string, unknown>>()): Map<string, Record<string, unknown>> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    out.set(path || '/', { schema });
    return out;
  }
  const s = schema as Record<string, unknown>;
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if ((SUBSCHEMA_MAPS as readonly string[]).includes(k) && typeof v === 'object' && v !== null) {
      for (const [name, sub] of Object.entries(v as Record<string, unknown>)) flatten(sub, `${path}/${k}/${esc(name)}`, out);
    } else if ((SUBSCHEMA_SINGLE as readonly string[]).includes(k) && typeof v === 'object' && v !== null) {
      flatten(v, `${path}/${k}`, out);
    } else if ((SUBSCHEMA_LISTS as readonly string[]).includes(k) && Array.isArray(v)) {
      v.forEach((sub, i) => flatten(sub, `${path}/${k}/${i}`, out));
    } else {
      own[k] = v;
    }
  }
  out.set(path || '/', own);
  return out;
}

function diffMaps<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>): { added: string[]; removed: string[]; common: string[] } {
  return {
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    common: [...a.keys()].filter((k) => b.has(k)),
  };
}

/** Named values added, removed and changed (compared as JSON). */
function diffValues(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): PackDiff['parameters'] {
  const [mapA, mapB] = [new Map(Object.entries(a)), new Map(Object.entries(b))];
  const d = diffMaps(mapA, mapB);
  return {
    added: d.added.map((name) => ({ name, from: undefined, to: mapB.get(name) })),
    removed: d.removed.map((name) => ({ name, from: mapA.get(name), to: undefined })),
    changed: d.common.filter((k) => !sameJson(mapA.get(k), mapB.get(k))).map((name) => ({ name, from: mapA.get(name), to: mapB.get(name) })),
  };
}

export function diffPacks(a: RulePack, b: RulePack): PackDiff {
  const header: ValueChange[] = [];
  for (const field of ['name', 'kind', 'description'] as const) {
    if (!sameJson(a[field], b[field])) header.push({ name: field, from: a[field], to: b[field] });
  }

  const rulesA = new Map(a.rules.map((r) => [r.name, r]));
  const rulesB = new Map(b.rules.map((r) => [r.name, r]));
  const r = diffMaps(rulesA, rulesB);
  const changedRules: RuleChange[] = [];
  for (const name of r.common) {
    const [ra, rb] = [rulesA.get(name)!, rulesB.get(name)!];
    const fields = RULE_FIELDS.filter((f) => !sameJson(ra[f], rb[f]));
    if (fields.length) changedRules.push({ name, fields });
  }
  const commonOrderA = a.rules.map((x) => x.name).filter((n) => rulesB.has(n));
  const commonOrderB = b.rules.map((x) => x.name).filter((n) => rulesA.has(n));

  const p = diffValues(a.parameters, b.parameters);
  const t = diffValues(a.parameterTables ?? {}, b.parameterTables ?? {});

  const schemaA = flatten(a.factSchema);
  const schemaB = flatten(b.factSchema);
  const s = diffMaps(schemaA, schemaB);
  const changedSchema = s.common.filter((k) => !sameJson(schemaA.get(k), schemaB.get(k))).map((k) => ({ path: k, from: schemaA.get(k)!, to: schemaB.get(k)! }));

  const testsA = a.tests.cases.map((c) => c.name);
  const testsB = b.tests.cases.map((c) => c.name);

  const diff: PackDiff = {
    from: `${a.name}@${a.version}`,
    to: `${b.name}@${b.version}`,
    header,
    rules: { added: r.added, removed: r.removed, changed: changedRules, reordered: !sameJson(commonOrderA, commonOrderB) },
    parameters: p,
    parameterTables: t,
    factSchema: { added: s.added, removed: s.removed, changed: changedSchema },
    tests: {
      from: testsA.length,
      to: testsB.length,
      added: testsB.filter((n) => !testsA.includes(n)),
      removed: testsA.filter((n) => !testsB.includes(n)),
      changed: a.tests.cases.filter((c) => {
        const other = b.tests.cases.find((x) => x.name === c.name);
        return other !== undefined && !sameJson(c, other);
      }).map((c) => c.name),
      defaultsChanged: !sameJson(a.tests.defaults, b.tests.defaults),
    },
    same: false,
  };
  diff.same =
    header.length === 0 &&
    r.added.length + r.removed.length + changedRules.length === 0 &&
    !diff.rules.reordered &&
    p.added.length + p.removed.length + p.changed.length === 0 &&
    t.added.length + t.removed.length + t.changed.length === 0 &&
    s.added.length + s.removed.length + changedSchema.length === 0 &&
    diff.tests.added.length + diff.tests.removed.length + diff.tests.changed.length === 0 &&
    !diff.tests.defaultsChanged;
  return diff;
}
