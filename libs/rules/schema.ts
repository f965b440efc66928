/** JSON Schema plumbing: the pack schema, fact-schema compilation, and ajv errors as ErrorDetail. */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { CURRENCY_FORMAT, instantOf, isCurrencyCode, pointer } from '../names/index.js';
import { checkSchemaLimits, PATTERN_BUDGET_EXCEEDED, SCHEMA_LIMITS, SCHEMA_PATTERN_UNSUPPORTED } from './limits.js';
import { compileLinearRegExp, patternProblem, PatternWorkExceeded, withPatternWork } from './regex.js';

const rfc3339 = fullFormats['date-time'] as { validate: (s: string) => boolean };

export type { ValidateFunction };

/** What the platform does with a case field marked `"x-pii"`: see libs/decisions/types/personal-data.ts. */
export const PII_TREATMENTS = ['hash', 'hash-last4', 'drop'] as const;
export type PiiTreatment = (typeof PII_TREATMENTS)[number];
/** The canonical form a case field marked `"x-canonical"` is put in on the way in: see libs/decisions/types/canonical-forms.ts. */
export const CANONICAL_FORMS = ['ip', 'ip-network', 'code', 'email'] as const;
export type CanonicalForm = (typeof CANONICAL_FORMS)[number];

// ajv's code.regExp: how it builds every `pattern` and `patternProperties` matcher (`code` only names it in generated source).
const linearRegExp = Object.assign((pattern: string, flags: string) => compileLinearRegExp(pattern, flags), { code: 'compileLinearRegExp' });

/**
 * An ajv with the platform's settings. `authored`: for schemas an author supplies (fact schemas, decision-type input and
 * output schemas), whose patterns run on the linear-time engine; the platform's own schemas keep native RegExp.
 */
export function newAjv(verbose = false, discriminator = false, authored = false): Ajv2020 {
  // strict: a typo'd keyword in a factSchema (e.g. "requird") must fail loudly, not be ignored.
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
    verbose,
    // OpenAPI's discriminator: a tagged oneOf reports the errors of the branch its tag names, not of every branch.
    discriminator,
    // ajv checks `properties` names against `patternProperties` with native RegExp: an author's pattern must not run there.
    ...(authored && { code: { regExp: linearRegExp }, allowMatchingProperties: true }),
  });
  addFormats.default(ajv);
  // Personal data in a decision type's case (libs/decisions/types/personal-data.ts): pseudonymized or dropped on the way in.
  ajv.addKeyword({ keyword: 'x-pii', metaSchema: { enum: PII_TREATMENTS } });
  // One form per value a caller may spell several ways (libs/decisions/types/canonical-forms.ts): applied before x-pii.
  ajv.addKeyword({ keyword: 'x-canonical', metaSchema: { enum: CANONICAL_FORMS } });
  // A date-time is also an instant the platform can compute with and store: one Date reads (RFC 3339 allows a leap
  // second, ajv-formats a bare-hour offset; Date reads neither) in years 0001–9999 (libs/names). Past that: a 500.
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => commonDateTime(s) || (rfc3339.validate(s) && instantOf(s) !== undefined) });
  // Money's currency: an ISO 4217 code of list one (libs/names/currency.ts), for the platform's schemas and authors' alike.
  ajv.addFormat(CURRENCY_FORMAT, { type: 'string', validate: isCurrencyCode });
  return ajv;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digit = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
};
const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1);

/**
 * The date-time format's common case, without ajv-formats' split, its two regular expressions and Date.parse (~10% of a
 * refund decision in-process, 2026-12-04): `YYYY-MM-DDTHH:MM:SS[.1–9 digits](Z|±HH:MM)` with an upper-case T and Z, a
 * real calendar date and clock time, in years 0002–9998 (no offset can carry those out of 0001–9999). True only where
 * the full check (ajv-formats' date-time and instantOf) is true too (schema.test.ts holds it to that); false means
 * "not this form", and the full check decides.
 */
export function commonDateTime(s: string): boolean {
  const n = s.length;
  if (n < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  // NaN fails every comparison: a non-digit anywhere lands here as false.
  if (!(year >= 2 && year <= 9998 && month >= 1 && month <= 12 && day >= 1)) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return false;
  if (!(two(s, 11) <= 23 && two(s, 14) <= 59 && two(s, 17) <= 59)) return false;
  let i = 19;
  if (s.charCodeAt(i) === 46) {
    const from = ++i;
    while (i < n && digit(s, i) >= 0) i++;
    // ajv-formats reads the seconds as a number: 59.999999999999999 rounds to 60 there (and is refused). Nine digits
    // (nanoseconds) never round up; longer fractions go to the full check.
    if (i === from || i - from > 9) return false;
  }
  const zone = s.charCodeAt(i);
  if (zone === 90) return i === n - 1;
  if ((zone !== 43 && zone !== 45) || i !== n - 6 || s.charCodeAt(i + 3) !== 58) return false;
  return two(s, i + 1) <= 23 && two(s, i + 4) <= 59;
}

let packValidator: ValidateFunction | undefined;

/** The pack-format validator, compiled on first use. */
export function packSchemaValidator(): ValidateFunction {
  packValidator ??= newAjv(true).compile(loadPackSchema()); // verbose: messages quote the offending value
  return packValidator;
}

export function loadPackSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('./rule-pack.schema.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * Compiles a schema an author supplies (a pack's factSchema, a decision type's input or a policy step's outputSchema):
 * the one way such a schema becomes a validator. It must fit SCHEMA_LIMITS and every pattern must run on the
 * linear-time engine; `at` is the schema's pointer in its document, for the error paths. A fresh Ajv per schema: two
 * packs may declare the same `$id`, which one shared instance would refuse.
 * @throws DomainError SCHEMA_TOO_LARGE, SCHEMA_TOO_COMPLEX, SCHEMA_PATTERN_UNSUPPORTED (every pattern, by pointer);
 *   ajv's Error when the schema is not a valid JSON Schema.
 */
export function compileFactSchema(schema: unknown, at = ''): ValidateFunction {
  checkSchemaLimits(schema, at);
  const problems = patternProblems(schema, at);
  if (problems.length > 0) {
    throw new DomainError(SCHEMA_PATTERN_UNSUPPORTED, `${problems.length} pattern(s) cannot be used; first: ${problems[0]!.path}: ${problems[0]!.message}`, 'unprocessable', problems);
  }
  const validate = newAjv(false, false, true).compile(schema as Record<string, unknown>);
  // An $async validator answers a promise: truthy for every value, and rejected (unobserved: the process exits) for a bad one.
  if ((validate as { $async?: boolean }).$async) throw new Error('$async schemas are not supported: a schema here must validate synchronously');
  return metered(validate);
}

/**
 * `validate` within SCHEMA_LIMITS.maxPatternWork of RE2 work per call: a long value against heavy patterns costs one
 * request a 413, not the process seconds. Reads and writes `errors` through to ajv's function.
 * @throws DomainError PATTERN_BUDGET_EXCEEDED (too_large) from a call over the budget
 */
function metered(validate: ValidateFunction): ValidateFunction {
  const run = function (this: unknown, data: unknown, context?: unknown): boolean {
    try {
      return withPatternWork(SCHEMA_LIMITS.maxPatternWork, () => (validate as (this: unknown, d: unknown, c?: unknown) => boolean).call(this, data, context));
    } catch (e) {
      if (!(e instanceof PatternWorkExceeded)) throw e;
      validate.errors = null;
      throw new DomainError(PATTERN_BUDGET_EXCEEDED, `a value is too long to be checked against the schema's patterns (over ${SCHEMA_LIMITS.maxPatternWork.toLocaleString('en')} units of RE2 work)`, 'too_large');
    }
  };
  Object.defineProperty(run, 'errors', { get: () => validate.errors, set: (v: ValidateFunction['errors']) => (validate.errors = v) });
  return Object.assign(run, { schema: validate.schema, schemaEnv: validate.schemaEnv }) as unknown as ValidateFunction;
}

// Keywords whose value is a schema, a list of schemas, or a map of names to schemas (JSON Schema 2020-12, and the
// older spellings ajv still reads). Values of any other keyword (enum, const, default, examples) are data, not schemas.
const SUBSCHEMA = new Set(['not', 'if', 'then', 'else', 'items', 'additionalItems', 'contains', 'additionalProperties', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties']);
const SUBSCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items']);
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']);

/** Every `pattern` and `patternProperties` key in a schema that the linear-time engine cannot run, by pointer. */
export function patternProblems(schema: unknown, at = ''): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const check = (pattern: string, path: string): void => {
    const problem = patternProblem(pattern);
    if (problem !== undefined) problems.push({ path, message: `pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)}: ${problem}` });
  };
  // Recursion is bounded: checkSchemaLimits has refused schemas nested deeper than SCHEMA_LIMITS.maxDepth.
  const walk = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    for (const [keyword, value] of Object.entries(node as Record<string, unknown>)) {
      const here = `${path}${pointer(keyword)}`;
      if (keyword === 'pattern' && typeof value === 'string') check(value, here);
      if (SUBSCHEMA_MAPS.has(keyword) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [name, sub] of Object.entries(value as Record<string, unknown>)) {
          if (keyword === 'patternProperties') check(name, `${here}${pointer(name)}`);
          walk(sub, `${here}${pointer(name)}`);
        }
      } else if (SUBSCHEMA_LISTS.has(keyword) && Array.isArray(value)) value.forEach((sub: unknown, i) => walk(sub, `${here}/${i}`));
      else if (SUBSCHEMA.has(keyword)) walk(value, here);
    }
  };
  walk(schema, at);
  return problems;
}

/** Friendlier wording for pattern failures, keyed by the property that failed. */
const PATTERN_HINTS: Record<string, string> = {
  name: 'must be lower-kebab-case (e.g. refund-policy)',
  version: 'must be a semantic version (MAJOR.MINOR.PATCH)',
  path: 'only simple paths are supported: $.a.b.c or $.a[0] (no filters, wildcards or recursive descent)',
  fact: 'must be an identifier (letters, digits, _)',
  param: 'must be an identifier (letters, digits, _)',
  type: 'must be UPPER_SNAKE_CASE (e.g. DENY)',
};

/**
 * ajv errors as ErrorDetail (pointer paths under `prefix`), without the noise of if/then/else bookkeeping.
 * `packFormat`: the errors are about a pack file, so pack-specific wording applies (pattern hints, operators).
 */
export function ajvErrorsToDetails(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
  packFormat = false,
): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    if (error.keyword === 'if' || error.keyword === 'propertyNames') continue; // the nested error says it better
    const detail = describe(error, prefix, packFormat);
    const key = `${detail.path}\u0000${detail.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(detail);
  }
  return out;
}

function describe(error: ErrorObject, prefix: string, packFormat: boolean): ErrorDetail {
  const path = prefix + error.instancePath;
  const last = packFormat ? lastSegment(error.instancePath) : undefined;
  const params = error.params as Record<string, unknown>;
  if (error.propertyName !== undefined) {
    return { path: `${path}/${error.propertyName}`, message: `property name '${error.propertyName}' ${error.message ?? 'is invalid'}` };
  }
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      return { path: `${path}/${missing}`, message: `missing required property '${missing}'` };
    }
    case 'additionalProperties':
      return {
        path: `${path}/${String(params.additionalProperty)}`,
        message: `unknown property '${String(params.additionalProperty)}'`,
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      if (last === 'operator') return { path, message: `unknown operator ${quote(error.data)} (known: ${allowed})` };
      const got = error.data === undefined ? '' : ` (got ${quote(error.data)})`;
      return { path, message: `must be one of ${allowed}${got}` };
    }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'pattern': {
      const hint = (last && PATTERN_HINTS[last]) ?? `must match pattern "${String(params.pattern)}"`;
      return { path, message: error.data === undefined ? hint : `${quote(error.data)}: ${hint}` };
    }
    case 'format':
      if (params.format === CURRENCY_FORMAT) return { path, message: 'must be an ISO 4217 currency code (list one, e.g. EUR, USD)' };
      return { path, message: `must be a valid ${String(params.format)}` };
    case 'not': {
      // ajv says "must NOT be valid"; the schema's own description says why (a verbose validator quotes the value).
      const scalar = error.data === null || ['string', 'number', 'boolean'].includes(typeof error.data);
      return { path, message: scalar ? `${quote(error.data)} is not allowed here` : 'is not allowed here' };
    }
    default:
      return { path, message: error.message ?? error.keyword };
  }
}

function lastSegment(pointerPath: string): string | undefined {
  const i = pointerPath.lastIndexOf('/');
  return i < 0 ? undefined : pointerPath.slice(i + 1);
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}
