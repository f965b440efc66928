/** Compiles JSON Schemas once (ajv, 2020-12) and turns every violation into a path-named ErrorDetail. */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { DomainError, type ErrorDetail } from '../errors/index.js';

// ajv-formats ships CommonJS; under ESM its default export is the plugin function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);

/** Maps an ajv error to a JSON-pointer path naming the offending field (a missing field names itself). */
export function toErrorDetail(e: ErrorObject, prefix = ''): ErrorDetail {
  let path = prefix + e.instancePath;
  let message = e.message ?? 'is invalid';
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      path += `/${String(params.missingProperty)}`;
      message = 'is required';
      break;
    case 'additionalProperties':
      path += `/${String(params.additionalProperty)}`;
      message = 'is not a known field';
      break;
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    default:
      break;
  }
  return { path: path === '' ? '/' : path, message };
}

/** Drops duplicates and the generic oneOf/anyOf summary lines (their branches already name the field). */
function simplify(errors: ErrorObject[], prefix: string): ErrorDetail[] {
  const seen = new Set<string>();
  const out: ErrorDetail[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const d = toErrorDetail(e, prefix);
    const k = `${d.path}\u0000${d.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(d);
    }
  }
  return out;
}

export class SchemaValidator<T> {
  private readonly fn: ValidateFunction;
  constructor(schema: object, private readonly what: string) {
    this.fn = ajv.compile(schema);
  }

  /** Returns the value typed, or throws a 400-kind DomainError listing every offending path. */
  validate(value: unknown, pathPrefix = ''): T {
    if (this.fn(value)) return value as T;
    const errors = simplify(this.fn.errors ?? [], pathPrefix);
    throw new DomainError('VALIDATION_FAILED', `${this.what} is invalid: ${errors.length} problem(s)`, 'invalid', errors);
  }
}
