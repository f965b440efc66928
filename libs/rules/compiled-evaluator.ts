/**
 * A pack's conditions compiled to synchronous closures over pre-resolved paths and parameters, answering exactly what
 * json-rules-engine answers (reference-evaluator.ts; libs/rules/differential.test.ts holds them to it): the same leaves
 * evaluated, the same results, events and trace. No promise, no clone, no event emitter per run.
 *
 * json-rules-engine's semantics, as this mirrors them:
 * - a block with one child is that child; with more, its children are grouped by condition priority (a condition's
 *   own `priority`, else 1), the groups run highest first, and every condition of a group runs (Promise.all) before
 *   `all` stops at a group with a false condition and `any` at a group with a true one;
 * - a leaf reads its fact and its value (a literal, the substituted parameter, a parameter table's entry for the case,
 *   which json-rules-engine reads as a fact of its own, or another fact), a path on a fact
 *   that is not an object giving the fact itself; condition `params` and `name` change nothing for constant facts;
 * - the operators are json-rules-engine's defaults below, with their type checks and JavaScript's coercions.
 */
import { parseSimplePath, resolveSegments, type PathSegment } from './json-path.js';
import { tableEntry, tableOf, tableValue, tableValueFrom } from './parameter-tables.js';
import { tableTraceBytes, valueBytes, valueFromOf, type PreparedPack, type TraceMeter } from './prepared.js';
import { isFactRef, isParamRef } from './type-check.js';
import type { Condition, ConditionTrace, LeafTrace, Operator, PackEvent, PackResult, RuleTrace } from './types.js';

/** The state of one evaluation: fact values by index, then per condition node its result and a leaf's operands. */
interface Run {
  readonly values: unknown[];
  /** 0: not evaluated, 1: false, 2: true. */
  readonly results: Uint8Array;
  readonly factValues: unknown[];
  readonly compared: unknown[];
}

type Evaluate = (run: Run) => boolean;
type Trace = (run: Run, meter: TraceMeter) => ConditionTrace;

interface CompiledNode {
  evaluate: Evaluate;
  trace: Trace;
  /** What json-rules-engine groups the node by inside its block (Rule#prioritizeConditions). */
  priority: number;
}

/** Thrown where only json-rules-engine knows the answer (a fact that is a function is a dynamic fact to it). */
export class NeedsReference extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NeedsReference';
  }
}

// json-rules-engine's default operators (engine-default-operators.js) and their fact value checks (Operator#evaluate).
function numberValidator(factValue: unknown): boolean {
  // A number parses back to itself (or to NaN): the same answer without the string round trip.
  if (typeof factValue === 'number') return factValue === factValue;
  return Number.parseFloat(factValue as string).toString() !== 'NaN';
}
const OPERATORS: Readonly<Record<Operator, (a: unknown, b: unknown) => boolean>> = {
  equal: (a, b) => a === b,
  notEqual: (a, b) => a !== b,
  in: (a, b) => (b as unknown[]).indexOf(a) > -1,
  notIn: (a, b) => (b as unknown[]).indexOf(a) === -1,
  contains: (a, b) => Array.isArray(a) && a.indexOf(b) > -1,
  doesNotContain: (a, b) => Array.isArray(a) && a.indexOf(b) === -1,
  lessThan: (a, b) => numberValidator(a) && (a as number) < (b as number),
  lessThanInclusive: (a, b) => numberValidator(a) && (a as number) <= (b as number),
  greaterThan: (a, b) => numberValidator(a) && (a as number) > (b as number),
  greaterThanInclusive: (a, b) => numberValidator(a) && (a as number) >= (b as number),
};

/** json-rules-engine reads priorities with parseInt (Condition, Rule#prioritizeConditions): 1 when that is not positive. */
function priorityOf(priority: number | undefined): number {
  return Number.parseInt(priority as unknown as string, 10) || 1;
}

/**
 * Compiles a prepared pack.
 * @returns a synchronous evaluation of facts (already validated); it throws where json-rules-engine would reject (an
 *   operator failing on a value) or NeedsReference, and the caller then asks the reference which error that is.
 */
export function compiledEvaluator(prepared: PreparedPack): (facts: Record<string, unknown>, traced?: boolean) => PackResult {
  const { pack, ref, factIds } = prepared;
  const factIndex = new Map(factIds.map((id, i) => [id, i]));
  let nodes = 0;

  const reader = (fact: string, path: string | undefined): ((run: Run) => unknown) => {
    const index = factIndex.get(fact)!;
    if (path === undefined) return (run) => run.values[index];
    const segments: PathSegment[] = parseSimplePath(path)!;
    return (run) => {
      const value = run.values[index];
      // Almanac#factValue: only an object is walked; anything else is the value the path is taken of.
      return value != null && typeof value === 'object' ? resolveSegments(value, segments) : value;
    };
  };

  const compile = (condition: Condition): CompiledNode => {
    const index = nodes++;
    const priority = priorityOf(condition.priority);
    if ('all' in condition || 'any' in condition) {
      const isAll = 'all' in condition;
      const children = (isAll ? condition.all : condition.any).map(compile);
      const inner = children.length === 1 ? children[0]!.evaluate : isAll ? allOf(groups(children)) : anyOf(groups(children));
      const childTraces = children.map((c) => c.trace);
      return {
        priority,
        evaluate: (run) => {
          const result = inner(run);
          run.results[index] = result ? 2 : 1;
          return result;
        },
        trace: (run, meter) => {
          const state = run.results[index]!;
          const trace = childTraces.map((t) => t(run, meter));
          const result = state === 0 ? undefined : state === 2;
          return isAll ? { all: trace, evaluated: state !== 0, result } : { any: trace, evaluated: state !== 0, result };
        },
      };
    }
    if ('not' in condition) {
      const child = compile(condition.not);
      const inner = child.evaluate;
      const childTrace = child.trace;
      return {
        priority,
        evaluate: (run) => {
          const result = !inner(run);
          run.results[index] = result ? 2 : 1;
          return result;
        },
        trace: (run, meter) => {
          const state = run.results[index]!;
          return { not: childTrace(run, meter), evaluated: state !== 0, result: state === 0 ? undefined : state === 2 };
        },
      };
    }
    const { fact, path, operator } = condition;
    const op = OPERATORS[operator];
    if (!op) throw new Error(`${ref}: operator '${operator}' has no compiled form`);
    const readFact = reader(fact, path);
    const valueFrom = valueFromOf(condition.value);
    const valueIsFact = isFactRef(condition.value);
    const param = isParamRef(condition.value) ? condition.value.param : undefined;
    const table = param === undefined ? undefined : tableOf(pack, param);
    const literal = table || valueIsFact ? undefined : param !== undefined ? pack.parameters[param] : condition.value;
    // json-rules-engine takes any object with an own `fact` for a reference (Almanac#getValue); the type check refuses
    // object literals and parameters, so this only guards that assumption.
    if (!valueIsFact && typeof literal === 'object' && literal !== null && Object.hasOwn(literal, 'fact')) {
      throw new Error(`${ref}: a literal value with a 'fact' property has no compiled form`);
    }
    const readKey = table ? reader(table.key.fact, table.key.path) : undefined;
    const readValue = valueIsFact
      ? reader((condition.value as { fact: string }).fact, (condition.value as { path?: string }).path)
      : table
        ? (run: Run) => tableValue(table, readKey!(run))
        : undefined;
    return {
      priority,
      evaluate: readValue
        ? (run) => {
            const a = readFact(run);
            const b = readValue(run);
            const result = op(a, b);
            run.factValues[index] = a;
            run.compared[index] = b;
            run.results[index] = result ? 2 : 1;
            return result;
          }
        : (run) => {
            const a = readFact(run);
            const result = op(a, literal);
            run.factValues[index] = a;
            run.results[index] = result ? 2 : 1;
            return result;
          },
      trace: (run, meter): LeafTrace => {
        const state = run.results[index]!;
        if (state === 0) {
          // Not evaluated: a fact reference has no value yet; a literal or parameter still shows what it would compare with.
          return { fact, path, operator, value: literal, valueFrom, factValue: undefined, evaluated: false, result: undefined };
        }
        const factValue = run.factValues[index];
        const value = readValue ? run.compared[index] : literal;
        if (table) {
          // The key is read again rather than kept per run: only traces pay for it.
          const entry = tableEntry(table, readKey!(run));
          meter.bytes += valueBytes(factValue) + tableTraceBytes(value, entry.key);
          return { fact, path, operator, value, valueFrom: tableValueFrom(param!, entry), factValue, evaluated: true, result: state === 2 };
        }
        meter.bytes += valueBytes(factValue) + (valueIsFact ? valueBytes(value) : 0);
        return { fact, path, operator, value, valueFrom, factValue, evaluated: true, result: state === 2 };
      },
    };
  };

  const rules = prepared.rules.map((rule) => ({ rule, root: compile(rule.source.conditions) }));
  const size = nodes;

  return (facts, traced = true) => {
    const values = new Array<unknown>(factIds.length);
    for (let i = 0; i < factIds.length; i++) {
      const id = factIds[i]!;
      const value = Object.hasOwn(facts, id) ? facts[id] : undefined;
      if (typeof value === 'function') throw new NeedsReference(`fact '${id}' is a function`);
      values[i] = value;
    }
    const run: Run = { values, results: new Uint8Array(size), factValues: new Array<unknown>(size), compared: new Array<unknown>(size) };
    const fired = new Array<boolean>(rules.length);
    for (let i = 0; i < rules.length; i++) fired[i] = rules[i]!.root.evaluate(run);

    const events: PackEvent[] = [];
    const trace: RuleTrace[] = [];
    const meter = { bytes: 2 };
    for (let i = 0; i < rules.length; i++) {
      const { rule, root } = rules[i]!;
      // A fresh params object per fired event: callers may decorate what they receive.
      if (fired[i]) events.push({ rule: rule.source.name, type: rule.event.type, params: { ...rule.event.params } });
      if (!traced) continue;
      trace.push({ source: ref, rule: rule.source.name, fired: fired[i]!, priority: rule.priority, event: rule.event, conditions: root.trace(run, meter) });
      meter.bytes += rule.traceBytes;
    }
    return { events, trace, traceBytes: meter.bytes };
  };
}

/** Children grouped by priority, highest first, pack order within a group. */
function groups(children: CompiledNode[]): Evaluate[][] {
  const priorities = [...new Set(children.map((c) => c.priority))].sort((a, b) => b - a);
  return priorities.map((p) => children.filter((c) => c.priority === p).map((c) => c.evaluate));
}

function allOf(sets: Evaluate[][]): Evaluate {
  return (run) => {
    for (const set of sets) {
      let holds = true;
      for (const child of set) if (!child(run)) holds = false;
      if (!holds) return false;
    }
    return true;
  };
}

function anyOf(sets: Evaluate[][]): Evaluate {
  return (run) => {
    for (const set of sets) {
      let holds = false;
      for (const child of set) if (child(run)) holds = true;
      if (holds) return true;
    }
    return false;
  };
}
