/** Compiles request JSON Schemas once (ajv, 2020-12) and turns every violation into a path-named ErrorDetail. */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { DomainError } from '../errors/index.js';
import { ajvErrorsToDetails, newAjv } from '../rules/schema.js';

// One ajv for every request schema: the same settings and error wording as rule packs' fact schemas.
const ajv = newAjv();

export class SchemaValidator<T> {
  private readonly fn: ValidateFunction;
  constructor(schema: object, private readonly what: string) {
    this.fn = ajv.compile(schema);
  }

  /** Returns the value typed, or throws a 400-kind DomainError listing every offending path. */
  validate(value: unknown, pathPrefix = ''): T {
    if (this.fn(value)) return value as T;
    // oneOf/anyOf summaries add nothing: their branches already name the field.
    const errors = ajvErrorsToDetails(this.fn.errors?.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf'), pathPrefix).map((d) =>
      d.path === '' ? { ...d, path: '/' } : d,
    );
    throw new DomainError('VALIDATION_FAILED', `${this.what} is invalid: ${errors.length} problem(s)`, 'invalid', errors);
  }
}
