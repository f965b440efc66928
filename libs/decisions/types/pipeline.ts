/**
 * A decision type bound to a release: each policy step to the one bundle exposing its entrypoint, each rules step to the
 * one pack of its kind, every pack condition type-checked against the facts the pipeline makes available at that step.
 * Bound once per release, evaluated many times; no TypeScript per type.
 */
import { DomainError, type ErrorDetail } from '../../errors/index.js';
import type { LoadedPolicy } from '../../policies/index.js';
import type { ErrorObject } from 'ajv/dist/2020.js';
import { ajvErrorsToDetails, compileFactSchema, type ValidateFunction } from '../../rules/schema.js';
import { ANY_ELEMENT, deepEqual, mergeFacts, typeCheckRules, undeclaredAt, type CompiledPack, type PackEvent, type PackResult } from '../../rules/index.js';
import { approxJsonBytes } from '../../rules/limits.js';
import { boundTrace, DECISION_LIMITS } from '../limits.js';
import type { Reason, TraceEntry } from '../outcome.js';
import { parsePointer } from '../../names/index.js';
import { compileDerivation, compilePredicate, getter, type CompiledDerivation, type Getter, type Test } from './derivations.js';
import { inputValidatorOf, refundLifecycleInput, type DecisionTypeDocument, type OutputField, type PolicyStep, type TraceSpec } from './decision-type.js';
import { bindReviewPolicy, type ReviewPolicy } from './review.js';
import { BoundFeatures, BoundHistory, FEATURES_FACT, type EntityPointer, type PlatformValues, type StoredFeatures } from './features.js';
import { canonicalFields, canonicalForm, canonicalize, type CanonicalField } from './canonical-forms.js';
import { personalFields, pseudonymize, type PersonalField, type Pseudonymizer } from './personal-data.js';
import { inSpan, type SpanAttributes, type Tracer } from '../../tracing/index.js';

export const DECISION_TYPE_NOT_FOUND = 'DECISION_TYPE_NOT_FOUND';

/** What a type decided: the combined outcome, every reason, the declared output fields (in order) and the full trace. */
export interface TypedDecision {
  outcome: string;
  reasons: Reason[];
  output: Record<string, unknown>;
  trace: TraceEntry[];
  /** The case with what each step added (e.g. `risk`): what a review reads its risk band from. Not stored. */
  facts?: Readonly<Record<string, unknown>>;
  /** The type's feature values as stored with the decision (what a replay re-applies); absent for a type without features. */
  features?: StoredFeatures;
}

/**
 * Where an `enrich` step's values come from: the platform's own history (velocity counters, first-seen dates) rather
 * than the caller. A provider is registered by the platform, not shipped in a release; a type names it and configures
 * it. The values it returns become a fact like a policy's output, and are checked against the schema it declares.
 */
export interface EnrichmentProvider {
  /** The schema of what `enrich` returns for this configuration; a problem with the configuration is thrown as a DomainError. */
  outputSchema(config: Record<string, unknown>): Record<string, unknown>;
  /** The values for one case, computed from the facts made so far (the case, derived facts, earlier outputs). */
  enrich(facts: Readonly<Record<string, unknown>>, config: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The components a type is bound against: a compiled release's packs and bundles by component name. */
export interface ReleaseComponents {
  /** `name@version` of the release, for messages. */
  readonly id: string;
  readonly packs: ReadonlyMap<string, CompiledPack>;
  readonly policies: ReadonlyMap<string, LoadedPolicy>;
  /** The release's decision types by component name: the event sources a feature may count. */
  readonly types?: ReadonlyMap<string, DecisionTypeDocument>;
  /** The platform's enrichment providers by name; none ship yet. */
  readonly enrichment?: ReadonlyMap<string, EnrichmentProvider>;
}

type StepRun = (state: RunState) => Promise<void> | void;

/** A bound step: what it runs, and the span it is traced as (named after its kind; attributes fixed at binding). */
interface BoundStep {
  readonly run: StepRun;
  readonly span: string;
  readonly attributes: SpanAttributes;
}

/** The span of one pipeline step: `decision.step.<kind>` (derive, policy, rules, enrich), and the features' `decision.step.features`. */
export const STEP_SPAN_PREFIX = 'decision.step.';

interface RunState {
  readonly input: Record<string, unknown>;
  readonly facts: Record<string, unknown>;
  readonly reasons: Reason[];
  readonly events: PackEvent[];
  readonly trace: TraceEntry[];
  /** About the JSON size of `trace`, counted as it grows, so a trace within the limit is never walked again. */
  traceBytes: number;
  /** False: no step builds trace entries (DecideOptions.trace). */
  readonly traced: boolean;
}

/** How decideValid runs. */
export interface DecideOptions {
  /**
   * Default true. False: the same outcome, reasons, output, facts and features, with an empty trace: policy steps and
   * compiled packs build none and nothing is measured (the features step's few entries and a reference-engine pack's
   * trace are still made, then dropped). For callers that compare decisions and never show or store their explanation
   * (a what-if).
   */
  trace?: boolean;
}

/** A policy step as bound: what the ledger needs to run the redemption gate itself. */
export interface BoundPolicyStep {
  entrypoint: string;
  policy: LoadedPolicy;
}

export class BoundDecisionType {
  readonly name: string;
  readonly version: string;
  /** `name@version`. */
  readonly ref: string;
  readonly outcomes: readonly string[];
  readonly outputNames: readonly string[];
  readonly callable: boolean;
  readonly caseRef: Getter | undefined;
  /** What each decision records into the platform's history; undefined: nothing. */
  readonly history: BoundHistory | undefined;
  /** What it reads back; undefined: no features. */
  readonly features: BoundFeatures | undefined;
  /** The case fields marked x-pii: pseudonymized or dropped before anything reads the case. */
  readonly personal: readonly PersonalField[];
  /** The case fields marked x-canonical: put in one form before anything else (pseudonymization too) reads them. */
  readonly canonical: readonly CanonicalField[];
  /** What the features step is traced with. */
  private readonly featuresSpan: SpanAttributes;
  /** A refund lifecycle's own needs of a case (REFUND_LIFECYCLE_INPUT), checked beside the input schema. */
  private readonly lifecycleInput: ValidateFunction | undefined;

  constructor(
    readonly document: DecisionTypeDocument,
    private readonly validateInput: ValidateFunction,
    private readonly steps: readonly BoundStep[],
    private readonly outputs: readonly [string, (s: RunState, outcome: string) => unknown][],
    readonly policySteps: readonly BoundPolicyStep[],
    /** Which outcome opens a review item, with the release's numbers for it; undefined: this type is never reviewed. */
    readonly review?: ReviewPolicy,
  ) {
    this.name = document.name;
    this.version = document.version;
    this.ref = `${document.name}@${document.version}`;
    this.outcomes = document.outcomes;
    this.outputNames = outputs.map(([n]) => n);
    this.callable = document.callable !== false;
    this.caseRef = document.caseRef === undefined ? undefined : getter(document.caseRef);
    this.history = document.history ? new BoundHistory(document.history) : undefined;
    this.features = document.features && this.history ? new BoundFeatures(this.history, document.features, parsePointer, document.name) : undefined;
    this.personal = personalFields(document.input);
    this.canonical = canonicalFields(document.input);
    this.featuresSpan = { 'decision.type': this.ref, 'decision.step.kind': 'features', 'decision.features': Object.keys(document.features ?? {}).length };
    this.lifecycleInput = document.lifecycle === 'refund' ? refundLifecycleInput() : undefined;
  }

  /**
   * Input errors as ErrorDetail under `pathPrefix` (e.g. `/case`); empty when the case fits the input schema and, for a
   * type with a refund lifecycle, what the lifecycle needs (a field the input schema already faults is named once, by
   * it). `lifecycle: false` for a stored case: it was decided under the lifecycle's rules of its day.
   */
  inputErrors(input: unknown, pathPrefix = '', lifecycle = true): ErrorDetail[] {
    const significant = (e: ErrorObject) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf';
    const own = this.validateInput(input) ? [] : ajvErrorsToDetails(this.validateInput.errors?.filter(significant), pathPrefix);
    if (!lifecycle || !this.lifecycleInput || this.lifecycleInput(input)) return own;
    // An own error about the case as a whole (minProperties, say) names no field: it hides none of the lifecycle's.
    const faulted = (path: string) => own.some((e) => path === e.path || (e.path !== pathPrefix && (path.startsWith(`${e.path}/`) || e.path.startsWith(`${path}/`))));
    return [...own, ...ajvErrorsToDetails(this.lifecycleInput.errors?.filter(significant), pathPrefix).filter((e) => !faulted(e.path))];
  }

  /**
   * A valid case as the platform sees and keeps it: marked fields in their canonical forms, then personal fields as the
   * tenant's pseudonyms (`hash`) or dropped. The one way in for a decision's case and a what-if's supplied cases.
   */
  prepare(valid: Record<string, unknown>, hash: Pseudonymizer): Record<string, unknown> {
    const canonical = this.canonical.length > 0 ? canonicalize(valid, this.canonical) : valid;
    return this.personal.length > 0 ? pseudonymize(canonical, this.personal, hash) : canonical;
  }

  /**
   * Validates the case (400 VALIDATION_FAILED naming every path under `pathPrefix`), then decides it. `platform`: the
   * feature values the platform counted for it (none given: an empty history). `canonical`: the case is raw, put its
   * marked fields in their canonical forms first (a prepared case has them already, and its pseudonyms must stay as they are).
   */
  async decide(input: unknown, pathPrefix = '/case', platform?: PlatformValues, canonical = false): Promise<TypedDecision> {
    const errors = this.inputErrors(input, pathPrefix);
    if (errors.length > 0) {
      throw new DomainError('VALIDATION_FAILED', `${this.ref} case is invalid: ${errors.length} problem(s)`, 'invalid', errors);
    }
    const valid = input as Record<string, unknown>;
    return this.decideValid(canonical && this.canonical.length > 0 ? canonicalize(valid, this.canonical) : valid, platform);
  }

  /**
   * Decides a case already known to fit the input schema (a stored case being replayed, or one just validated) and
   * already pseudonymized. `platform`: the platform's feature values (counted now, or as a stored decision recorded them).
   * `tracer`: each step is a span (children of the current one); none (tracing off), nothing is traced or called.
   * (Spans are OpenTelemetry's; the decision's own `trace`, its explanation, is `o.trace`.)
   */
  async decideValid(input: Record<string, unknown>, platform: PlatformValues = {}, tracer?: Tracer, o: DecideOptions = {}): Promise<TypedDecision> {
    const traced = o.trace !== false;
    let state: RunState;
    let features: StoredFeatures | undefined;
    if (this.features) {
      const f = this.features;
      const applied = tracer ? inSpan(tracer, `${STEP_SPAN_PREFIX}features`, this.featuresSpan, () => f.apply(input, platform)) : f.apply(input, platform);
      features = applied.stored;
      let bytes = 2;
      if (traced) for (const t of applied.trace) bytes += approxJsonBytes(t, MEASURED_UP_TO) + 1;
      const trace = traced ? applied.trace : [];
      state = { input: applied.input, facts: { ...applied.input, [FEATURES_FACT]: applied.values }, reasons: [], events: [], trace, traceBytes: bytes, traced };
    } else {
      state = { input, facts: { ...input }, reasons: [], events: [], trace: [], traceBytes: 2, traced };
    }
    // Only enrichment (and a failing rules step) is asynchronous: awaiting the others would add a microtask turn each.
    if (tracer) await this.runTraced(state, tracer);
    else {
      for (const step of this.steps) {
        const pending = step.run(state);
        if (pending) await pending;
      }
    }
    const outcome = this.combine(state.reasons);
    const output: Record<string, unknown> = {};
    for (const [name, compute] of this.outputs) output[name] = compute(state, outcome);
    const trace = state.traceBytes <= DECISION_LIMITS.maxTraceBytes ? state.trace : boundTrace(state.trace);
    return { outcome, reasons: state.reasons, output, trace, facts: state.facts, ...(features && { features }) };
  }

  /** The steps, each in a span of its own. */
  private async runTraced(state: RunState, tracer: Tracer): Promise<void> {
    for (const step of this.steps) {
      const span = tracer.start(step.span, step.attributes);
      try {
        const pending = step.run(state);
        if (pending) await pending;
      } catch (e) {
        span.fail(e);
        throw e;
      } finally {
        span.end();
      }
    }
  }

  /** The first outcome in precedence order that any reason carries; the last outcome when none does. */
  combine(reasons: readonly Reason[]): string {
    let best = this.outcomes.length - 1;
    for (const r of reasons) {
      const rank = this.outcomes.indexOf(r.effect);
      if (rank >= 0 && rank < best) best = rank;
      if (best === 0) break;
    }
    return this.outcomes[best]!;
  }

  /** The type's embedded test cases that fail, each with why. */
  async testFailures(): Promise<{ case: string; index: number; message: string }[]> {
    const failures: { case: string; index: number; message: string }[] = [];
    const tests = this.document.tests;
    if (!tests) return failures;
    for (const [index, c] of tests.cases.entries()) {
      const input = mergeFacts(tests.defaults ?? {}, c.case ?? {});
      let message: string | undefined;
      try {
        // As a decision sees it, short of pseudonyms (a type's tests run with no tenant): canonical forms applied.
        const d = await this.decide(input, '', c.features, true);
        const codes = d.reasons.map((r) => r.code);
        if (d.outcome !== c.expect.outcome) message = `expected outcome ${c.expect.outcome}, got ${d.outcome} (reasons: ${codes.join(', ') || 'none'})`;
        else if (c.expect.reasons && !deepEqual(codes, c.expect.reasons)) message = `expected reasons [${c.expect.reasons.join(', ')}], got [${codes.join(', ')}]`;
        else {
          for (const [k, v] of Object.entries(c.expect.output ?? {})) {
            if (!deepEqual(d.output[k], v)) {
              message = `expected output ${k} = ${JSON.stringify(v)}, got ${JSON.stringify(d.output[k])}`;
              break;
            }
          }
        }
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        message = `${e.code}: ${e.message}${e.errors[0] ? ` (${e.errors[0].path} ${e.errors[0].message})` : ''}`;
      }
      if (message !== undefined) failures.push({ case: c.name, index, message });
    }
    return failures;
  }
}

/** Past this, a trace entry's exact size no longer matters: the trace is over any limit. */
const MEASURED_UP_TO = 16 * 1024 * 1024;

function policyOutputInvalid(source: string, entrypoint: string, detail: string): DomainError {
  return new DomainError('POLICY_OUTPUT_INVALID', `${source} ${entrypoint} answered an output the decision type does not accept: ${detail}`, 'unavailable');
}

function firedTest(spec: TraceSpec['fired']): Test {
  if (typeof spec === 'string') {
    const get = getter(spec);
    return (v) => get(v) === true;
  }
  return compilePredicate(spec);
}

/** Trace entries a policy step makes from its output, as its `trace` specs say. */
function traceBuilder(spec: TraceSpec, source: string): (input: unknown, output: unknown, into: TraceEntry[]) => void {
  const fired = firedTest(spec.fired);
  const rule: (v: unknown) => string =
    typeof spec.rule === 'string' ? ((name) => () => name)(spec.rule) : ((prefix, from) => (v: unknown) => `${prefix}${String(from(v))}`)(spec.rule.prefix, getter(spec.rule.from));
  const fields = Object.entries(spec.fields ?? {}).map(([k, p]) => [k, getter(p)] as const);
  // The field that names the rule leads the spread fields, whatever order the policy answered them in.
  const namingKey = typeof spec.rule === 'object' ? parsePointer(spec.rule.from)[0] : undefined;
  const make = (input: unknown, output: unknown, subject: unknown, spread: boolean): TraceEntry => {
    const own = { source, rule: rule(subject), fired: fired(subject) };
    const entry: TraceEntry = { ...own };
    if (spread && subject !== null && typeof subject === 'object') {
      if (namingKey !== undefined && Object.hasOwn(subject, namingKey)) entry[namingKey] = (subject as Record<string, unknown>)[namingKey];
      Object.assign(entry, subject);
    }
    for (const [k, get] of fields) entry[k] = get(subject);
    if (spec.input) entry.input = input;
    if (spec.output) entry.output = output;
    // What the platform says about the entry is the platform's: a policy's output cannot overwrite it.
    return Object.assign(entry, own);
  };
  if (spec.each === undefined) return (input, output, into) => void into.push(make(input, output, output, false));
  const each = getter(spec.each);
  return (input, output, into) => {
    const list = each(output);
    if (Array.isArray(list)) for (const el of list) into.push(make(input, output, el, true));
  };
}

function bindPolicyStep(step: PolicyStep, policy: LoadedPolicy, outcomes: ReadonlySet<string>): StepRun {
  const source = policy.ref;
  const validateOutput = compileFactSchema(step.outputSchema);
  const reasonsAt = step.reasons ? getter(step.reasons.from) : undefined;
  const fixedEffect = step.reasons?.effect;
  const traces = (step.trace ?? []).map((t) => traceBuilder(t, source));
  const fromFacts = step.input === 'facts';
  const exposed = step.facts;
  const project = step.inputPaths ? projection(step.inputPaths) : undefined;
  return (s) => {
    // A snapshot: later steps add facts, and the trace must show what the policy saw.
    const policyInput = project ? project(fromFacts ? s.facts : s.input) : fromFacts ? { ...s.facts } : s.input;
    const output = policy.evaluate(step.entrypoint, policyInput);
    if (!validateOutput(output)) {
      const first = ajvErrorsToDetails(validateOutput.errors)[0];
      throw policyOutputInvalid(source, step.entrypoint, first ? `${first.path || '/'} ${first.message}` : 'no output');
    }
    s.facts[step.as] = exposed ? pick(output as Record<string, unknown>, exposed) : output;
    if (reasonsAt) {
      const list = reasonsAt(output);
      if (!Array.isArray(list)) throw policyOutputInvalid(source, step.entrypoint, `${step.reasons!.from} is not an array of reasons`);
      for (const item of list as unknown[]) {
        if (item === null || typeof item !== 'object') throw policyOutputInvalid(source, step.entrypoint, `reason ${JSON.stringify(item)} is not an object`);
        const r = item as { code?: unknown; message?: unknown; rule?: unknown; effect?: unknown };
        const effect = r.effect ?? fixedEffect;
        if (typeof r.code !== 'string' || typeof effect !== 'string' || !outcomes.has(effect)) {
          throw policyOutputInvalid(source, step.entrypoint, `reason ${JSON.stringify(r)} has no code or no outcome of this type as its effect`);
        }
        s.reasons.push({
          code: r.code,
          message: typeof r.message === 'string' ? r.message : r.code,
          source,
          rule: typeof r.rule === 'string' ? r.rule : step.entrypoint,
          effect: effect,
        });
      }
    }
    if (!s.traced) return;
    const first = s.trace.length;
    for (const t of traces) t(policyInput, output, s.trace);
    for (let k = first; k < s.trace.length; k++) s.traceBytes += approxJsonBytes(s.trace[k], MEASURED_UP_TO) + 1;
  };
}

/** The paths a projection keeps: a key maps to the paths kept under it, or to `true` when its whole value is kept. */
type Kept = Map<string, Kept | true>;

/**
 * A policy step's `inputPaths` as a function: a new object holding only those fields, at the same paths. A value on the
 * way that is not an object (null, an array, a number) is passed as it is, so the policy sees at every path it reads
 * exactly what the whole input holds there.
 */
export function projection(paths: readonly string[]): (input: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const root: Kept = new Map();
  for (const p of paths) {
    const tokens = parsePointer(p);
    let node = root;
    for (const [i, t] of tokens.entries()) {
      const next = node.get(t);
      if (next === true) break; // an enclosing field is kept whole
      if (i === tokens.length - 1) node.set(t, true);
      else if (next) node = next;
      else node.set(t, (node = new Map()));
    }
  }
  const project = (v: Readonly<Record<string, unknown>>, kept: Kept): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, under] of kept) {
      if (!Object.hasOwn(v, k)) continue;
      const x = v[k];
      const value = under === true || x === null || typeof x !== 'object' || Array.isArray(x) ? x : project(x as Record<string, unknown>, under);
      if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
      else out[k] = value;
    }
    return out;
  };
  return (input) => project(input, root);
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (Object.hasOwn(o, k)) out[k] = o[k];
  return out;
}

/** The schema of the output fields a policy step exposes to later steps. */
function exposedSchema(step: PolicyStep): Record<string, unknown> {
  if (!step.facts) return step.outputSchema;
  const props = (step.outputSchema.properties ?? {}) as Record<string, unknown>;
  const required = Array.isArray(step.outputSchema.required) ? (step.outputSchema.required as string[]) : [];
  return { type: 'object', required: required.filter((r) => step.facts!.includes(r)), properties: pick(props, step.facts) };
}

function bindRulesStep(pack: CompiledPack, effects: ReadonlySet<string>): StepRun {
  // The pack sees the facts it declares, and its own fact schema is checked at run time as everywhere else: a pack may
  // demand more than the type guarantees (a required optional field), and then that decision fails, not silently differs.
  const declared = Object.keys(pack.pack.factSchema.properties);
  const apply = (s: RunState, result: PackResult): void => {
    for (const e of result.events) {
      s.events.push(e);
      if (effects.has(e.type)) {
        s.reasons.push({
          code: String(e.params.code),
          message: String(e.params.message ?? e.params.code),
          source: pack.ref,
          rule: e.rule,
          effect: e.type,
        });
      }
    }
    if (!s.traced) return;
    for (const t of result.trace) s.trace.push(t as unknown as TraceEntry);
    s.traceBytes += result.traceBytes;
  };
  return (s) => {
    // Synchronous but for a failing evaluation, whose error json-rules-engine decides (a promise then).
    const result = pack.evaluateNow(pick(s.facts, declared), { trace: s.traced });
    if (result instanceof Promise) return result.then((r) => apply(s, r));
    apply(s, result);
  };
}

function bindOutput(field: OutputField): (s: RunState, outcome: string) => unknown {
  if (field.from !== undefined) {
    const get = getter(field.from);
    const when = field.when;
    const otherwise = field.otherwise ?? null;
    if (!when) return (s) => get(s.facts) ?? null;
    return (s, outcome) => (when.includes(outcome) ? (get(s.facts) ?? null) : otherwise);
  }
  const { event, param } = field as Required<Pick<OutputField, 'event' | 'param'>>;
  const fallback = field.default ?? null;
  if ('equals' in field) {
    // `equals`: that value when ANY fired event of the type carries it, whatever the others say.
    const wanted = field.equals;
    return (s) => (s.events.some((e) => e.type === event && e.params[param] === wanted) ? wanted : fallback);
  }
  return (s) => {
    for (let i = s.events.length - 1; i >= 0; i--) {
      const e = s.events[i]!;
      if (e.type === event && Object.hasOwn(e.params, param)) return e.params[param];
    }
    return fallback;
  };
}

/** The one component of `release` that `pick` accepts, or a problem naming how many there are. */
/** `what` and `whats`: the thing a step takes, singular and plural ("bundle exposing x", "bundles exposing x"). */
function exactlyOne<T>(found: [string, T][], what: string, whats: string, at: string, problems: ErrorDetail[]): [string, T] | undefined {
  if (found.length === 1) return found[0];
  problems.push({ path: at, message: found.length === 0 ? `the release has no ${what}` : `the release has ${found.length} ${whats} (${found.map(([n]) => n).join(', ')}); a step takes exactly one` });
  return undefined;
}

/**
 * Binds `doc` to the release's components. Missing or ambiguous components are RELEASE_INCOMPLETE, pack conditions that
 * read facts the pipeline does not make (or of another type) RELEASE_TYPE_CHECK_FAILED; every problem at once, paths
 * under `/components/<component>`.
 */
export function bindDecisionType(doc: DecisionTypeDocument, component: string, release: ReleaseComponents): BoundDecisionType {
  const missing: ErrorDetail[] = [];
  const typeErrors: ErrorDetail[] = [];
  const outcomes = new Set(doc.outcomes);
  const steps: BoundStep[] = [];
  const ref = `${doc.name}@${doc.version}`;
  /** Attributes name the type, the step and what it runs: never a value of the case. */
  const bound = (i: number, kind: string, run: StepRun, more: Record<string, string> = {}): BoundStep => ({
    run,
    span: `${STEP_SPAN_PREFIX}${kind}`,
    attributes: { 'decision.type': ref, 'decision.step.index': i, 'decision.step.kind': kind, ...more },
  });
  const policySteps: BoundPolicyStep[] = [];
  // The facts each step may read: the case's fields, then what each earlier step added.
  const available: Record<string, unknown> = { ...doc.input.properties };
  if (doc.features) {
    // Integers, or null where a feature can be unknown (firstSeen with no event, a null default).
    available[FEATURES_FACT] = {
      type: 'object',
      required: Object.keys(doc.features),
      properties: Object.fromEntries(
        Object.entries(doc.features).map(([n, f]) => [n, { type: f.aggregate === 'firstSeen' || f.default === null ? ['integer', 'null'] : 'integer' }]),
      ),
    };
  }
  const defs = doc.input.$defs;
  const at = (i: number, rest = ''): string => `/components/${component}/pipeline/${i}${rest}`;
  /** The facts made so far, as one schema (the case's $defs kept, so its $refs resolve). */
  const factsSchema = (): Record<string, unknown> => ({ type: 'object', properties: { ...available }, ...(defs !== undefined && { $defs: defs }) });
  /** A pointer must name something the facts declare: a typo'd path would otherwise read nothing, silently. */
  const checkPointer = (schema: Record<string, unknown>, segments: readonly (string | typeof ANY_ELEMENT)[], path: string, what: string): void => {
    const miss = undeclaredAt(schema, segments);
    if (!miss) return;
    const where = segments.slice(0, miss.index + 1).map((s) => (s === ANY_ELEMENT ? '*' : s)).join('/');
    typeErrors.push({ path, message: `${what}, but /${where} is not declared (declared there: ${miss.declared.join(', ') || 'nothing'})` });
  };

  doc.pipeline.forEach((step, i) => {
    switch (step.step) {
      case 'derive': {
        const fields = Object.entries(step.fields).map(([name, d]) => [name, compileDerivation(d)] as [string, CompiledDerivation]);
        const facts = factsSchema();
        for (const [name, d] of fields) {
          for (const p of d.reads) checkPointer(facts, parsePointer(p), at(i, `/fields/${name}`), `reads ${p}`);
          if (d.perElement) {
            const array = [...parsePointer(d.perElement.of), ANY_ELEMENT] as const;
            for (const p of d.perElement.reads) checkPointer(facts, [...array, ...parsePointer(p)], at(i, `/fields/${name}`), `reads ${p} in each element of ${d.perElement.of}`);
          }
        }
        available[step.as] = {
          type: 'object',
          required: fields.map(([n]) => n),
          properties: Object.fromEntries(fields.map(([n, d]) => [n, d.schema])),
        };
        const as = step.as;
        steps.push(
          bound(i, 'derive', (s) => {
            const out: Record<string, unknown> = {};
            for (const [name, d] of fields) out[name] = d.compute(s.facts);
            s.facts[as] = out;
          }, { 'decision.step.as': as }),
        );
        break;
      }
      case 'policy': {
        const found = [...release.policies].filter(([, p]) => p.entrypoints.includes(step.entrypoint));
        const one = exactlyOne(found, `bundle exposing ${step.entrypoint}`, `bundles exposing ${step.entrypoint}`, at(i, '/entrypoint'), missing);
        // What the policy receives: the facts so far (never this step's own output, added below) or the case.
        const into = step.input === 'facts' ? factsSchema() : doc.input;
        // What the policy reads must exist where it reads it: a typo'd path would hand the policy nothing, silently.
        if (step.inputPaths) {
          for (const [j, p] of step.inputPaths.entries()) checkPointer(into, parsePointer(p), at(i, `/inputPaths/${j}`), `the policy receives ${p}`);
        }
        available[step.as] = exposedSchema(step);
        const out = step.outputSchema;
        if (step.reasons) checkPointer(out, parsePointer(step.reasons.from), at(i, '/reasons/from'), `reasons read ${step.reasons.from} of the output`);
        for (const f of step.facts ?? []) checkPointer(out, [f], at(i, '/facts'), `exposes ${f}`);
        for (const [t, spec] of (step.trace ?? []).entries()) {
          const base: (string | typeof ANY_ELEMENT)[] = spec.each === undefined ? [] : [...parsePointer(spec.each), ANY_ELEMENT];
          if (spec.each !== undefined) checkPointer(out, parsePointer(spec.each), at(i, `/trace/${t}/each`), `trace walks ${spec.each}`);
          const reads = [typeof spec.rule === 'object' ? spec.rule.from : undefined, typeof spec.fired === 'string' ? spec.fired : spec.fired.path, ...Object.values(spec.fields ?? {})];
          for (const p of reads) if (p !== undefined) checkPointer(out, [...base, ...parsePointer(p)], at(i, `/trace/${t}`), `trace reads ${p}`);
        }
        if (one) {
          // And what the bundle says it reads must be given to it: a policy paired with a type that does not compute a
          // feature it compares would see null there, and never fire, silently.
          const policy = one[1];
          for (const read of policy.reads(step.entrypoint)) {
            const what = `${policy.ref} reads ${read || '/'} (its manifest's metadata.reads)`;
            if (step.inputPaths && !step.inputPaths.some((p) => read === p || read.startsWith(`${p}/`))) {
              typeErrors.push({ path: at(i, '/inputPaths'), message: `${what}, but inputPaths do not pass it` });
            } else checkPointer(into, parsePointer(read), at(i, '/entrypoint'), what);
          }
          steps.push(bound(i, 'policy', bindPolicyStep(step, one[1], outcomes), { 'decision.step.as': step.as, 'decision.step.component': one[1].ref, 'decision.step.entrypoint': step.entrypoint }));
          policySteps.push({ entrypoint: step.entrypoint, policy: one[1] });
        }
        break;
      }
      case 'rules': {
        const found = [...release.packs].filter(([, p]) => p.kind === step.packKind);
        const one = exactlyOne(found, `${step.packKind} pack`, `${step.packKind} packs`, at(i, '/packKind'), missing);
        if (one) {
          const [packComponent, pack] = one;
          const factSchema = factsSchema() as typeof pack.pack.factSchema;
          for (const e of typeCheckRules({ ...pack.pack, factSchema })) {
            typeErrors.push({ ...e, path: `/components/${packComponent}${e.path}`, message: `${e.message} (as step ${i} of decision type ${doc.name}@${doc.version} sees the facts)` });
          }
          // An event naming the default outcome asks for nothing: it is no reason (the hand-written decider ignored it too).
          steps.push(bound(i, 'rules', bindRulesStep(pack, new Set(doc.outcomes.slice(0, -1))), { 'decision.step.component': pack.ref }));
        }
        break;
      }
      case 'enrich': {
        const provider = release.enrichment?.get(step.provider);
        if (!provider) {
          missing.push({ path: at(i, '/provider'), message: `no enrichment provider '${step.provider}' is available on this platform` });
          break;
        }
        const config = step.config ?? {};
        let schema: Record<string, unknown>;
        try {
          schema = provider.outputSchema(config);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          typeErrors.push({ path: at(i, '/config'), message: e.message });
          break;
        }
        available[step.as] = schema;
        const validate = compileFactSchema(schema);
        const as = step.as;
        steps.push(
          bound(i, 'enrich', async (s) => {
            const values = await provider.enrich(s.facts, config);
            if (!validate(values)) throw new DomainError('ENRICHMENT_OUTPUT_INVALID', `enrichment provider ${step.provider} answered values its own schema refuses`, 'unavailable');
            s.facts[as] = values;
          }, { 'decision.step.as': as, 'decision.step.provider': step.provider }),
        );
        break;
      }
    }
  });

  const finalFacts = factsSchema();
  for (const [name, field] of Object.entries(doc.output ?? {})) {
    if (field.from !== undefined) checkPointer(finalFacts, parsePointer(field.from), `/components/${component}/output/${name}/from`, `output ${name} reads ${field.from}`);
  }
  missing.push(...featureSourceProblems(doc, component, release));
  const review = doc.review ? bindReviewPolicy(doc.review, release.packs, `/components/${component}/review`, missing) : undefined;
  if (doc.review?.riskBand !== undefined) checkPointer(factsSchema(), parsePointer(doc.review.riskBand), `/components/${component}/review/riskBand`, `the review reads ${doc.review.riskBand}`);
  if (missing.length > 0) {
    throw new DomainError('RELEASE_INCOMPLETE', `release ${release.id} cannot serve decision type ${doc.name}@${doc.version}: ${missing.map((p) => p.message).join('; ')}`, 'unprocessable', missing);
  }
  if (typeErrors.length > 0) {
    throw new DomainError('RELEASE_TYPE_CHECK_FAILED', `release ${release.id}: decision type ${doc.name}@${doc.version} does not type-check: ${typeErrors[0]!.message}`, 'unprocessable', typeErrors);
  }
  const outputs = Object.entries(doc.output ?? {}).map(([name, f]) => [name, bindOutput(f)] as [string, (s: RunState, outcome: string) => unknown]);
  return new BoundDecisionType(doc, inputValidatorOf(doc), steps, outputs, policySteps, review);
}

/**
 * A feature counts events some type of the release records: the named types must be in it and record the feature's
 * entity (and the entity a distinct count reads, and the attributes its `where` filters on). Otherwise the feature
 * would read an empty history forever, silently.
 */
/** How many values an entity's key is made of: 1, or a composite's parts (their order is the author's to keep alike). */
const partsOf = (p: EntityPointer): number => (typeof p === 'string' ? 1 : p.length);

function featureSourceProblems(doc: DecisionTypeDocument, component: string, release: ReleaseComponents): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (!doc.features || !release.types) return problems;
  const all = [...release.types.values()];
  for (const [name, f] of Object.entries(doc.features)) {
    const at = `/components/${component}/features/${name}/source`;
    const src = f.source;
    let recorders: DecisionTypeDocument[];
    if ('decisions' in src) {
      const names = typeof src.decisions === 'string' ? [src.decisions] : src.decisions;
      recorders = [];
      for (const n of names) {
        const t = all.find((d) => d.name === n);
        if (!t) problems.push({ path: at, message: `feature ${name} counts decisions of '${n}', which is not a decision type of release ${release.id}` });
        else recorders.push(t);
      }

    } else if ('refunds' in src) {
      recorders = all.filter((d) => d.lifecycle === 'refund');
      if (recorders.length === 0) problems.push({ path: at, message: `feature ${name} counts refunds, but release ${release.id} has no decision type with a refund lifecycle` });
    } else continue;
    const a = f.aggregate;
    const needs = [f.entity, ...(typeof a === 'object' && 'distinct' in a ? [a.distinct] : [])];
    const where = 'ledger' in src ? [] : Object.keys(src.where ?? {});
    for (const t of recorders) {
      for (const e of needs) {
        if (!Object.hasOwn(t.history?.entities ?? {}, e)) problems.push({ path: at, message: `feature ${name} reads entity '${e}', which ${t.name}@${t.version} does not record (history.entities)` });
        else if (doc.history && Object.hasOwn(doc.history.entities, e) && partsOf(doc.history.entities[e]!) !== partsOf(t.history!.entities[e]!)) {
          // One pointer against a composite, or composites of other lengths: their keys never match, the count is always 0.
          problems.push({ path: at, message: `feature ${name} reads entity '${e}' as ${partsOf(doc.history.entities[e]!)} part(s), which ${t.name}@${t.version} records as ${partsOf(t.history!.entities[e]!)}: its keys would never match` });
        }
      }
      for (const w of where) {
        if (!Object.hasOwn(t.history?.attributes ?? {}, w)) problems.push({ path: at, message: `feature ${name} filters on attribute '${w}', which ${t.name}@${t.version} does not record (history.attributes)` });
        else {
          // An attribute recorded from a field in canonical form holds that form: a literal in another never matches.
          const value = (src as { where?: Record<string, unknown> }).where![w];
          const recorded = parsePointer(t.history!.attributes![w]!);
          const field = canonicalFields(t.input).find((f) => f.path.length === recorded.length && f.path.every((x, i) => x === '*' || x === recorded[i]));
          if (field && typeof value === 'string' && canonicalForm(field.form, value) !== value) {
            problems.push({ path: `${at}/where/${w}`, message: `${t.name}@${t.version} records '${w}' in its ${field.form} form: ${JSON.stringify(value)} would never match (write ${JSON.stringify(canonicalForm(field.form, value))})` });
          }
        }
      }
      if (typeof a === 'object' && 'sum' in a && t.history?.amount === undefined) problems.push({ path: at, message: `feature ${name} sums amounts, which ${t.name}@${t.version} does not record (history.amount)` });
    }
  }
  return problems;
}
