/**
 * The platform's own history as decision input. A decision type's `history` says what each of its decisions records
 * (the business time, the entity keys taken from the case, an amount, a few attributes); its `features` say what it
 * reads back: an aggregate (count, sum, distinct count, first seen) of one event source for one entity key over a
 * sliding window ending at the case's time. Values are exact: the persistence layer counts stored events, under a
 * lock on each entity key, in the decision's transaction.
 *
 * This module is pure: it turns a case into the queries to run and the answers into facts, trace entries and the
 * values stored with the decision, so a replay re-applies the stored values and decides exactly what was decided.
 */
import { createHash } from 'node:crypto';
import { DomainError, type ErrorDetail } from '../../errors/index.js';
import { FIRST_INSTANT_MS, instantOf, LAST_INSTANT_MS } from '../../names/index.js';
import type { TraceEntry } from '../outcome.js';
import { getter, type Getter } from './derivations.js';

/** What each decision of a type records into the platform's history. */
export interface HistorySpec {
  /** Pointer to the case's business time: the events' time, and the end of every window the type reads. */
  at: string;
  /** Entity name → pointer to its key in the case (customer, device, ip, card, account, …), or a composite key. */
  entities: Record<string, EntityPointer>;
  /** Pointer to an integer amount (minor units) recorded with the event: what `{"sum": "amount"}` adds. */
  amount?: string;
  /** Attribute name → pointer to a scalar recorded with the event: what a source's `where` filters on. */
  attributes?: Record<string, string>;
}

/**
 * Where an entity's key is in the case: one pointer, or 2–4 (a composite key, e.g. customer and device together: what a
 * step-up passed by one customer on one device vouches for). A case records a composite key only when it has every part.
 */
export type EntityPointer = string | readonly string[];

/** The pointers of an entity's key, one or several. */
export function entityPointers(p: EntityPointer): readonly string[] {
  return typeof p === 'string' ? [p] : p;
}

export type Scalar = string | number | boolean | null;

export type FeatureSource =
  | {
      decisions: string | string[];
      outcomes?: string[];
      reasons?: string[];
      where?: Record<string, Scalar>;
      /**
       * Pointer to a decision id in the case: only that decision's events count (e.g. a step-up's result naming the
       * decision that asked for it, which must be of these types, with these outcomes, for the same entity key).
       */
      decisionId?: string;
    }
  | { refunds: string[]; where?: Record<string, Scalar> }
  | { ledger: 'chargeback' | 'refund' };

export type FeatureAggregate = 'count' | 'firstSeen' | { sum: 'amount' } | { distinct: string; includeCurrent?: boolean };

export type Combine = 'max' | 'platform' | 'caller';

export interface FeatureSpec {
  description?: string;
  entity: string;
  source: FeatureSource;
  /** `<n>m`, `<n>h` or `<n>d`: the window is (at − window, at]. */
  window: string;
  /**
   * Events with a later business time count too: the window is (at − window, …), so the value is what the platform
   * stored before this decision whatever time each event carries (a result reported twice, the second time with an
   * earlier time). Not with firstSeen.
   */
  includeLater?: boolean;
  aggregate: FeatureAggregate;
  /** Pointer to the caller's own value of this feature in the case (e.g. /customer/refundCount30d). */
  caller?: string;
  combine?: Combine;
  /** The value when the case has no key for the entity (default 0; firstSeen: null). */
  default?: number | null;
}

/** How a value was arrived at, as the trace and the stored decision say. */
export type FeatureFrom = 'platform' | 'caller' | 'default';

/** A feature's value as stored with its decision: what a replay re-applies. */
export interface StoredFeature {
  value: number | null;
  /** The platform's own value (the declared default when the case had no key). */
  platform: number | null;
  caller: number | null;
  from: FeatureFrom;
}

export type StoredFeatures = Record<string, StoredFeature>;

/** The platform's values by feature name; a name not given is an empty history (0, or null for firstSeen). */
export type PlatformValues = Readonly<Record<string, number | null>>;

/** One decision's record in the history: fanned out by the store into one row per entity key. */
export interface HistoryRecord {
  at: Date;
  /** Entity name → key, for every entity the case names. */
  keys: Record<string, string>;
  amount: number | null;
  attributes: Record<string, Scalar>;
}

export type EventSourceKind = 'decision' | 'refund' | 'ledger';

/** One aggregate to compute: everything the store needs, nothing it must interpret. */
export interface FeatureQuery {
  name: string;
  entity: string;
  key: string;
  source: EventSourceKind;
  /** decision: the decision types; refund: the states entered; ledger: the adjustment kinds. */
  kinds: string[];
  outcomes?: string[];
  reasons?: string[];
  where?: Record<string, Scalar>;
  /** Exclusive start and inclusive end of the window. */
  from: Date;
  to: Date;
  aggregate: 'count' | 'sum' | 'distinct' | 'firstSeen';
  /** distinct: the entity whose keys are counted, and the current case's key of it when it counts too. */
  distinctEntity?: string;
  currentKey?: string | null;
  /** A backtest of a stored decision: its own events (and its refund's) are not its history. */
  excludeDecision?: string;
  /** Only the events of this decision (a source's `decisionId`: the id the case names). */
  decisionId?: string;
  /**
   * The declaration its declared parts (entity, source, kinds, outcomes, reasons, where, aggregate, distinctEntity)
   * come from: the same object for every case of one bound decision type, so a store may compile its statement once
   * per declaration. Absent (a query made by hand), it compiles each time.
   */
  declared?: object;
}

export const FEATURE_TRACE_SOURCE = 'platform@features';
/** The fact the feature values are put under. */
export const FEATURES_FACT = 'features';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const; // unit conversions, not policy numbers
export const WINDOW_PATTERN = '^[1-9][0-9]{0,5}[mhd]$';

/** A window's length in milliseconds, or undefined when it is not `<n>m|h|d`. */
export function windowMs(window: string): number | undefined {
  if (!new RegExp(WINDOW_PATTERN).test(window)) return undefined;
  return Number(window.slice(0, -1)) * UNIT_MS[window.slice(-1) as keyof typeof UNIT_MS];
}

/** The end of an `includeLater` window: the last instant the platform stores. */
const LAST_EVENT_TIME = new Date(LAST_INSTANT_MS);

/**
 * A decision id as the platform writes it (a UUID in lower case): what a source's `decisionId` can match. Only that
 * spelling: the id is also a history key (e.g. what a step-up's result is counted under), and a key is its text.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Keys longer than this are stored as their SHA-256: an index entry stays small whatever a schema allows. */
const MAX_KEY_LENGTH = 200;

/** The history key of a case value: its text (a pseudonym for a field marked x-pii), or nothing for null/absent. */
export function entityKey(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length === 0) return undefined;
  return text.length <= MAX_KEY_LENGTH ? text : `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function sourceOf(s: FeatureSource): Pick<FeatureQuery, 'source' | 'kinds' | 'outcomes' | 'reasons' | 'where'> {
  if ('decisions' in s) {
    return {
      source: 'decision',
      kinds: typeof s.decisions === 'string' ? [s.decisions] : [...s.decisions],
      ...(s.outcomes && { outcomes: s.outcomes }),
      ...(s.reasons && { reasons: s.reasons }),
      ...(s.where && { where: s.where }),
    };
  }
  if ('refunds' in s) return { source: 'refund', kinds: [...s.refunds], ...(s.where && { where: s.where }) };
  return { source: 'ledger', kinds: [s.ledger] };
}

function aggregateOf(a: FeatureAggregate): Pick<FeatureQuery, 'aggregate' | 'distinctEntity'> {
  if (a === 'count' || a === 'firstSeen') return { aggregate: a };
  if ('sum' in a) return { aggregate: 'sum' };
  return { aggregate: 'distinct', distinctEntity: a.distinct };
}

/** The instant at a pointer, when it is a date-time the platform can compute with. */
function instantAt(get: Getter, input: unknown): Date | undefined {
  const v = get(input);
  if (typeof v !== 'string') return undefined;
  const ms = instantOf(v);
  return ms === undefined ? undefined : new Date(ms);
}

/** A composite key's parts, in the declared order (its key is their JSON); undefined when a part is absent, null or empty. */
function compositeGetter(pointers: readonly string[]): Getter {
  const parts = pointers.map(getter);
  return (input) => {
    const values = parts.map((get) => get(input));
    return values.some((v) => v === undefined || v === null || v === '') ? undefined : values;
  };
}

export class BoundHistory {
  private readonly at: Getter;
  private readonly entities: [string, Getter][];
  private readonly amount: Getter | undefined;
  private readonly attributes: [string, Getter][];

  constructor(readonly spec: HistorySpec) {
    this.at = getter(spec.at);
    this.entities = Object.entries(spec.entities).map(([n, p]) => [n, typeof p === 'string' ? getter(p) : compositeGetter(p)]);
    this.amount = spec.amount === undefined ? undefined : getter(spec.amount);
    this.attributes = Object.entries(spec.attributes ?? {}).map(([n, p]) => [n, getter(p)]);
  }

  /** The case's business time (undefined: the case records nothing and reads empty windows). */
  time(input: unknown): Date | undefined {
    return instantAt(this.at, input);
  }

  keys(input: unknown): Record<string, string> {
    // No prototype: an entity named `constructor` must not find Object.prototype's.
    const keys = Object.create(null) as Record<string, string>;
    for (const [name, get] of this.entities) {
      const k = entityKey(get(input));
      if (k !== undefined) keys[name] = k;
    }
    return keys;
  }

  /** The scalars this case records as attributes (what a source's `where` filters on). */
  attributesOf(input: unknown): Record<string, Scalar> {
    const attributes = Object.create(null) as Record<string, Scalar>;
    for (const [name, get] of this.attributes) {
      const v = get(input);
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) attributes[name] = v as Scalar;
    }
    return attributes;
  }

  /** What this case adds to the history once its decision is stored; undefined when it has no time. */
  record(input: unknown): HistoryRecord | undefined {
    const at = this.time(input);
    if (!at) return undefined;
    const amount = this.amount?.(input);
    return { at, keys: this.keys(input), amount: Number.isSafeInteger(amount) ? (amount as number) : null, attributes: this.attributesOf(input) };
  }
}

interface BoundFeature {
  name: string;
  spec: FeatureSpec;
  windowMs: number;
  caller: Getter | undefined;
  callerPath: string[] | undefined;
  combine: Combine;
  fallback: number | null;
  /** The source's `decisionId` pointer, read. */
  decisionId: Getter | undefined;
  query: Pick<FeatureQuery, 'entity' | 'source' | 'kinds' | 'outcomes' | 'reasons' | 'where' | 'aggregate' | 'distinctEntity'>;
}

function numberOrNull(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The larger of the values given (nulls ignored); null when neither is a number. */
function maxOf(a: number | null | undefined, b: number | null | undefined): number | null {
  const xs = [a, b].filter((x): x is number => typeof x === 'number');
  return xs.length === 0 ? null : Math.max(...xs);
}

/** `input` with `value` at `path`, copying only the objects on the way; unchanged when a parent is missing. */
function withValueAt(input: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const set = (node: unknown, i: number): unknown => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    const copy = { ...(node as Record<string, unknown>) };
    const k = path[i]!;
    if (i === path.length - 1) copy[k] = value;
    else {
      const inner = set(copy[k], i + 1);
      if (inner === undefined) return undefined;
      copy[k] = inner;
    }
    return copy;
  };
  return (set(input, 0) as Record<string, unknown> | undefined) ?? input;
}

export interface AppliedFeatures {
  /** The case the pipeline sees: each feature with a `caller` pointer holds the combined value there. */
  input: Record<string, unknown>;
  /** The `features` fact. */
  values: Record<string, number | null>;
  stored: StoredFeatures;
  trace: TraceEntry[];
}

export class BoundFeatures {
  private readonly features: BoundFeature[];

  /** `typeName`: the decision type these features belong to (its own decisions are the ones `includeCurrent` adds). */
  constructor(
    private readonly history: BoundHistory,
    specs: Record<string, FeatureSpec>,
    parsePath: (pointer: string) => string[],
    private readonly typeName: string,
  ) {
    // By name: a stored document's key order is the store's (jsonb sorts keys), and the trace must not depend on it.
    const byName = Object.entries(specs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.features = byName.map(([name, spec]) => ({
      name,
      spec,
      windowMs: windowMs(spec.window)!,
      caller: spec.caller === undefined ? undefined : getter(spec.caller),
      callerPath: spec.caller === undefined ? undefined : parsePath(spec.caller),
      combine: spec.combine ?? (spec.caller === undefined ? 'platform' : 'max'),
      fallback: spec.default !== undefined ? spec.default : spec.aggregate === 'firstSeen' ? null : 0,
      decisionId: 'decisions' in spec.source && spec.source.decisionId !== undefined ? getter(spec.source.decisionId) : undefined,
      query: { entity: spec.entity, ...sourceOf(spec.source), ...aggregateOf(spec.aggregate) },
    }));
  }

  get names(): string[] {
    return this.features.map((f) => f.name);
  }

  /** The aggregates the store must compute for this case: one per feature whose entity key the case names. */
  queries(input: Record<string, unknown>): FeatureQuery[] {
    const at = this.history.time(input);
    if (!at) return [];
    const keys = this.history.keys(input);
    let attributes: Record<string, Scalar> | undefined;
    const out: FeatureQuery[] = [];
    for (const f of this.features) {
      const key = keys[f.spec.entity];
      if (key === undefined) continue;
      let decisionId: string | undefined;
      if (f.decisionId) {
        // An id no decision has (absent, not a lower-case UUID) counts nothing: no query, the empty history's value.
        const named = f.decisionId(input);
        if (typeof named !== 'string' || !UUID.test(named)) continue;
        decisionId = named;
      }
      const a = f.spec.aggregate;
      // A source narrowed to a named decision never counts this case's own: it is not decided yet, so not named.
      const includeCurrent =
        !f.decisionId &&
        typeof a === 'object' && 'distinct' in a && a.includeCurrent === true && this.counts(f.query, (attributes ??= this.history.attributesOf(input)));
      out.push({
        name: f.name,
        key,
        ...f.query,
        declared: f.query,
        // Not before year 1: a window reaching past it counts from the first instant the platform stores.
        from: new Date(Math.max(at.getTime() - f.windowMs, FIRST_INSTANT_MS)),
        to: f.spec.includeLater === true ? LAST_EVENT_TIME : at,
        ...(f.query.aggregate === 'distinct' && { currentKey: includeCurrent ? (keys[f.query.distinctEntity!] ?? null) : null }),
        ...(decisionId !== undefined && { decisionId }),
      });
    }
    return out;
  }

  /**
   * Whether the source counts this case's own decision, as far as it can be told before it is decided: a decision of one
   * of the source's types whose attributes match its `where`. Outcomes and reasons are not known yet: the case is the
   * attempt being judged, and a source filtered by them counts it (what `includeCurrent` asks for). Refund and ledger
   * events are not decisions: never.
   */
  private counts(q: BoundFeature['query'], attributes: Record<string, Scalar>): boolean {
    if (q.source !== 'decision' || !q.kinds.includes(this.typeName)) return false;
    // As the store's `attributes @> where`: each named attribute present and equal (numbers by value).
    return Object.entries(q.where ?? {}).every(([name, v]) => Object.hasOwn(attributes, name) && attributes[name] === v);
  }

  /**
   * Combines the platform's values with the caller's, as each feature declares: the `features` fact, the case the
   * pipeline sees, what is stored with the decision and one trace entry per feature. `platform` holds what the store
   * counted (or what a stored decision recorded); a feature whose key the case lacks takes its declared default.
   */
  apply(input: Record<string, unknown>, platform: PlatformValues): AppliedFeatures {
    const keys = this.history.time(input) ? this.history.keys(input) : (Object.create(null) as Record<string, string>);
    let seen = input;
    const values: Record<string, number | null> = {};
    const stored: StoredFeatures = {};
    const trace: TraceEntry[] = [];
    for (const f of this.features) {
      const hasKey = keys[f.spec.entity] !== undefined;
      const pv: number | null = hasKey ? (Object.hasOwn(platform, f.name) ? platform[f.name]! : f.spec.aggregate === 'firstSeen' ? null : 0) : f.fallback;
      const cv = f.caller ? numberOrNull(f.caller(input)) : undefined;
      let value: number | null;
      if (f.combine === 'platform' || cv === undefined) value = pv;
      else if (f.combine === 'caller') value = cv;
      else value = maxOf(pv, cv);
      // The caller's value wins a tie: the platform only "fired" when it raised (or supplied) the value.
      const callerUsed = f.combine !== 'platform' && cv !== undefined && cv !== null && value === cv;
      const platformUsed = !callerUsed;
      const from: FeatureFrom = callerUsed ? 'caller' : hasKey ? 'platform' : 'default';
      values[f.name] = value;
      stored[f.name] = { value, platform: pv, caller: cv ?? null, from };
      if (f.callerPath && value !== null && value !== cv) seen = withValueAt(seen, f.callerPath, value);
      trace.push({
        source: FEATURE_TRACE_SOURCE,
        rule: `feature.${f.name}`,
        fired: platformUsed && hasKey && cv !== undefined,
        feature: f.name,
        value,
        from,
        entity: f.spec.entity,
        window: f.spec.window,
        ...(f.spec.includeLater === true && { includeLater: true }),
        platform: pv,
        caller: cv ?? null,
        ...(!hasKey && { detail: `the case has no ${f.spec.entity} key: the declared default` }),
      });
    }
    return { input: seen, values, stored, trace };
  }
}

/** The platform values a stored decision recorded: what its replay re-applies. */
export function storedPlatformValues(stored: unknown): PlatformValues | undefined {
  if (stored === null || typeof stored !== 'object') return undefined;
  const out: Record<string, number | null> = {};
  for (const [name, f] of Object.entries(stored as Record<string, unknown>)) {
    const p = (f as { platform?: unknown } | null)?.platform;
    out[name] = typeof p === 'number' ? p : null;
  }
  return out;
}

/** The longest window a type reads, in ms (0 without features): what a tenant's retention must cover. */
export function longestWindowMs(features: Record<string, FeatureSpec> | undefined): { ms: number; name?: string } {
  let best: { ms: number; name?: string } = { ms: 0 };
  for (const [name, f] of Object.entries(features ?? {})) {
    const ms = windowMs(f.window) ?? 0;
    if (ms > best.ms) best = { ms, name };
  }
  return best;
}

export const FEATURE_WINDOW_BEYOND_RETENTION = 'FEATURE_WINDOW_BEYOND_RETENTION';

/** Each feature window longer than `retentionDays`, by the path of its window under `prefix`. */
export function retentionProblems(features: Record<string, FeatureSpec> | undefined, retentionDays: number, prefix = ''): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  for (const [name, f] of Object.entries(features ?? {})) {
    const ms = windowMs(f.window) ?? 0;
    if (ms > retentionDays * UNIT_MS.d) errors.push({ path: `${prefix}/features/${name}/window`, message: `${f.window} is longer than this tenant's retention of ${retentionDays} days` });
  }
  return errors;
}

/**
 * A window longer than the tenant keeps its history would count less than it says: refused where the type is
 * uploaded, and where a release naming it is created or activated (422 FEATURE_WINDOW_BEYOND_RETENTION, the path of
 * each window).
 */
export function checkRetention(features: Record<string, FeatureSpec> | undefined, retentionDays: number, prefix = ''): void {
  const errors = retentionProblems(features, retentionDays, prefix);
  if (errors.length > 0) throw windowsBeyondRetention(errors, retentionDays);
}

export function windowsBeyondRetention(errors: ErrorDetail[], retentionDays: number): DomainError {
  return new DomainError(FEATURE_WINDOW_BEYOND_RETENTION, `A feature window is longer than the tenant keeps its history (${retentionDays} days): ${errors[0]!.path}`, 'unprocessable', errors);
}
