/**
 * The decorators that document a route's HTTP contract in the OpenAPI document: its success answer (status and schema),
 * every problem+json answer it can give, and its list parameters. Schemas are named components (openapi/components.ts);
 * a route names them, it never restates them.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { PAGE } from '../http/query.js';
import type { ComponentName } from './components.js';

export const PROBLEM_TYPE = 'application/problem+json';

/** Security schemes: API keys (every /v1 route but the admin ones) and the operator's ADMIN_TOKEN (/v1/admin). */
export const API_KEY_SCHEME = 'bearer';
export const ADMIN_TOKEN_SCHEME = 'admin-token';
/** GET /metrics: open unless METRICS_TOKEN is set (security [{}, {metrics-token}]). */
export const METRICS_TOKEN_SCHEME = 'metrics-token';

/** A reference to a named schema of the document's components. */
export const ref = (name: ComponentName): SchemaObject => ({ $ref: `#/components/schemas/${name}` }) as SchemaObject;

/** A page of a list (api-contract.md §2): `{items, nextCursor}`; nextCursor is null on the last page. */
export const page = (item: ComponentName): SchemaObject =>
  ({
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref(item) }, nextCursor: { type: ['string', 'null'], description: 'Opaque; pass as ?cursor= for the next page; null on the last page.' } },
  });

/** Why each problem status is answered; a route lists the ones it can give. */
const PROBLEM_DESCRIPTIONS = {
  400: 'Bad request: malformed JSON, a wrong field, query parameter, path parameter or header (a missing Host on any route); `errors` names each (VALIDATION_FAILED, MALFORMED_JSON, IDEMPOTENCY_KEY_MISSING, CURSOR_INVALID, …)',
  401: 'Missing, unknown, revoked or expired credentials (UNAUTHENTICATED)',
  403: 'The key lacks the role this call needs (FORBIDDEN), or a business rule forbids this key (e.g. FOUR_EYES_SAME_REVIEWER)',
  404: "Not found, or another tenant's (answered alike)",
  409: 'Conflict with stored state (e.g. the same name@version with other content, a claimed review, IDEMPOTENCY_KEY_IN_PROGRESS)',
  410: 'Gone: the data needed was erased (DECISION_ERASED)',
  413: 'Body too large (PAYLOAD_TOO_LARGE): 1 MiB, 10 MiB for a policy bundle',
  415: 'The body is not of a media type this route takes (UNSUPPORTED_MEDIA_TYPE)',
  422: 'A business refusal with a stable `code`, or an Idempotency-Key reused for another request (IDEMPOTENCY_KEY_REUSED)',
  429: 'Rate limited (RATE_LIMITED): per API key, or per source address after failed authentications; see Retry-After',
  503: 'Unavailable: the database is away (DATABASE_UNAVAILABLE) or the service is not ready; see Retry-After',
} as const;
export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;

/**
 * Any route behind an API key: a malformed request (400: every route refuses one, e.g. without Host), no key or a bad
 * one (401), the per-key or per-address limit (429), the database away (503).
 */
export const KEYED: readonly ProblemStatus[] = [400, 401, 429, 503];
/** A route behind an API key that needs a role. */
export const ROLE: readonly ProblemStatus[] = [...KEYED, 403];
/** A route that reads query parameters. */
export const QUERY: readonly ProblemStatus[] = [400];
/** A route that takes a JSON body. */
export const JSON_BODY: readonly ProblemStatus[] = [400, 413, 415];
/** An @IdempotentCommand route: key missing or malformed (400), the same key in flight (409), reused for another request (422). */
export const IDEMPOTENT: readonly ProblemStatus[] = [400, 409, 422];

export interface Success {
  status: 200 | 201 | 202 | 204;
  description: string;
  /** The body's schema; absent only for 204. */
  schema?: SchemaObject;
  /** The media type (default application/json). */
  type?: string;
  /**
   * A stream of items (application/x-ndjson): `schema` is then `{type: string}` (the body is text) and this, emitted as
   * the media type's `x-item-schema`, is each line's schema.
   */
  itemSchema?: SchemaObject;
}

/** The response object of a problem status (also used for routes documented outside the decorators). */
export function problemResponseObject(status: ProblemStatus) {
  return { description: PROBLEM_DESCRIPTIONS[status], ...PROBLEM_HEADERS[status], content: { [PROBLEM_TYPE]: { schema: ref('Problem') } } };
}

/** Headers problem.ts's sendProblem adds: when to come back (429, 503), where the existing object is (409). */
const PROBLEM_HEADERS: Partial<Record<ProblemStatus, { headers: Record<string, { description: string; schema: SchemaObject }> }>> = {
  409: { headers: { Location: { description: 'Where the existing object is, when the conflict names one (REFUND_EXISTS)', schema: { type: 'string' } } } },
  429: { headers: { 'Retry-After': { description: 'Seconds until a retry can succeed', schema: { type: 'integer', minimum: 0 } } } },
  503: { headers: { 'Retry-After': { description: 'Seconds until a retry can succeed', schema: { type: 'integer', minimum: 0 } } } },
};

function problemResponse(status: ProblemStatus) {
  return ApiResponse({ status, ...problemResponseObject(status) });
}

/**
 * A route's answers: its success answer(s) and the problem+json answers it can give (deduplicated; groups such as ROLE,
 * JSON_BODY and IDEMPOTENT compose). Declaring answers replaces the generator's guess (POST → 201).
 */
export function ApiAnswers(success: Success | Success[], ...problems: (ProblemStatus | readonly ProblemStatus[])[]): MethodDecorator {
  const successes = Array.isArray(success) ? success : [success];
  const statuses = [...new Set(problems.flat())].sort((a, b) => a - b);
  return applyDecorators(
    ...successes.map((s) =>
      ApiResponse({
        status: s.status,
        description: s.description,
        ...(s.schema ? { content: { [s.type ?? 'application/json']: { schema: s.schema, ...(s.itemSchema ? { 'x-item-schema': s.itemSchema } : {}) } } } : {}),
      }),
    ),
    ...statuses.map(problemResponse),
  );
}

/** `?limit=&cursor=` of a list (api-contract.md §2). */
export function ApiPageQuery(): MethodDecorator {
  return applyDecorators(
    ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: PAGE.maxLimit, default: PAGE.defaultLimit }, description: 'Items per page' }),
    ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' }, description: 'The nextCursor of the previous page (opaque)' }),
  );
}

export interface Filter {
  name: string;
  description?: string;
  schema?: Record<string, unknown>;
  enum?: readonly string[];
}

/** Optional query parameters of a list's filters. */
export function ApiFilters(...filters: Filter[]): MethodDecorator {
  return applyDecorators(
    ...filters.map((f) =>
      ApiQuery({
        name: f.name,
        required: false,
        ...(f.description ? { description: f.description } : {}),
        schema: (f.enum ? { type: 'string', enum: [...f.enum] } : (f.schema ?? { type: 'string' })) as SchemaObject,
      }),
    ),
  );
}

export const DATE_TIME = { type: 'string', format: 'date-time' } as const;
