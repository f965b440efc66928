/** What both evaluators of a pack share: rules in evaluation order, their events, and the trace-size accounting. */
import { approxJsonBytes, jsonStringLength } from './limits.js';
import { tableOf } from './parameter-tables.js';
import { isFactRef, isParamRef } from './type-check.js';
import type { Condition, LeafTrace, PackRule, RulePack } from './types.js';

const EMPTY_PARAMS: Record<string, unknown> = Object.freeze({});

export interface PreparedRule {
  source: PackRule;
  priority: number;
  /** Shared by every trace of this rule (its params are the frozen pack's). */
  event: { type: string; params: Record<string, unknown> };
  /** About the JSON size of this rule's trace without its fact values (known once compiled). */
  traceBytes: number;
}

export interface PreparedPack {
  /** The validated, deep-frozen pack. */
  pack: RulePack;
  /** `name@version`. */
  ref: string;
  /** Evaluation order, which is also the order of events and trace: priority desc, then pack order. */
  rules: PreparedRule[];
  /** Every fact a condition reads, as its fact, as the fact its value refers to, or as the key of a table it compares with. */
  factIds: string[];
}

/** Adds to `bytes` what a trace holds besides its rule's static part: the values only known at run time. */
export interface TraceMeter {
  bytes: number;
}

export function preparePack(pack: RulePack): PreparedPack {
  const ref = `${pack.name}@${pack.version}`;
  const facts = new Set<string>();
  const collect = (condition: Condition): void => {
    if ('all' in condition) condition.all.forEach(collect);
    else if ('any' in condition) condition.any.forEach(collect);
    else if ('not' in condition) collect(condition.not);
    else {
      facts.add(condition.fact);
      if (isFactRef(condition.value)) facts.add(condition.value.fact);
      else if (isParamRef(condition.value)) {
        const table = tableOf(pack, condition.value.param);
        if (table) facts.add(table.key.fact);
      }
    }
  };
  const rules = pack.rules
    .map((rule, index) => ({ rule, index, priority: rule.priority ?? 1 }))
    .sort((a, b) => b.priority - a.priority || a.index - b.index)
    .map(({ rule, priority }): PreparedRule => {
      collect(rule.conditions);
      return {
        source: rule,
        priority,
        event: { type: rule.event.type, params: rule.event.params ?? EMPTY_PARAMS },
        traceBytes: ref.length + rule.name.length + 64 + approxJsonBytes(rule.event, Infinity) + staticTraceBytes(rule.conditions, pack),
      };
    });
  return { pack, ref, rules, factIds: [...facts] };
}

/** Where a leaf's compared value came from, for its trace: frozen, shared by every trace of the leaf. */
export function valueFromOf(value: unknown): LeafTrace['valueFrom'] {
  if (isParamRef(value)) return Object.freeze({ param: value.param });
  if (isFactRef(value)) return Object.freeze({ fact: value.fact, path: value.path });
  return undefined;
}

/** Past this, a value's exact size no longer matters: any trace holding it is over every limit. */
const MEASURED_UP_TO = 16 * 1024 * 1024;

/** A value's JSON size, without a walk for the primitives that nearly every fact value is. */
export function valueBytes(value: unknown): number {
  if (typeof value === 'string') return jsonStringLength(value);
  if (typeof value !== 'object' || value === null) return 8;
  return approxJsonBytes(value, MEASURED_UP_TO);
}

/**
 * About the JSON size of a condition's trace, fact values aside: keys, names, and the values compared with (literals,
 * parameters). A table's entry and key are only known at run time: the evaluators count them then.
 */
function staticTraceBytes(source: Condition, pack: RulePack): number {
  if ('all' in source || 'any' in source) {
    let bytes = 40;
    for (const child of 'all' in source ? source.all : source.any) bytes += staticTraceBytes(child, pack) + 1;
    return bytes;
  }
  if ('not' in source) return 40 + staticTraceBytes(source.not, pack);
  let value: unknown;
  if (isParamRef(source.value)) value = tableOf(pack, source.value.param) ? undefined : pack.parameters[source.value.param];
  else if (!isFactRef(source.value)) value = source.value;
  return 96 + source.fact.length + (source.path?.length ?? 0) + source.operator.length + approxJsonBytes(source.value, Infinity) + valueBytes(value);
}

/** What an evaluated table leaf adds to its trace: the entry and the key (and `default`), counted at run time. */
export function tableTraceBytes(value: unknown, key: string | null): number {
  return valueBytes(value) + (key === null ? 4 : valueBytes(key)) + 32;
}
