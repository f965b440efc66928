/**
 * Every call the console makes goes through here: the public API on this origin, with the signed-in key as a bearer
 * token. Answers that are not 2xx become ApiError (the service's problem+json); a 401 signs the tab out.
 */
import { clearSession, loadSession } from './session.js';

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { path?: string; field?: string; message?: string }[];
  requestId?: string;
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly retryAfter?: number,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

/** The service could not be reached at all (offline, refused). */
export class NetworkError extends Error {}

type Listener = () => void;
const signedOut = new Set<Listener>();
/** Called when a call answers 401: the key was revoked or expired while the tab was open. */
export function onSignedOut(l: Listener): () => void {
  signedOut.add(l);
  return () => signedOut.delete(l);
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Sent as Idempotency-Key: state changes the API makes idempotent need one (a retry of the same click is safe). */
  idempotencyKey?: string;
  /** Another key than the session's (sign-in checks a key before keeping it). */
  key?: string;
  signal?: AbortSignal;
  /** Read the answer as text (NDJSON exports). */
  text?: boolean;
}

export async function api<T>(path: string, o: CallOptions = {}): Promise<T> {
  const key = o.key ?? loadSession()?.key;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, {
      method: o.method ?? 'GET',
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: o.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new NetworkError((e as Error).message);
  }
  const text = await res.text();
  if (!res.ok) {
    let problem: Problem = { status: res.status };
    try {
      problem = { ...(JSON.parse(text) as Problem), status: res.status };
    } catch {
      problem.detail = text.slice(0, 200);
    }
    const retry = Number(res.headers.get('retry-after'));
    const err = new ApiError(res.status, problem, Number.isFinite(retry) && retry > 0 ? retry : undefined);
    if (res.status === 401 && !o.key) {
      clearSession();
      for (const l of signedOut) l();
    }
    throw err;
  }
  if (o.text) return text as T;
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A query string from the defined, non-empty values (the API refuses unknown and empty parameters). */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A fresh Idempotency-Key for one user action. */
export const actionKey = (what: string): string => `console-${what}-${crypto.randomUUID()}`;
