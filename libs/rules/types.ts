/** Types of the rule-pack format (mirrors rule-pack.schema.json) and of compiled packs and their results. */
import type { ErrorDetail } from '../errors/index.js';

/** What decision a pack serves: a decision type's rules step names the kind it takes (e.g. refund-policy); reward-program packs define ledger programs. */
export type PackKind = string;

export type Operator =
  | 'equal'
  | 'notEqual'
  | 'lessThan'
  | 'lessThanInclusive'
  | 'greaterThan'
  | 'greaterThanInclusive'
  | 'in'
  | 'notIn'
  | 'contains'
  | 'doesNotContain';

/**
 * `{"param": name}`: replaced by `parameters[name]` when the pack is compiled, or, when `name` is one of
 * `parameterTables`, by that table's entry for the case (looked up at evaluation).
 */
export interface ParamRef {
  param: string;
}

/**
 * A parameter whose value depends on the case: the entry of `values` named by the key fact's value (a string), or
 * `default` when there is none (e.g. an amount in each currency's minor units, keyed by the case's currency).
 */
export interface ParameterTable {
  description?: string;
  key: { fact: string; path?: string };
  values: Record<string, unknown>;
  default: unknown;
}

/** `{"fact": name, "path": "$.x"}`: compare with another fact's value (resolved by json-rules-engine). */
export interface FactRef {
  fact: string;
  path?: string;
}

export interface LeafCondition {
  fact: string;
  path?: string;
  operator: Operator;
  /** A literal, a ParamRef or a FactRef. */
  value: unknown;
  params?: Record<string, unknown>;
  name?: string;
  priority?: number;
}

interface BlockOptions {
  name?: string;
  priority?: number;
}
export interface AllCondition extends BlockOptions {
  all: Condition[];
}
export interface AnyCondition extends BlockOptions {
  any: Condition[];
}
export interface NotCondition extends BlockOptions {
  not: Condition;
}
export type RootCondition = AllCondition | AnyCondition | NotCondition;
export type Condition = RootCondition | LeafCondition;

export interface PackRuleEvent {
  type: string;
  params?: Record<string, unknown>;
}

export interface PackRule {
  name: string;
  priority?: number;
  description?: string;
  conditions: RootCondition;
  event: PackRuleEvent;
}

export interface ExpectedEvent {
  type: string;
  params?: Record<string, unknown>;
}

export interface PackTestCase {
  name: string;
  description?: string;
  facts?: Record<string, unknown>;
  expect: { events: ExpectedEvent[] };
}

/** A rule pack as stored in `rule-packs/<name>/<version>.json`. */
export interface RulePack {
  $schema?: string;
  name: string;
  version: string;
  kind: PackKind;
  description: string;
  factSchema: Record<string, unknown> & { type: 'object'; properties: Record<string, unknown> };
  parameters: Record<string, unknown>;
  /** Parameters looked up by a fact of the case; a name is a parameter's or a table's, never both. */
  parameterTables?: Record<string, ParameterTable>;
  rules: PackRule[];
  tests: { defaults: Record<string, unknown>; cases: PackTestCase[] };
}

/** An event emitted by a fired rule. */
export interface PackEvent {
  rule: string;
  type: string;
  params: Record<string, unknown>;
}

/**
 * Why a leaf condition held or not. `evaluated: false` when short-circuited (factValue/result undefined then).
 * Every key is always present (undefined when not applicable), which keeps building traces cheap; JSON drops them.
 */
export interface LeafTrace {
  fact: string;
  path?: string;
  operator: string;
  /** The compared value after substitution: the parameter's value, or the referenced fact's value. */
  value: unknown;
  /**
   * Where the value came from when it was not a literal. A parameter table's leaf, once evaluated, also names the key
   * it looked up (`null` when the key fact was not a string) and `default: true` when the table had no entry for it.
   */
  valueFrom?: { param: string; key?: string | null; default?: true } | { fact: string; path?: string };
  /** The fact value (after path resolution) the operator saw. */
  factValue?: unknown;
  evaluated: boolean;
  result?: boolean;
}

export type ConditionTrace =
  | { all: ConditionTrace[]; evaluated: boolean; result?: boolean }
  | { any: ConditionTrace[]; evaluated: boolean; result?: boolean }
  | { not: ConditionTrace; evaluated: boolean; result?: boolean }
  | LeafTrace;

export interface RuleTrace {
  /** `name@version` of the pack. */
  source: string;
  rule: string;
  fired: boolean;
  priority: number;
  /** The rule's event whether or not it fired; frozen and shared between traces (PackEvent params are fresh copies). */
  event: { type: string; params: Record<string, unknown> };
  conditions: ConditionTrace;
}

export interface PackResult {
  /** Fired rules' events: highest priority first, pack order within a priority. */
  events: PackEvent[];
  /** Every rule, fired or not, in the same order. */
  trace: RuleTrace[];
  /** About the size of `trace` as JSON, an upper estimate (counted while it was built: measuring it again costs a walk). */
  traceBytes: number;
}

export interface CompiledPack {
  readonly name: string;
  readonly version: string;
  readonly kind: PackKind;
  /** `name@version`. */
  readonly ref: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  /** The validated (deep-frozen) source. */
  readonly pack: RulePack;
  /** Errors of `facts` against factSchema; empty when valid. */
  validateFacts(facts: unknown): ErrorDetail[];
  /** What evaluates the conditions: compiled closures (production), or json-rules-engine (the reference semantics). */
  readonly engine: PackEngine;
  /** Validates the facts (DomainError RULE_FACTS_INVALID otherwise) and runs every rule. Safe to call concurrently. */
  evaluate(facts: Record<string, unknown>): Promise<PackResult>;
  /**
   * evaluate without a promise when it can: the result itself, synchronously, from the compiled engine; a promise
   * only when the evaluation fails (json-rules-engine then decides the error) or the engine is the reference. Facts
   * that do not match factSchema throw RULE_FACTS_INVALID synchronously. `{ trace: false }`: the same events, with no
   * trace built (an empty one, `traceBytes` 2) where the engine can skip it — for callers that read only the events.
   */
  evaluateNow(facts: Record<string, unknown>, o?: EvaluateOptions): PackResult | Promise<PackResult>;
}

export type PackEngine = 'compiled' | 'reference';

export interface EvaluateOptions {
  /** Default true. False: the caller reads only the events (a what-if compares outcomes, not explanations). */
  trace?: boolean;
}

export interface CompileOptions {
  /** Default 'compiled'; 'reference' runs json-rules-engine (for the differential test and comparisons). */
  engine?: PackEngine;
}

export interface PackTestCaseReport {
  name: string;
  passed: boolean;
  expected: ExpectedEvent[];
  actual: PackEvent[];
  /** Why the case failed, readable on its own. */
  message?: string;
}

export interface PackTestReport {
  pack: string;
  passed: number;
  failed: number;
  cases: PackTestCaseReport[];
}

export interface LoadedPack {
  /** The file the pack was read from. */
  file: string;
  pack: RulePack;
}
