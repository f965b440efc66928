/**
 * The reference semantics of a pack: its rules run by json-rules-engine. Production evaluates the compiled closures
 * (compiled-evaluator.ts); this one decides what they must answer (libs/rules/differential.test.ts compares the two)
 * and which error an evaluation that fails ends with.
 */
import { Engine, Fact, Rule, type EngineResult, type RuleProperties, type RuleResult, type TopLevelCondition } from 'json-rules-engine';
import { DomainError } from '../errors/index.js';
import { parseSimplePath, resolveSegments, type PathSegment } from './json-path.js';
import { tableEntry, tableKeyReader, tableOf, tableValue, tableValueFrom, type TableEntry } from './parameter-tables.js';
import { tableTraceBytes, valueBytes, valueFromOf, type PreparedPack, type TraceMeter } from './prepared.js';
import { isFactRef, isParamRef } from './type-check.js';
import type { Condition, ConditionTrace, LeafTrace, PackEvent, PackResult, ParameterTable, RuleTrace } from './types.js';

// Facts are constants of one run: caching them only costs a hash of each fact per run.
const UNCACHED = { cache: false } as const;

/** A condition node as json-rules-engine leaves it on RuleResult.conditions after a run. */
interface EvaluatedCondition {
  all?: EvaluatedCondition[];
  any?: EvaluatedCondition[];
  not?: EvaluatedCondition;
  value?: unknown;
  factResult?: unknown;
  valueResult?: unknown;
  result?: boolean;
}

type TraceBuilder = (
  evaluated: EvaluatedCondition,
  rootResult: boolean | undefined,
  meter: TraceMeter,
  facts: Record<string, unknown>,
) => ConditionTrace;

/** The fact json-rules-engine reads a parameter table's entry from: not an identifier, so never one of factSchema's. */
function tableFactId(param: string): string {
  return `param:${param}`;
}

/**
 * Evaluates the prepared pack with json-rules-engine. A new Engine per run: an Engine keeps its run status on the
 * instance, so a run that finishes marks every overlapping run on the same Engine as finished and they skip their
 * remaining rules. Creating one costs little next to the run itself, and this path is not the hot one.
 */
export function referenceEvaluator(prepared: PreparedPack): (facts: Record<string, unknown>) => Promise<PackResult> {
  const { pack, ref } = prepared;
  // Every path is known now, so the engine looks segments up instead of running a JSONPath engine.
  const paths = new Map<string, PathSegment[]>();
  const addPath = (path: string | undefined): void => {
    if (path !== undefined && !paths.has(path)) paths.set(path, parseSimplePath(path)!);
  };
  const pathResolver = (value: object, path: string): unknown => {
    const segments = paths.get(path);
    if (!segments) throw new Error(`${ref}: path '${path}' was not compiled`);
    return resolveSegments(value, segments);
  };
  const tables = new Map<string, { id: string; table: ParameterTable; readKey: (facts: Record<string, unknown>) => unknown }>();
  const toEngineCondition = (condition: Condition): Record<string, unknown> => {
    const { priority, name } = condition;
    const common = { ...(priority !== undefined && { priority }), ...(name !== undefined && { name }) };
    if ('all' in condition) return { ...common, all: condition.all.map(toEngineCondition) };
    if ('any' in condition) return { ...common, any: condition.any.map(toEngineCondition) };
    if ('not' in condition) return { ...common, not: toEngineCondition(condition.not) };
    addPath(condition.path);
    let value = condition.value;
    if (isParamRef(value)) {
      const table = tableOf(pack, value.param);
      if (table) {
        // The entry depends on the case: a fact of its own, computed from the key before each run.
        if (!tables.has(value.param)) tables.set(value.param, { id: tableFactId(value.param), table, readKey: tableKeyReader(table) });
        value = { fact: tableFactId(value.param) };
      } else value = pack.parameters[value.param];
    } else if (isFactRef(value)) addPath(value.path);
    return {
      ...common,
      fact: condition.fact,
      operator: condition.operator,
      value,
      ...(condition.path !== undefined && { path: condition.path }),
      ...(condition.params !== undefined && { params: condition.params }),
    };
  };
  const rules = prepared.rules.map((rule) => ({
    rule,
    // The engine gets the event type only: it clones the event into every RuleResult of every run,
    // and the params are constants we already hold (frozen).
    properties: {
      name: rule.source.name,
      priority: rule.priority,
      conditions: toEngineCondition(rule.source.conditions) as TopLevelCondition,
      event: { type: rule.event.type },
    } satisfies RuleProperties,
    trace: traceBuilder(rule.source.conditions, (param) => tableOf(pack, param)),
  }));
  const position = new Map(rules.map(({ rule }, i) => [rule.source.name, i]));
  const createEngine = (): Engine => {
    const engine = new Engine([], { allowUndefinedFacts: false, pathResolver });
    for (const { properties } of rules) engine.addRule(new Rule(properties));
    return engine;
  };
  createEngine(); // now, so a problem surfaces at compile time

  const toResult = (run: EngineResult, facts: Record<string, unknown>): PackResult => {
    const results = new Array<RuleResult | undefined>(rules.length);
    for (const r of run.results) results[position.get(r.name)!] = r;
    for (const r of run.failureResults) results[position.get(r.name)!] = r;
    const events: PackEvent[] = [];
    const trace: RuleTrace[] = [];
    const meter = { bytes: 2 };
    for (let i = 0; i < rules.length; i++) {
      const { rule, trace: build } = rules[i]!;
      const result = results[i];
      if (!result) throw new Error(`${ref}: rule '${rule.source.name}' produced no result`);
      const fired = result.result === true;
      // A fresh params object per fired event: callers may decorate what they receive.
      if (fired) events.push({ rule: rule.source.name, type: rule.event.type, params: { ...rule.event.params } });
      trace.push({
        source: ref,
        rule: rule.source.name,
        fired,
        priority: rule.priority,
        event: rule.event,
        // json-rules-engine never sets `result` on the root block; the rule's result is the root's.
        conditions: build(result.conditions as EvaluatedCondition, fired, meter, facts),
      });
      meter.bytes += rule.traceBytes;
    }
    return { events, trace, traceBytes: meter.bytes };
  };

  return async (facts) => {
    // Only the facts rules read. An optional fact that is absent becomes undefined, as an absent property on a path
    // does, rather than the engine's UndefinedFactError. No prototype: a fact may be named __proto__.
    const runtimeFacts = Object.create(null) as Record<string, Fact>;
    for (const id of prepared.factIds) runtimeFacts[id] = new Fact(id, Object.hasOwn(facts, id) ? facts[id] : undefined, UNCACHED);
    for (const { id, table, readKey } of tables.values()) runtimeFacts[id] = new Fact(id, tableValue(table, readKey(facts)), UNCACHED);
    let run: EngineResult;
    try {
      run = await createEngine().run(runtimeFacts);
    } catch (error) {
      // The pack's defect, not the request's (an operator meeting a value it cannot take, e.g. `in` on a null list): a
      // problem naming the pack, as a policy that cannot answer is, never a 500.
      const message = `${ref}: evaluation failed: ${(error as Error).message}`;
      throw Object.assign(new DomainError('RULE_EVALUATION_FAILED', message, 'unavailable', [{ path: '', message }]), { cause: error });
    }
    return toResult(run, facts);
  };
}

/**
 * Prepares, per condition node, how to read json-rules-engine's evaluated copy of it (same tree,
 * same array order). Leaves always have the same keys, unset ones undefined: one object shape, fast to build.
 */
function traceBuilder(source: Condition, tableOf: (param: string) => ParameterTable | undefined): TraceBuilder {
  if ('all' in source || 'any' in source) {
    const key = 'all' in source ? 'all' : 'any';
    const children = ('all' in source ? source.all : source.any).map((child) => traceBuilder(child, tableOf));
    return (evaluated, rootResult, meter, facts) => {
      const result = rootResult ?? evaluated.result;
      const nodes = evaluated[key]!;
      const trace = children.map((child, i) => child(nodes[i]!, undefined, meter, facts));
      const evaluatedNode = result !== undefined;
      return key === 'all' ? { all: trace, evaluated: evaluatedNode, result } : { any: trace, evaluated: evaluatedNode, result };
    };
  }
  if ('not' in source) {
    const child = traceBuilder(source.not, tableOf);
    return (evaluated, rootResult, meter, facts) => {
      const result = rootResult ?? evaluated.result;
      return { not: child(evaluated.not!, undefined, meter, facts), evaluated: result !== undefined, result };
    };
  }
  const { fact, path, operator } = source;
  const valueFrom = valueFromOf(source.value);
  const valueIsFact = isFactRef(source.value);
  const param = isParamRef(source.value) ? source.value.param : undefined;
  const table = param === undefined ? undefined : tableOf(param);
  const readKey = table ? tableKeyReader(table) : undefined;
  return (evaluated, _root, meter, facts): LeafTrace => {
    const result = evaluated.result;
    const done = result !== undefined;
    let entry: TableEntry | undefined;
    if (done && table) {
      entry = tableEntry(table, readKey!(facts));
      meter.bytes += valueBytes(evaluated.factResult) + tableTraceBytes(evaluated.valueResult, entry.key);
    } else if (done) meter.bytes += valueBytes(evaluated.factResult) + (valueIsFact ? valueBytes(evaluated.valueResult) : 0);
    return {
      fact,
      path,
      operator,
      // Not evaluated: a fact reference or a table has no value yet; a literal or parameter still shows what it would
      // compare with.
      value: done ? evaluated.valueResult : valueIsFact || table ? undefined : evaluated.value,
      valueFrom: entry ? tableValueFrom(param!, entry) : valueFrom,
      factValue: done ? evaluated.factResult : undefined,
      evaluated: done,
      result,
    };
  };
}
