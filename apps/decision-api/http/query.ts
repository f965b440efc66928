/** Parses list query strings (limit, cursor, enums, times) collecting every problem, per api-contract.md §2. */
import { DomainError, type ErrorDetail } from '../../../libs/errors/index.js';
import { instantOf } from '../../../libs/names/index.js';

export class QueryParser {
  readonly errors: ErrorDetail[] = [];
  constructor(private readonly q: Record<string, unknown>) {}

  private raw(name: string): string | undefined {
    const v = this.q[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') {
      this.errors.push({ path: `query:${name}`, message: 'must be given once' });
      return undefined;
    }
    return v;
  }

  int(name: string, def: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      this.errors.push({ path: `query:${name}`, message: `must be an integer from ${min} to ${max}` });
      return def;
    }
    return n;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      this.errors.push({ path: `query:${name}`, message: `must be one of ${values.join(', ')}` });
      return undefined;
    }
    return v as T;
  }

  /** A value matching `pattern` (a name, an upper-snake code), for vocabularies that are data rather than code. */
  matching(name: string, pattern: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v.length > 100 || !new RegExp(pattern).test(v)) {
      this.errors.push({ path: `query:${name}`, message: `must match ${pattern}` });
      return undefined;
    }
    return v;
  }

  fail(name: string, message: string): void {
    this.errors.push({ path: `query:${name}`, message });
  }

  dateTime(name: string): Date | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    // Years 0001–9999 of the instant, offset applied (libs/names): PostgreSQL has no year 0 and cannot read 10000.
    const t = /^\d{4}-\d{2}-\d{2}T/.test(v) ? instantOf(v) : undefined;
    if (t === undefined) {
      this.errors.push({ path: `query:${name}`, message: 'must be an RFC 3339 date-time from year 0001 to 9999' });
      return undefined;
    }
    return new Date(t);
  }

  string(name: string): string | undefined {
    return this.raw(name);
  }

  /** Throws one 400 naming every bad parameter. */
  done(): void {
    if (this.errors.length) {
      throw new DomainError('VALIDATION_FAILED', `Query is invalid: ${this.errors.length} problem(s)`, 'invalid', this.errors);
    }
  }
}
