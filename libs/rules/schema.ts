/** JSON Schema plumbing: the pack schema, fact-schema compilation, and ajv errors as ErrorDetail. */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { ErrorDetail } from '../errors/index.js';
import { instantOf } from '../names/index.js';

const rfc3339 = fullFormats['date-time'] as { validate: (s: string) => boolean };

export type { ValidateFunction };

export function newAjv(verbose = false, discriminator = false): Ajv2020 {
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
  });
  addFormats.default(ajv);
  // A date-time is also an instant the platform can compute with and store: one Date reads (RFC 3339 allows a leap
  // second, ajv-formats a bare-hour offset; Date reads neither) in years 0001–9999 (libs/names). Past that: a 500.
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339.validate(s) && instantOf(s) !== undefined });
  return ajv;
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
 * Compiles a pack's factSchema. A fresh Ajv per schema: two packs may declare the same `$id`,
 * which one shared instance would refuse.
 */
export function compileFactSchema(schema: unknown): ValidateFunction {
  return newAjv().compile(schema as Record<string, unknown>);
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
      return { path, message: `must be a valid ${String(params.format)}` };
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
