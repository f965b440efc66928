/** A small client for the decision API: bearer key, a fresh Idempotency-Key per mutating call, problem+json errors. */
import { randomUUID } from 'node:crypto';

export interface ProblemDetail {
  path: string;
  message: string;
  rule?: string;
}

/** The API refused the call: status and its problem+json document. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: ProblemDetail[],
    readonly problem: unknown,
  ) {
    super(`${code}: ${detail}`);
  }
}

/** The API could not be reached at all. */
export class ConnectionError extends Error {}

export interface ClientOptions {
  url: string;
  key?: string;
  /** Used for the next mutating call instead of a fresh one (`--idempotency-key`). */
  idempotencyKey?: string;
}

export interface Answer<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export class ApiClient {
  private fixedKey: string | undefined;

  constructor(private readonly o: ClientOptions) {
    this.fixedKey = o.idempotencyKey;
  }

  get baseUrl(): string {
    return this.o.url.replace(/\/+$/, '');
  }

  get<T = unknown>(path: string): Promise<Answer<T>> {
    return this.call<T>('GET', path);
  }

  /** A state-changing POST: sends the `--idempotency-key` once, else a fresh UUID. */
  post<T = unknown>(path: string, body?: unknown): Promise<Answer<T>> {
    return this.call<T>('POST', path, body === undefined ? undefined : { bytes: JSON.stringify(body), type: 'application/json' }, true);
  }

  postBytes<T = unknown>(path: string, bytes: Uint8Array, type: string): Promise<Answer<T>> {
    return this.call<T>('POST', path, { bytes, type }, true);
  }

  private async call<T>(method: string, path: string, body?: { bytes: string | Uint8Array; type: string }, mutating = false): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.o.key) headers.authorization = `Bearer ${this.o.key}`;
    if (body) headers['content-type'] = body.type;
    if (mutating) {
      headers['idempotency-key'] = this.fixedKey ?? randomUUID();
      this.fixedKey = undefined;
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, ...(body ? { body: body.bytes } : {}) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ConnectionError(`cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (e as Error).message} (set --url or DECISIONS_URL)`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (res.status >= 400) {
      const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { code?: string; detail?: string; title?: string; errors?: ProblemDetail[] };
      throw new ApiError(res.status, p.code ?? `HTTP_${res.status}`, p.detail ?? p.title ?? (text || res.statusText), Array.isArray(p.errors) ? p.errors : [], parsed);
    }
    return { status: res.status, body: parsed as T, replayed: res.headers.get('idempotent-replayed') === 'true' };
  }
}
