/** Domain errors: stable machine-readable codes, mapped to HTTP in exactly one place (the API's exception filter). */

/** What kind of failure this is; the HTTP layer maps each kind to one status. Domain code never knows status codes. */
export type ErrorKind =
  | 'invalid' // malformed or mistyped input (400)
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409: immutable object exists with other content
  | 'gone' // 410: existed, and its content was removed on purpose (retention, erasure)
  | 'too_large' // 413
  | 'unsupported_media_type' // 415
  | 'unprocessable' // 422: a business refusal
  | 'rate_limited' // 429
  | 'unavailable'; // 503

export interface ErrorDetail {
  /** JSON path (RFC 6901 pointer style, e.g. `/case/order/items/0/amount`) of the offending value. */
  path: string;
  message: string;
  /** The rule or entrypoint concerned, when there is one. */
  rule?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind,
    readonly errors: ErrorDetail[] = [],
    /** Extra machine-readable fields merged into the problem document (e.g. `reasons`). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
