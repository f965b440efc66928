/** compilePack: prepare a validated pack once (parameters substituted, paths parsed, Engines pooled), evaluate it many times. */
import { Engine, Fact, Rule, type EngineResult, type RuleProperties, type RuleResult, type TopLevelCondition } from 'json-rules-engine';
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { parseSimplePath, resolveSegments, type PathSegment } from './json-path.js';
import { approxJsonBytes, jsonStringLength } from './limits.js';
import { ajvErrorsToDetails } from './schema.js';
import { isFactRef, isParamRef } from './type-check.js';
import type {
  CompileOptions,
  CompiledPack,
  Condition,
  ConditionTrace,
  LeafTrace,
  PackEvent,
  PackResult,
  PackRule,
  RulePack,
  RuleTrace,
} from './types.js';
import { validatedFactValidator, validatePack } from './validate.js';

const DEFAULT_MAX_IDLE_ENGINES = 32;
// Facts are constants of one run: caching them only costs a hash of each fact per run (~30% of engine time).
const UNCACHED = { cache: false } as const;
const EMPTY_PARAMS: Record<string, unknown> = Object.freeze({});

/**
 * Engines of one compiled pack. A json-rules-engine Engine keeps its run status on the instance,
 * so a run that finishes marks every overlapping run on the same Engine as finished and they skip
 * their remaining rules; hence one Engine per in-flight evaluation.
 */
export class EnginePool {
  private readonly idle: Engine[] = [];

  constructor(
    private readonly create: () => Engine,
    private readonly maxIdle: number,
  ) {}

  acquire(): Engine {
    return this.idle.pop() ?? this.create();
  }

  release(engine: Engine): void {
    // Bounded: a burst of concurrency should not pin that many Engines forever.
    if (this.idle.length < this.maxIdle) this.idle.push(engine);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

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

interface PreparedRule {
  source: PackRule;
  priority: number;
  properties: RuleProperties;
  /** Frozen; shared by every trace of this rule. */
  event: { type: string; params: Record<string, unknown> };
  trace: TraceBuilder;
  /** About the JSON size of this rule's trace without its fact values (known once compiled). */
  traceBytes: number;
}

/**
 * Compiles a pack (validating it first unless it came from validatePack).
 * @throws DomainError RULE_PACK_INVALID when the pack is not valid.
 */
export function compilePack(input: RulePack, options: CompileOptions = {}): CompiledPack {
  let pack = input;
  let factValidator = validatedFactValidator(pack);
  if (!factValidator) {
    pack = validatePack(input);
    factValidator = validatedFactValidator(pack)!;
  }
  const ref = `${pack.name}@${pack.version}`;

  // Every path is known now, so the hot path looks segments up instead of running a JSONPath engine.
  const paths = new Map<string, PathSegment[]>();
  const addPath = (path: string | undefined): void => {
    if (path !== undefined && !paths.has(path)) paths.set(path, parseSimplePath(path)!);
  };
  const pathResolver = (value: object, path: string): unknown => {
    const segments = paths.get(path);
    if (!segments) throw new Error(`${ref}: path '${path}' was not compiled`);
    return resolveSegments(value, segments);
  };

  const referencedFacts = new Set<string>();
  const toEngineCondition = (condition: Condition): Record<string, unknown> => {
    const { priority, name } = condition;
    const common = { ...(priority !== undefined && { priority }), ...(name !== undefined && { name }) };
    if ('all' in condition) return { ...common, all: condition.all.map(toEngineCondition) };
    if ('any' in condition) return { ...common, any: condition.any.map(toEngineCondition) };
    if ('not' in condition) return { ...common, not: toEngineCondition(condition.not) };
    addPath(condition.path);
    referencedFacts.add(condition.fact);
    let value = condition.value;
    if (isParamRef(value)) value = pack.parameters[value.param];
    else if (isFactRef(value)) {
      addPath(value.path);
      referencedFacts.add(value.fact);
    }
    return {
      ...common,
      fact: condition.fact,
      operator: condition.operator,
      value,
      ...(condition.path !== undefined && { path: condition.path }),
      ...(condition.params !== undefined && { params: condition.params }),
    };
  };

  // Evaluation order, which is also the order of events and trace: priority desc, then pack order.
  const prepared: PreparedRule[] = pack.rules
    .map((rule, index) => ({ rule, index, priority: rule.priority ?? 1 }))
    .sort((a, b) => b.priority - a.priority || a.index - b.index)
    .map(({ rule, priority }) => ({
      source: rule,
      priority,
      // The engine gets the event type only: it clones the event into every RuleResult of every run,
      // and the params are constants we already hold (frozen).
      properties: {
        name: rule.name,
        priority,
        conditions: toEngineCondition(rule.conditions) as TopLevelCondition,
        event: { type: rule.event.type },
      },
      event: { type: rule.event.type, params: rule.event.params ?? EMPTY_PARAMS },
      trace: traceBuilder(rule.conditions),
      traceBytes: ref.length + rule.name.length + 64 + approxJsonBytes(rule.event, Infinity) + staticTraceBytes(rule.conditions, pack.parameters),
    }));
  const factIds = [...referencedFacts];
  const position = new Map(prepared.map((rule, i) => [rule.source.name, i]));

  // Rules are built per Engine (only when the pool grows, never per evaluation): Rule#setEngine
  // ties a Rule to one Engine, so sharing Rule objects would couple Engines behind our back.
  const createEngine = (): Engine => {
    const engine = new Engine([], { allowUndefinedFacts: false, pathResolver });
    for (const rule of prepared) engine.addRule(new Rule(rule.properties));
    return engine;
  };
  const pool = new EnginePool(createEngine, Math.max(0, options.maxIdleEngines ?? DEFAULT_MAX_IDLE_ENGINES));
  pool.release(createEngine()); // build one now, so a problem surfaces at compile time

  const validate = factValidator;
  const validateFacts = (facts: unknown): ErrorDetail[] => (validate(facts) ? [] : ajvErrorsToDetails(validate.errors));

  const toResult = (run: EngineResult): PackResult => {
    const results = new Array<RuleResult | undefined>(prepared.length);
    for (const r of run.results) results[position.get(r.name)!] = r;
    for (const r of run.failureResults) results[position.get(r.name)!] = r;
    const events: PackEvent[] = [];
    const trace: RuleTrace[] = [];
    const meter = { bytes: 2 };
    for (let i = 0; i < prepared.length; i++) {
      const rule = prepared[i]!;
      const result = results[i];
      if (!result) throw new Error(`${ref}: rule '${rule.source.name}' produced no result (an Engine served overlapping runs?)`);
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
        conditions: rule.trace(result.conditions as EvaluatedCondition, fired, meter),
      });
      meter.bytes += rule.traceBytes;
    }
    return { events, trace, traceBytes: meter.bytes };
  };

  return {
    name: pack.name,
    version: pack.version,
    kind: pack.kind,
    ref,
    parameters: pack.parameters,
    pack,
    validateFacts,
    async evaluate(facts: Record<string, unknown>): Promise<PackResult> {
      // The type check at load time is only sound for facts of the declared shape.
      const errors = validateFacts(facts);
      if (errors.length > 0) {
        const first = `${errors[0]!.path || '/'}: ${errors[0]!.message}`;
        throw new DomainError('RULE_FACTS_INVALID', `facts do not match the fact schema of ${ref}: ${first}`, 'invalid', errors);
      }
      // Only the facts rules read. An optional fact that is absent becomes undefined, as an absent
      // property on a path does, rather than the engine's UndefinedFactError.
      const runtimeFacts: Record<string, Fact> = {};
      for (const id of factIds) runtimeFacts[id] = new Fact(id, Object.hasOwn(facts, id) ? facts[id] : undefined, UNCACHED);
      const engine = pool.acquire();
      let run: EngineResult;
      try {
        run = await engine.run(runtimeFacts);
      } catch (error) {
        // Not released: after a rejection the Engine may still be settling later rule sets.
        throw new Error(`${ref}: evaluation failed: ${(error as Error).message}`, { cause: error });
      }
      pool.release(engine);
      return toResult(run);
    },
  };
}

/** Adds to `bytes` what a trace holds besides its rule's static part: the values only known at run time. */
interface TraceMeter {
  bytes: number;
}

type TraceBuilder = (evaluated: EvaluatedCondition, rootResult: boolean | undefined, meter: TraceMeter) => ConditionTrace;

/** Past this, a value's exact size no longer matters: any trace holding it is over every limit. */
const MEASURED_UP_TO = 16 * 1024 * 1024;

/** A value's JSON size, without a walk for the primitives that nearly every fact value is. */
function valueBytes(value: unknown): number {
  if (typeof value === 'string') return jsonStringLength(value);
  if (typeof value !== 'object' || value === null) return 8;
  return approxJsonBytes(value, MEASURED_UP_TO);
}

/** About the JSON size of a condition's trace, fact values aside: keys, names, and the values compared with (literals, parameters). */
function staticTraceBytes(source: Condition, parameters: Readonly<Record<string, unknown>>): number {
  if ('all' in source || 'any' in source) {
    let bytes = 40;
    for (const child of 'all' in source ? source.all : source.any) bytes += staticTraceBytes(child, parameters) + 1;
    return bytes;
  }
  if ('not' in source) return 40 + staticTraceBytes(source.not, parameters);
  const value = isParamRef(source.value) ? parameters[source.value.param] : isFactRef(source.value) ? undefined : source.value;
  return 96 + source.fact.length + (source.path?.length ?? 0) + source.operator.length + approxJsonBytes(source.value, Infinity) + valueBytes(value);
}

/**
 * Prepares, per condition node, how to read json-rules-engine's evaluated copy of it (same tree,
 * same array order). Leaves always have the same keys, unset ones undefined: one object shape, fast to build.
 */
function traceBuilder(source: Condition): TraceBuilder {
  if ('all' in source || 'any' in source) {
    const key = 'all' in source ? 'all' : 'any';
    const children = ('all' in source ? source.all : source.any).map(traceBuilder);
    return (evaluated, rootResult, meter) => {
      const result = rootResult ?? evaluated.result;
      const nodes = evaluated[key]!;
      const trace = children.map((child, i) => child(nodes[i]!, undefined, meter));
      const evaluatedNode = result !== undefined;
      return key === 'all' ? { all: trace, evaluated: evaluatedNode, result } : { any: trace, evaluated: evaluatedNode, result };
    };
  }
  if ('not' in source) {
    const child = traceBuilder(source.not);
    return (evaluated, rootResult, meter) => {
      const result = rootResult ?? evaluated.result;
      return { not: child(evaluated.not!, undefined, meter), evaluated: result !== undefined, result };
    };
  }
  const { fact, path, operator } = source;
  const valueFrom: LeafTrace['valueFrom'] = isParamRef(source.value)
    ? Object.freeze({ param: source.value.param })
    : isFactRef(source.value)
      ? Object.freeze({ fact: source.value.fact, path: source.value.path })
      : undefined;
  const valueIsFact = isFactRef(source.value);
  return (evaluated, _root, meter): LeafTrace => {
    const result = evaluated.result;
    const done = result !== undefined;
    if (done) meter.bytes += valueBytes(evaluated.factResult) + (valueIsFact ? valueBytes(evaluated.valueResult) : 0);
    return {
      fact,
      path,
      operator,
      // Not evaluated: a fact reference has no value yet; a literal or parameter still shows what it would compare with.
      value: done ? evaluated.valueResult : valueIsFact ? undefined : evaluated.value,
      valueFrom,
      factValue: done ? evaluated.factResult : undefined,
      evaluated: done,
      result,
    };
  };
}
