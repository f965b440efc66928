/** Stable error codes for policy bundles and their evaluation, and the constructors that build them. */
import { DomainError } from '../errors/index.js';

export const POLICY_BUNDLE_INVALID = 'POLICY_BUNDLE_INVALID';
export const POLICY_BUNDLE_TOO_LARGE = 'POLICY_BUNDLE_TOO_LARGE';
/** The bundle is well formed but is not the name/version the caller asked for. */
export const POLICY_BUNDLE_MISMATCH = 'POLICY_BUNDLE_MISMATCH';
export const POLICY_ENTRYPOINT_UNKNOWN = 'POLICY_ENTRYPOINT_UNKNOWN';
export const POLICY_EVALUATION_FAILED = 'POLICY_EVALUATION_FAILED';
/** An evaluation (or loading a bundle) ran over its budget of steps, memory or call stack. */
export const EVALUATION_BUDGET_EXCEEDED = 'EVALUATION_BUDGET_EXCEEDED';

/** `file` is the bundle member concerned (e.g. `/.manifest`), or '' for the bundle as a whole. */
export function bundleInvalid(message: string, file = ''): DomainError {
  return new DomainError(POLICY_BUNDLE_INVALID, message, 'unprocessable', [{ path: file, message }]);
}

export function bundleTooLarge(message: string, file = ''): DomainError {
  return new DomainError(POLICY_BUNDLE_TOO_LARGE, message, 'too_large', [{ path: file, message }]);
}

/** "10 MiB (10485760 bytes)": readable, and exact for whoever tunes the limit. */
export function formatBytes(n: number): string {
  const mib = n / (1024 * 1024);
  const readable = mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${n} bytes`;
  return mib >= 1 ? `${readable} (${n} bytes)` : readable;
}

/** opa-wasm throws strings and plain objects as well as Errors. */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}
