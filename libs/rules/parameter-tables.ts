/**
 * Parameter tables: a parameter whose value depends on the case (an amount in each currency's minor units, a limit per
 * channel), looked up by a key fact when a condition is evaluated. Both evaluators and the type check read tables
 * through here, so a table answers the same everywhere.
 */
import { parseSimplePath, resolveSegments } from './json-path.js';
import type { LeafTrace, ParameterTable, RulePack } from './types.js';

/** The table a `{"param": name}` names, if `name` is a table's rather than a plain parameter's. */
export function tableOf(pack: RulePack, name: string): ParameterTable | undefined {
  const tables = pack.parameterTables;
  return tables !== undefined && Object.hasOwn(tables, name) ? tables[name] : undefined;
}

export interface TableEntry {
  value: unknown;
  /** The key looked up; null when the key fact's value was not a string (absent, say). */
  key: string | null;
  /** False: the table has no entry for the key, and `value` is its default. */
  matched: boolean;
}

/** The entry for a key fact's value: only a string the table lists picks an entry (no coercion), anything else the default. */
export function tableEntry(table: ParameterTable, keyValue: unknown): TableEntry {
  if (typeof keyValue !== 'string') return { value: table.default, key: null, matched: false };
  if (Object.hasOwn(table.values, keyValue)) return { value: table.values[keyValue], key: keyValue, matched: true };
  return { value: table.default, key: keyValue, matched: false };
}

/** tableEntry's value alone, without the entry object: what an evaluation compares with (the trace asks for the rest). */
export function tableValue(table: ParameterTable, keyValue: unknown): unknown {
  return typeof keyValue === 'string' && Object.hasOwn(table.values, keyValue) ? table.values[keyValue] : table.default;
}

/**
 * Reads a table's key from the facts as a condition reads its fact (json-rules-engine's Almanac: a path is only walked
 * on an object; on anything else it gives the fact itself).
 */
export function tableKeyReader(table: ParameterTable): (facts: Record<string, unknown>) => unknown {
  const { fact, path } = table.key;
  const segments = path === undefined ? undefined : parseSimplePath(path)!;
  return (facts) => {
    const value = Object.hasOwn(facts, fact) ? facts[fact] : undefined;
    if (segments === undefined) return value;
    return value != null && typeof value === 'object' ? resolveSegments(value, segments) : value;
  };
}

/** What an evaluated leaf's trace says its value came from: the table, the key, and whether the default answered. */
export function tableValueFrom(param: string, entry: TableEntry): NonNullable<LeafTrace['valueFrom']> {
  return entry.matched ? { param, key: entry.key } : { param, key: entry.key, default: true };
}
