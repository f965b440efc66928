/** The decision-type document (decision-type.schema.json): its TypeScript shape and its validation. */
import { readFileSync } from 'node:fs';
import { DomainError, type ErrorDetail } from '../../errors/index.js';
import { parsePointer, pointer } from '../../names/index.js';
import { ANY_ELEMENT, declaredAt, undeclaredAt, type DeclaredField } from '../../rules/type-check.js';
import { checkDocumentDepth } from '../../rules/limits.js';
import { ajvErrorsToDetails, compileFactSchema, newAjv, type ValidateFunction } from '../../rules/schema.js';

import type { ReviewSpec } from './review.js';
import { entityPointers, FEATURES_FACT, windowMs, type FeatureSpec, type HistorySpec } from './features.js';
import { canonicalFields, unreachableCanonicalMarks, type CanonicalForm } from './canonical-forms.js';
import { markedFields } from './schema-marks.js';
import { fieldPointer, personalFields, unreachablePersonalMarks } from './personal-data.js';

export const DECISION_TYPE_KIND = 'decision-type';
/** The case fields a refund lifecycle reads (api-contract.md section 3's RefundCase). */
export const REFUND_LIFECYCLE_FIELDS = ['/refundId', '/orderId', '/customerId', '/requestedAmount', '/currency', '/order/capturedAmount', '/order/refundedAmount'] as const;

const lifecycleId = { type: 'string', minLength: 1, maxLength: 255 } as const;
const lifecycleMinor = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

/**
 * What a refund lifecycle itself needs of a case, whatever the type's own input schema says: a type need only declare
 * these fields, and the platform's refund holds them as text (ids), bigint (amounts) and an ISO 4217 code. A type
 * with the lifecycle checks a case against this beside its own schema (every problem in one 400, and a what-if refuses
 * what a decision would), so a loose type's case is a 400 naming the field, not a driver error or a TypeError.
 */
export const REFUND_LIFECYCLE_INPUT = {
  type: 'object',
  required: ['refundId', 'orderId', 'customerId', 'requestedAmount', 'currency', 'order'],
  properties: {
    refundId: lifecycleId,
    orderId: lifecycleId,
    customerId: lifecycleId,
    requestedAmount: lifecycleMinor,
    currency: { type: 'string', format: 'currency' },
    order: { type: 'object', required: ['capturedAmount', 'refundedAmount'], properties: { capturedAmount: lifecycleMinor, refundedAmount: lifecycleMinor } },
    reward: { type: 'object', required: ['accountId', 'transactionId'], properties: { accountId: lifecycleId, transactionId: lifecycleId } },
  },
} as const;

let lifecycleInputValidator: ValidateFunction | undefined;
/** REFUND_LIFECYCLE_INPUT compiled (once). */
export function refundLifecycleInput(): ValidateFunction {
  return (lifecycleInputValidator ??= newAjv().compile(REFUND_LIFECYCLE_INPUT));
}

/** The pointers of every field REFUND_LIFECYCLE_INPUT names (/refundId, /order/capturedAmount, /reward/accountId, …). */
function lifecyclePointers(): string[] {
  const out: string[] = [];
  const walk = (node: { properties?: Record<string, unknown> }, at: string): void => {
    for (const [k, v] of Object.entries(node.properties ?? {})) {
      out.push(`${at}/${k}`);
      walk(v as { properties?: Record<string, unknown> }, `${at}/${k}`);
    }
  };
  walk(REFUND_LIFECYCLE_INPUT, '');
  return out;
}

export const DECISION_TYPE_INVALID = 'DECISION_TYPE_INVALID';
/** 422: a document nested deeper than a request body may be (PACK_LIMITS.maxDocumentDepth). */
export const DECISION_TYPE_TOO_COMPLEX = 'DECISION_TYPE_TOO_COMPLEX';

/** A test on one value: exactly one of equals / notEquals / in / notIn. */
export interface Predicate {
  path: string;
  equals?: unknown;
  notEquals?: unknown;
  in?: unknown[];
  notIn?: unknown[];
}

export interface Derivation {
  difference?: [string, string];
  daysBetween?: { from: string; to: string };
  count?: string;
  sum?: string;
  min?: string;
  max?: string;
  present?: string;
  field?: string;
  where?: Predicate;
}

export interface DeriveStep {
  step: 'derive';
  as: string;
  fields: Record<string, Derivation>;
}

export interface TraceSpec {
  each?: string;
  rule: string | { prefix: string; from: string };
  fired: string | Predicate;
  fields?: Record<string, string>;
  input?: boolean;
  output?: boolean;
}

export interface PolicyStep {
  step: 'policy';
  entrypoint: string;
  as: string;
  input?: 'case' | 'facts';
  /**
   * The fields the policy receives, as JSON pointers into its input (the case, or the facts); absent: all of it. What it
   * does not read is then neither serialized into the Wasm nor parsed there.
   */
  inputPaths?: string[];
  /** Output fields later steps see under `as`; default the whole output. */
  facts?: string[];
  outputSchema: Record<string, unknown>;
  reasons?: { from: string; effect?: string };
  trace?: TraceSpec[];
}

export interface RulesStep {
  step: 'rules';
  packKind: string;
}

export interface EnrichStep {
  step: 'enrich';
  provider: string;
  as: string;
  config?: Record<string, unknown>;
}

export type PipelineStep = DeriveStep | PolicyStep | RulesStep | EnrichStep;

export interface OutputField {
  from?: string;
  when?: string[];
  otherwise?: unknown;
  event?: string;
  param?: string;
  /** With event/param: this value when any fired event of that type carries it, else `default`. */
  equals?: unknown;
  default?: unknown;
}

export interface DecisionTypeTestCase {
  name: string;
  case?: Record<string, unknown>;
  expect: { outcome: string; reasons?: string[]; output?: Record<string, unknown> };
  /** The platform's feature values for this case; features not named see an empty history. */
  features?: Record<string, number | null>;
}

export interface DecisionTypeDocument {
  $schema?: string;
  kind: typeof DECISION_TYPE_KIND;
  name: string;
  version: string;
  description: string;
  input: Record<string, unknown> & { type: 'object'; properties: Record<string, unknown> };
  caseRef?: string;
  caseFields?: string[];
  callable?: boolean;
  pipeline: PipelineStep[];
  outcomes: string[];
  output?: Record<string, OutputField>;
  /** `refund`: each decision creates the platform's refund object (api-contract.md section 8). */
  lifecycle?: 'refund';
  review?: ReviewSpec;
  /** What each decision records into the platform's history (libs/decisions/types/features.ts). */
  history?: HistorySpec;
  /** What it reads back from it, as the fact `features`. */
  features?: Record<string, FeatureSpec>;
  tests?: { defaults?: Record<string, unknown>; cases: DecisionTypeTestCase[] };
}

let documentValidator: ValidateFunction | undefined;

export function loadDecisionTypeSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('./decision-type.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
}

function invalid(json: unknown, errors: ErrorDetail[]): DomainError {
  const d = json as { name?: unknown; version?: unknown } | null;
  const label = typeof d?.name === 'string' && typeof d.version === 'string' ? `${d.name}@${d.version}` : 'decision type';
  return new DomainError(DECISION_TYPE_INVALID, `${label} is invalid: ${errors.length} problem(s); first: ${errors[0]!.path || '/'} ${errors[0]!.message}`, 'unprocessable', errors);
}

/** The compiled input validator of each validated document, so binding it into a release does not compile it again. */
const inputValidators = new WeakMap<DecisionTypeDocument, ValidateFunction>();

/**
 * Validates a decision-type document: its schema, then what a schema cannot say (the input and output schemas compile,
 * step names do not shadow case fields or each other, outcomes named by the pipeline are in the vocabulary, caseFields
 * are declared inputs). Every problem at once, each with a JSON pointer into the document.
 * @throws DomainError DECISION_TYPE_INVALID (unprocessable)
 */
export function validateDecisionType(json: unknown, authored = false): DecisionTypeDocument {
  // Before anything reads it: a file is not bound by the request body's depth limit.
  checkDocumentDepth(json, DECISION_TYPE_TOO_COMPLEX, 'the decision type');
  documentValidator ??= newAjv(true, true).compile(loadDecisionTypeSchema());
  if (!documentValidator(json)) {
    // oneOf summaries repeat what their branches say (the pipeline's is tagged by `step`: one branch reports).
    const details = ajvErrorsToDetails(documentValidator.errors?.filter((e) => e.keyword !== 'oneOf'), '', false);
    throw invalid(
      json,
      details.map((d) => (/value of tag "step"/.test(d.message) ? { path: `${d.path}/step`, message: 'must be one of derive, policy, rules, enrich' } : d)),
    );
  }
  const doc = json as DecisionTypeDocument;
  const errors: ErrorDetail[] = [];
  let inputValidator: ValidateFunction | undefined;
  try {
    inputValidator = compileFactSchema(doc.input, '/input');
  } catch (e) {
    if (e instanceof DomainError) throw e; // a limit or an unsupported pattern: its own code
    errors.push({ path: '/input', message: `is not a valid JSON Schema 2020-12: ${(e as Error).message}` });
  }
  const inputFields = new Set(Object.keys(doc.input.properties));
  const named = new Map<string, number>();
  const outcomes = new Set(doc.outcomes);
  doc.pipeline.forEach((step, i) => {
    if (step.step === 'rules') return;
    if (inputFields.has(step.as)) errors.push({ path: `/pipeline/${i}/as`, message: `'${step.as}' is a field of the input: pick another name` });
    const earlier = named.get(step.as);
    if (earlier !== undefined) errors.push({ path: `/pipeline/${i}/as`, message: `'${step.as}' is already the name of step ${earlier}` });
    named.set(step.as, i);
    if (step.step === 'policy') {
      try {
        compileFactSchema(step.outputSchema, `/pipeline/${i}/outputSchema`);
      } catch (e) {
        if (e instanceof DomainError) throw e;
        errors.push({ path: `/pipeline/${i}/outputSchema`, message: `is not a valid JSON Schema 2020-12: ${(e as Error).message}` });
      }
      if (step.reasons?.effect !== undefined && !outcomes.has(step.reasons.effect)) {
        errors.push({ path: `/pipeline/${i}/reasons/effect`, message: `'${step.reasons.effect}' is not one of the outcomes (${doc.outcomes.join(', ')})` });
      }
    }
  });
  // The decision document's own fields: a type's output or copied case field must not replace them.
  const reserved = new Set(['id', 'tenant', 'type', 'domain', 'createdAt', 'outcome', 'reasons', 'trace', 'release']);
  const outputNames = new Set(Object.keys(doc.output ?? {}));
  for (const name of outputNames) {
    // refundId: the stored-decision replay reads it next to the outputs.
    if (reserved.has(name) || name === 'refundId') errors.push({ path: `/output/${name}`, message: `'${name}' is a field of every decision: pick another name` });
  }
  for (const [j, f] of (doc.caseFields ?? []).entries()) {
    if (reserved.has(f)) errors.push({ path: `/caseFields/${j}`, message: `'${f}' is a field of every decision: it cannot be copied from the case` });
    else if (outputNames.has(f)) errors.push({ path: `/caseFields/${j}`, message: `'${f}' is also an output field` });
  }
  for (const [name, field] of Object.entries(doc.output ?? {})) {
    for (const [j, o] of (field.when ?? []).entries()) {
      if (!outcomes.has(o)) errors.push({ path: `/output/${name}/when/${j}`, message: `'${o}' is not one of the outcomes (${doc.outcomes.join(', ')})` });
    }
  }
  if (doc.caseRef !== undefined) {
    try {
      if (undeclaredAt(doc.input, parsePointer(doc.caseRef))) errors.push({ path: '/caseRef', message: `${doc.caseRef} is not declared by the input schema` });
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      errors.push({ path: '/input', message: e.message });
    }
  }
  const declared = (pointer: string): boolean => {
    try {
      return !undeclaredAt(doc.input, parsePointer(pointer));
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return false;
    }
  };
  if (doc.lifecycle === 'refund') {
    for (const p of REFUND_LIFECYCLE_FIELDS) if (!declared(p)) errors.push({ path: '/lifecycle', message: `a refund lifecycle reads ${p}, which the input schema does not declare` });
  }
  if (doc.review) {
    if (!outcomes.has(doc.review.when)) errors.push({ path: '/review/when', message: `'${doc.review.when}' is not one of the outcomes (${doc.outcomes.join(', ')})` });
    for (const k of ['amount', 'currency'] as const) {
      if (!declared(doc.review[k])) errors.push({ path: `/review/${k}`, message: `${doc.review[k]} is not declared by the input schema` });
    }
  }
  errors.push(...historyProblems(doc, declared, named));
  errors.push(...personalDataProblems(doc));
  errors.push(...canonicalFormProblems(doc, authored));
  // Checks added after types were first stored: an upload passes them, a stored type is loaded without them (refusing
  // it now would take down the release it serves in, and every replay of its decisions).
  if (authored) errors.push(...authoringProblems(doc));
  for (const [j, f] of (doc.caseFields ?? []).entries()) {
    if (!inputFields.has(f)) errors.push({ path: `/caseFields/${j}`, message: `'${f}' is not a property of the input schema` });
  }
  for (const [j, c] of (doc.tests?.cases ?? []).entries()) {
    if (!outcomes.has(c.expect.outcome)) {
      errors.push({ path: `/tests/cases/${j}/expect/outcome`, message: `'${c.expect.outcome}' is not one of the outcomes (${doc.outcomes.join(', ')})` });
    }
    for (const name of Object.keys(c.features ?? {})) {
      if (!Object.hasOwn(doc.features ?? {}, name)) errors.push({ path: pointer('tests', 'cases', j, 'features', name), message: `'${name}' is not a feature of this type` });
    }
  }
  if (errors.length > 0) throw invalid(json, errors);
  inputValidators.set(doc, inputValidator!);
  return doc;
}

/** The input validator compiled by validateDecisionType (or compiled now for a document that did not pass through it). */
export function inputValidatorOf(doc: DecisionTypeDocument): ValidateFunction {
  let v = inputValidators.get(doc);
  if (!v) {
    v = compileFactSchema(doc.input);
    inputValidators.set(doc, v);
  }
  return v;
}

/**
 * What a schema cannot say about `history` and `features`: every pointer names a declared case field, a feature's
 * entity is one the type records, the `features` fact shadows nothing, a ledger source is keyed by account.
 */
function historyProblems(doc: DecisionTypeDocument, declared: (pointer: string) => boolean, stepNames: ReadonlyMap<string, number>): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const h = doc.history;
  if (h) {
    if (!declared(h.at)) errors.push({ path: '/history/at', message: `${h.at} is not declared by the input schema` });
    for (const [name, p] of Object.entries(h.entities)) {
      // The customer names the data subject a lookup and an erasure find by one id, and the ledger keys its events by the
      // account id alone: never a composite key.
      if (name === 'customer' && typeof p !== 'string') errors.push({ path: `/history/entities/${name}`, message: 'customer names the data subject by one field: it takes one pointer, not a composite key' });
      if (name === 'account' && typeof p !== 'string') errors.push({ path: `/history/entities/${name}`, message: 'the ledger records account events by the account id alone: account takes one pointer, not a composite key' });
      // A composite holding a refund's customer id is erased with the customer only when the type records them as `customer`.
      if (typeof p !== 'string' && doc.lifecycle === 'refund' && p.includes('/customerId') && h.entities.customer !== '/customerId') {
        errors.push({ path: `/history/entities/${name}`, message: 'a composite key holding /customerId needs customer: "/customerId" recorded too, so that erasure finds its decisions' });
      }
      for (const [i, q] of entityPointers(p).entries()) {
        if (!declared(q)) errors.push({ path: `/history/entities/${name}${typeof p === 'string' ? '' : `/${i}`}`, message: `${q} is not declared by the input schema` });
      }
    }
    if (h.amount !== undefined && !declared(h.amount)) errors.push({ path: '/history/amount', message: `${h.amount} is not declared by the input schema` });
    for (const [name, p] of Object.entries(h.attributes ?? {})) if (!declared(p)) errors.push({ path: `/history/attributes/${name}`, message: `${p} is not declared by the input schema` });
  }
  if (!doc.features) return errors;
  if (!h) errors.push({ path: '/features', message: 'features read the history at the case\'s time and entity keys: declare `history`' });
  if (Object.hasOwn(doc.input.properties, FEATURES_FACT)) errors.push({ path: '/features', message: `'${FEATURES_FACT}' is a field of the input: the features fact would hide it` });
  const step = stepNames.get(FEATURES_FACT);
  if (step !== undefined) errors.push({ path: `/pipeline/${step}/as`, message: `'${FEATURES_FACT}' is the name of the features fact: pick another name` });
  for (const [name, f] of Object.entries(doc.features)) {
    const at = `/features/${name}`;
    if (h && !Object.hasOwn(h.entities, f.entity)) errors.push({ path: `${at}/entity`, message: `'${f.entity}' is not an entity of history.entities (${Object.keys(h.entities).join(', ')})` });
    if ('ledger' in f.source && f.entity !== 'account') errors.push({ path: `${at}/entity`, message: 'ledger events are keyed by the ledger account: the entity must be account' });
    if (windowMs(f.window) === undefined) errors.push({ path: `${at}/window`, message: `${f.window} is not <n>m, <n>h or <n>d` });
    if (f.includeLater === true && f.aggregate === 'firstSeen') errors.push({ path: `${at}/includeLater`, message: 'firstSeen is the time since the earliest event before the case: a window without an end has none' });
    if (f.caller !== undefined && !declared(f.caller)) errors.push({ path: `${at}/caller`, message: `${f.caller} is not declared by the input schema` });
    const named = 'decisions' in f.source ? f.source.decisionId : undefined;
    if (named !== undefined && !declared(named)) errors.push({ path: `${at}/source/decisionId`, message: `${named} is not declared by the input schema` });
    if (f.combine !== undefined && f.combine !== 'platform' && f.caller === undefined) errors.push({ path: `${at}/combine`, message: `combine ${f.combine} needs a caller value: declare caller` });
  }
  return errors;
}

/**
 * A personal field stays out of what is answered and kept beyond the case: not copied into the decision document
 * (caseFields), not the case's name in events and simulations (caseRef), so erasing the case erases it. And every
 * `x-pii` mark must be where the platform applies it (through properties and items), or the value would be kept in clear.
 */
function personalDataProblems(doc: DecisionTypeDocument): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  for (const at of unreachablePersonalMarks(doc.input)) {
    errors.push({ path: `/input${at}`, message: 'x-pii is applied through properties, items and prefixItems only: here it would be ignored and the value kept in clear' });
  }
  const personal = personalFields(doc.input).map(fieldPointer);
  for (const [j, f] of (doc.caseFields ?? []).entries()) {
    if (personal.includes(`/${f}`)) errors.push({ path: `/caseFields/${j}`, message: `'${f}' is personal (x-pii): it is kept in the case only, never copied into the decision` });
  }
  if (doc.caseRef !== undefined && personal.some((p) => doc.caseRef === p || doc.caseRef!.startsWith(`${p}/`))) {
    errors.push({ path: '/caseRef', message: `${doc.caseRef} is personal (x-pii): a case's name is shown in events and simulations` });
  }
  return errors;
}

/**
 * Every `format` a field's subschema names, through allOf/anyOf/oneOf/then/else and local `$ref`s (not `not`, which
 * forbids, nor `if`, which asks): what its values must also be, wherever the schema says it.
 */
function formatsWithin(node: unknown, root: unknown, seen = new Set<unknown>()): string[] {
  if (node === null || typeof node !== 'object' || seen.has(node)) return [];
  seen.add(node);
  if (Array.isArray(node)) return node.flatMap((x) => formatsWithin(x, root, seen));
  const s = node as Record<string, unknown>;
  const out = typeof s.format === 'string' ? [s.format] : [];
  if (typeof s.$ref === 'string') out.push(...formatsWithin(localRef(root, s.$ref), root, seen));
  for (const k of ['allOf', 'anyOf', 'oneOf', 'then', 'else'] as const) out.push(...formatsWithin(s[k], root, seen));
  return out;
}

/** What a local `$ref` (`#/$defs/x`) names in `root`; undefined for any other. */
function localRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let at: unknown = root;
  try {
    for (const t of parsePointer(ref.slice(1))) at = at !== null && typeof at === 'object' && Object.hasOwn(at, t) ? (at as Record<string, unknown>)[t] : undefined;
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    return undefined;
  }
  return at;
}

/** Whether a field's subschema lists its values anywhere (`enum`, `const`), through every keyword holding subschemas. */
function listsValues(node: unknown): 'enum' | 'const' | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  if (Array.isArray(node)) {
    for (const x of node) {
      const found = listsValues(x);
      if (found) return found;
    }
    return undefined;
  }
  const s = node as Record<string, unknown>;
  if (s.enum !== undefined) return 'enum';
  if (s.const !== undefined) return 'const';
  for (const k of ['allOf', 'anyOf', 'oneOf', 'if', 'then', 'else', 'not', '$defs'] as const) {
    const found = listsValues(s[k]);
    if (found) return found;
  }
  return undefined;
}

/** `ipv4` or `ipv6` alternatives (anyOf): the ip form's output is an IPv4 address or an IPv6 one, so one of them holds. */
function ipAlternatives(form: CanonicalForm, formats: readonly (string | undefined)[]): boolean {
  return form === 'ip' && formats.includes('ipv4') && formats.every((x) => x === 'ipv4' || x === 'ipv6');
}

/** The formats a canonical form keeps valid: an IPv4 address stays one; a lower-cased e-mail address stays one. */
const FORMATS_KEPT: Record<CanonicalForm, readonly string[]> = { ip: ['ipv4'], 'ip-network': ['ipv4'], code: [], email: ['email', 'idn-email'] };

/**
 * An `x-canonical` mark rewrites a string, where the platform applies marks, and never a customer id: a subject-access
 * lookup and an erasure find a customer by the id as sent (x-canonical came after every stored type: checked always).
 */
function canonicalFormProblems(doc: DecisionTypeDocument, authored: boolean): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  for (const at of unreachableCanonicalMarks(doc.input)) {
    errors.push({ path: `/input${at}`, message: 'x-canonical is applied through properties, items and prefixItems only: here it would be ignored' });
  }
  // What finds a refund, its order, customer and reward by the id the caller sends (GET /v1/refunds/{refundId}, lookups,
  // erasure), and the customer entity: kept as sent.
  const customer = doc.history?.entities.customer;
  const asSent = [...(doc.lifecycle === 'refund' ? lifecyclePointers() : []), ...(typeof customer === 'string' ? [customer] : [])];
  const marks = markedFields(doc.input, 'x-canonical');
  const forms = new Map<string, string>();
  for (const m of marks) {
    const field = fieldPointer({ path: m.path, treatment: 'hash' });
    const at = `/input${m.at}/x-canonical`;
    // One form per field: alternatives marking it two ways would rewrite a value into what neither accepts.
    const other = forms.get(field);
    if (other !== undefined && other !== m.value) errors.push({ path: at, message: `${field} is marked "${other}" elsewhere: a field takes one canonical form` });
    forms.set(field, m.value);
    // The form rewrites what the schema validated: a listed value would no longer be one (`web` becomes `WEB`), wherever
    // the field's schema lists it (allOf, if/then/else, …).
    const listed = listsValues(m.node);
    if (listed) errors.push({ path: at, message: `${field} is ${listed === 'enum' ? 'an enum' : 'a const'}: its canonical form (${m.value}) may not be one of the values it allows` });
  }
  const checked = new Set<string>();
  // Formats under allOf/if/then (and $refs inside them) came after x-canonical was first stored: an upload checks them.
  const formatsOf = new Map<string, string[]>();
  for (const m of authored ? marks : []) {
    const field = fieldPointer({ path: m.path, treatment: 'hash' });
    formatsOf.set(field, [...(formatsOf.get(field) ?? []), ...formatsWithin(m.node, doc.input)]);
  }
  for (const m of marks) {
    const f = { path: m.path, form: m.value as CanonicalForm };
    const at = `/input${schemaLocation(doc.input, f.path)}/x-canonical`;
    const field = fieldPointer({ path: f.path, treatment: 'hash' });
    if (checked.has(field)) continue; // marked in several alternatives: the field is checked once
    checked.add(field);
    const declaredField = declaredAt(doc.input, f.path.map((t) => (t === '*' ? ANY_ELEMENT : t)));
    if (!onlyTypes(declaredField, ['string', 'null'])) {
      errors.push({ path: at, message: `x-canonical "${f.form}" rewrites a string: ${field} must be declared a string` });
    } else {
      // As declared at the field, and wherever its own subschema says more (allOf, if/then, a $ref inside them).
      const formats = [...new Set([...declaredField!.formats.filter((x) => x !== undefined), ...(formatsOf.get(field) ?? [])])];
      if (formats.some((x) => !FORMATS_KEPT[f.form].includes(x)) && !ipAlternatives(f.form, formats)) {
        // history.at (a date-time) among them: a form would make it no time, and the case would record nothing.
        errors.push({ path: at, message: `${field} is declared with format ${formats.join(', ')}: its canonical form (${f.form}) may not keep it` });
      }
    }
    const id = asSent.find((p) => covers(f.path, p));
    if (id !== undefined) {
      const what = id === customer || id === '/customerId' ? 'the customer id, which subject-access lookups and erasure find' : `${id}, which the refund lifecycle finds`;
      errors.push({ path: at, message: `${field} holds ${what} as sent: it takes no canonical form` });
    }
  }
  return errors;
}

/**
 * What an upload must also pass (validateDecisionType's `authored`), checks that came after types were first stored:
 * history and features that would silently count nothing, or fail every decision with a 400 the caller cannot fix.
 */
function authoringProblems(doc: DecisionTypeDocument): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const personal = personalFields(doc.input);
  const h = doc.history;
  // An undeclared pointer is refused already; a declared one whose field cannot be resolved fails these checks.
  const declared = (p: string) => {
    try {
      return !undeclaredAt(doc.input, parsePointer(p));
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return false;
    }
  };
  if (h) {
    const at = fieldAt(doc, h.at);
    if (declared(h.at) && !(at && isRecordedTime(at))) {
      errors.push({ path: '/history/at', message: `${h.at} must be a required string of format date-time: each decision is recorded at it, and a case without one would record nothing` });
    }
    // What the history records is read after personal fields are treated: a dropped one is never there, and a
    // pseudonymized time is no time.
    const recorded: [string, string][] = [
      ['/history/at', h.at],
      ...Object.entries(h.entities).flatMap(([n, p]) => entityPointers(p).map((q, i): [string, string] => [`/history/entities${pointer(n)}${typeof p === 'string' ? '' : `/${i}`}`, q])),
    ];
    if (h.amount !== undefined) recorded.push(['/history/amount', h.amount]);
    for (const [n, p] of Object.entries(h.attributes ?? {})) recorded.push([`/history/attributes${pointer(n)}`, p]);
    for (const [path, p] of recorded) {
      const field = personal.find((f) => (f.treatment === 'drop' || path === '/history/at' || path === '/history/amount') && covers(f.path, p));
      if (field) errors.push({ path, message: `${p} is ${field.treatment === 'drop' ? 'dropped' : 'pseudonymized'} before the history records it (x-pii "${field.treatment}" at ${fieldPointer(field)}): it would never be counted` });
    }
  }
  for (const [name, f] of Object.entries(doc.features ?? {})) {
    if (f.caller !== undefined && declared(f.caller) && !onlyTypes(fieldAt(doc, f.caller), ['integer', 'number', 'null'])) {
      errors.push({ path: `/features/${name}/caller`, message: `${f.caller} must be declared a number: the feature's value is combined with it and written there` });
    }
  }
  const canonical = canonicalFields(doc.input);
  for (const [name, f] of Object.entries(doc.features ?? {})) {
    const named = 'decisions' in f.source ? f.source.decisionId : undefined;
    if (named === undefined || !declared(named)) continue;
    const at = `/features/${name}/source/decisionId`;
    // Read after the case's personal fields and canonical forms are applied: a pseudonym or a rewritten id names no decision.
    const field = personal.find((p) => covers(p.path, named));
    if (field) errors.push({ path: at, message: `${named} is ${field.treatment === 'drop' ? 'dropped' : 'pseudonymized'} before features are read (x-pii "${field.treatment}" at ${fieldPointer(field)}): it would name no decision` });
    else if (canonical.some((c) => covers(c.path, named))) errors.push({ path: at, message: `${named} is put in a canonical form (x-canonical) before features are read: a decision id is matched as sent` });
    const declaredField = fieldAt(doc, named);
    if (!onlyTypes(declaredField, ['string', 'null'])) errors.push({ path: at, message: `${named} must be declared a string: a decision id` });
    else if (declaredField!.formats.some((x) => x !== undefined && x !== 'uuid')) {
      errors.push({ path: at, message: `${named} is declared with format ${declaredField!.formats.filter((x) => x !== undefined).join(', ')}: it could never hold a decision id` });
    }
  }
  for (const f of personal) {
    if (f.treatment === 'drop' || onlyTypes(declaredAt(doc.input, f.path.map((t) => (t === '*' ? ANY_ELEMENT : t))), ['string', 'null'])) continue;
    errors.push({ path: `/input${schemaLocation(doc.input, f.path)}/x-pii`, message: `x-pii "${f.treatment}" replaces the value with a string pseudonym: ${fieldPointer(f)} must be declared a string` });
  }
  return errors;
}

/** What an upload must also pass, for a document validateDecisionType has read (without `authored`). */
export function checkAuthoredType(doc: DecisionTypeDocument): void {
  const errors = authoringProblems(doc);
  if (errors.length > 0) throw invalid(doc, errors);
}

/** A personal field's path (`*` for any array index) is the pointer's field or one it is inside. */
function covers(field: readonly string[], p: string): boolean {
  const tokens = parsePointer(p);
  return tokens.length >= field.length && field.every((t, i) => (t === '*' ? /^[0-9]+$/.test(tokens[i]!) || tokens[i] === '*' : t === tokens[i]));
}

/** What the input schema declares at a pointer (declared: checked before). */
function fieldAt(doc: DecisionTypeDocument, p: string): DeclaredField | undefined {
  try {
    return declaredAt(doc.input, parsePointer(p));
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    return undefined;
  }
}

/** Every type the field may have is one of `allowed` (an unconstrained field may be anything: not so). */
function onlyTypes(f: DeclaredField | undefined, allowed: readonly string[]): boolean {
  return f?.types !== undefined && [...f.types].every((t) => allowed.includes(t));
}

function isRecordedTime(f: DeclaredField): boolean {
  return f.required && onlyTypes(f, ['string']) && f.formats.length > 0 && f.formats.every((x) => x === 'date-time');
}

/** The schema location of a personal field's instance path: properties by name, `*` through items, an index through prefixItems. */
function schemaLocation(schema: Record<string, unknown>, path: readonly string[]): string {
  let at = '';
  let node: unknown = schema;
  for (const t of path) {
    const s = (node ?? {}) as Record<string, unknown>;
    const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : undefined;
    if (t === '*') [at, node] = [`${at}/items`, s.items];
    else if (prefix && /^[0-9]+$/.test(t) && Number(t) < prefix.length) [at, node] = [`${at}/prefixItems/${t}`, prefix[Number(t)]];
    else [at, node] = [`${at}/properties/${t.replaceAll('~', '~0').replaceAll('/', '~1')}`, (s.properties as Record<string, unknown> | undefined)?.[t]];
  }
  return at;
}
