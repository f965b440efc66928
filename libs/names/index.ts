/**
 * Names, versions, ids, JSON pointers, currency codes and the range of instants: the one place their rules live. Request schemas, path
 * parameters, the repository layout and the CLI all use these, so a name one route accepts is a name every route
 * accepts. The JSON Schemas shipped as files (rule packs, decision types) restate the patterns; a unit test keeps them
 * equal.
 */
export { compareSemver, isSemver, SEMVER_PATTERN } from './semver.js';
export { FIRST_INSTANT_MS, instantOf, isInstantInRange, LAST_INSTANT_MS } from './instant.js';
export { CURRENCY_FORMAT, isCurrencyCode } from './currency.js';

/** Component, release and decision type names: lower-kebab-case. */
export const NAME_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';
export const NAME_MAX_LENGTH = 100;
const NAME = new RegExp(NAME_PATTERN);
export const isName = (v: string): boolean => v.length <= NAME_MAX_LENGTH && NAME.test(v);

/** Field, output and fact names: identifiers (not `__proto__`, which no plain object can hold as a field). */
export const IDENTIFIER_PATTERN = '^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$';

/** Outcomes and reason codes: UPPER_SNAKE_CASE. */
export const UPPER_SNAKE_PATTERN = '^[A-Z][A-Z0-9_]*$';

/** Record ids (UUIDs; ours are v7). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID = new RegExp(UUID_PATTERN);
export const isUuid = (v: string): boolean => UUID.test(v);

/** RFC 6901 JSON pointer (`""` is the whole document). */
export const POINTER_PATTERN = '^(/([^~/]|~[01])*)*$';

/** A pointer's reference tokens, unescaped. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** A pointer from reference tokens, escaped. */
export function pointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}
