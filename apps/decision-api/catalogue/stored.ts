/** What the catalogue and releases share: where a stored object comes from, its stamps, and the immutability refusal. */
import { DomainError, type ErrorDetail } from '../../../libs/errors/index.js';
import { isSemver } from '../../../libs/names/index.js';
import type { StoredMeta } from '../../../libs/persistence/index.js';

/** Stored by the tenant, or part of the repository's built-in content every tenant starts with. */
export type Source = 'tenant' | 'builtin';

export const stamp = (m: StoredMeta) => ({ uploadedAt: m.uploadedAt.toISOString(), uploadedBy: m.uploadedBy });
export const builtinStamp = { uploadedAt: null, uploadedBy: null };

/** The same name@version with other content: 409, whether the existing one is the tenant's or built in. */
export function exists(code: string, what: string, where: Source): DomainError {
  const origin = where === 'builtin' ? 'is built in' : 'is already stored';
  return new DomainError(code, `${what} ${origin} with other content; versions are immutable: publish a new version`, 'conflict');
}

export function semverErrors(version: string, path: string): ErrorDetail[] {
  return isSemver(version) ? [] : [{ path, message: 'must be a semantic version (MAJOR.MINOR.PATCH)' }];
}
