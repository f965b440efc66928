/**
 * Query strings: which parameters a route takes (@QueryParams, enforced for every route by QueryParamsGuard), and
 * parsing their values (limit, cursor, enums, times) collecting every problem, per api-contract.md §2.
 */
import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError, type ErrorDetail } from '../../../libs/errors/index.js';
import { instantOf } from '../../../libs/names/index.js';

export const QUERY_PARAMS_KEY = 'query-params';
export const QUERY_CHECKED_BY_HANDLER_KEY = 'query-checked-by-handler';

/** The query parameters a route takes; any other is 400 naming it. A route without this decorator takes none. */
export const QueryParams = (...names: string[]) => SetMetadata(QUERY_PARAMS_KEY, names);

/**
 * For a route that checks its own credentials (ADMIN_TOKEN, METRICS_TOKEN) instead of an API key: QueryParamsGuard
 * leaves it alone and the handler calls refuseUnknownQuery() after authorising, so the 400 never answers before the
 * 401/403/404 (it would reveal a route meant to look absent).
 */
export const QueryCheckedByHandler = () => SetMetadata(QUERY_CHECKED_BY_HANDLER_KEY, true);

const NONE: readonly string[] = [];

/** Page sizes of every list. */
export const PAGE = { defaultLimit: 50, maxLimit: 500 } as const;

/** Names as a list for a sentence: the first ten, each cut at 100 characters (a URL may hold 16 KiB of them). */
function listed(names: readonly string[]): string {
  // `?=x` has a parameter with an empty name: quoted, so the sentence does not end in nothing.
  const shown = names.slice(0, 10).map((n) => (n === '' ? '""' : n.length > 100 ? `${n.slice(0, 100)}…` : n));
  return names.length > 10 ? `${shown.join(', ')} and ${names.length - 10} more` : shown.join(', ');
}

/** The 400 for parameters a route does not take: every one named, with what the route does take. */
export function unknownQueryParameters(unknown: readonly string[], allowed: readonly string[]): DomainError {
  const takes = allowed.length === 0 ? 'this route takes no query parameters' : `this route takes ${allowed.join(', ')}`;
  return new DomainError(
    'VALIDATION_FAILED',
    `Unknown query parameter${unknown.length === 1 ? '' : 's'}: ${listed(unknown)} (${takes})`,
    'invalid',
    unknown.map((name) => ({ path: `query:${name}`, message: `is not a query parameter of this route (${takes})` })),
  );
}

/** The 400 when `query` holds a parameter not in `allowed`; nothing when the request had no query string. */
export function refuseUnknownQuery(url: string, query: unknown, allowed: readonly string[] = NONE): void {
  if (url.indexOf('?') === -1) return;
  const unknown = Object.keys((query as Record<string, unknown> | undefined) ?? {}).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw unknownQueryParameters(unknown, allowed);
}

/**
 * Every route, one global guard (after authentication by API key; routes with their own credentials check the query
 * themselves after them, @QueryCheckedByHandler): a query parameter the route's @QueryParams does not list is a
 * 400, so a route cannot forget to refuse them and a typo (`?limt=5`) is not silently ignored. A request without a
 * query string (every decision) costs one indexOf.
 */
@Injectable()
export class QueryParamsGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (req.url.indexOf('?') === -1) return true;
    const handler = ctx.getHandler();
    if (this.reflector.getAllAndOverride<boolean>(QUERY_CHECKED_BY_HANDLER_KEY, [handler, ctx.getClass()])) return true;
    refuseUnknownQuery(req.url, req.query, this.reflector.get<readonly string[] | undefined>(QUERY_PARAMS_KEY, handler) ?? NONE);
    return true;
  }
}

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

  /** `?limit=` (1–500, default 50) and the opaque `?cursor=` of every list (api-contract.md §2). */
  page(): { limit: number; cursor: string | undefined } {
    return { limit: this.int('limit', PAGE.defaultLimit, 1, PAGE.maxLimit), cursor: this.string('cursor') };
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
  matching(name: string, pattern: string, maxLength = 100): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v.length > maxLength || !new RegExp(pattern).test(v)) {
      this.errors.push({ path: `query:${name}`, message: v.length > maxLength ? `must be at most ${maxLength} characters` : `must match ${pattern}` });
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
