/** validatePack: the pack schema, then everything a schema cannot say (fact types, parameters, test facts), all errors at once. */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { eventMatches, mergeFacts } from './cases.js';
import { pointer } from './json-path.js';
import { checkPackLimits } from './limits.js';
import { ajvErrorsToDetails, compileFactSchema, packSchemaValidator, type ValidateFunction } from './schema.js';
import { typeCheckRules } from './type-check.js';
import type { RulePack } from './types.js';

/** Packs returned by validatePack (or adopted, adoptValidatedPack), with their compiled fact validator, so compilePack neither re-validates nor recompiles. */
const validated = new WeakMap<RulePack, ValidateFunction>();

/**
 * Validates a parsed pack file and returns a deep-frozen copy.
 * @throws DomainError RULE_PACK_INVALID (kind unprocessable) listing every problem, each with a JSON pointer into the pack;
 *   first, the limits of limits.ts (RULE_PACK_TOO_LARGE, RULE_PACK_TOO_COMPLEX, SCHEMA_*), and SCHEMA_PATTERN_UNSUPPORTED.
 */
export function validatePack(json: unknown): RulePack {
  // Before the schema validation, which recurses into conditions, and everything else that reads the pack.
  checkPackLimits(json);
  const schemaValidator = packSchemaValidator();
  if (!schemaValidator(json)) {
    // Semantic checks assume the structure, so stop at structural errors.
    throw invalid(json, withRuleNames(json, ajvErrorsToDetails(schemaValidator.errors, '', true)));
  }
  const pack = json as RulePack;
  const errors: ErrorDetail[] = [];

  let factValidator: ValidateFunction | undefined;
  try {
    factValidator = compileFactSchema(pack.factSchema, '/factSchema');
  } catch (error) {
    if (error instanceof DomainError) throw error; // a limit or an unsupported pattern: its own code
    errors.push({ path: '/factSchema', message: `factSchema is not a valid JSON Schema 2020-12: ${(error as Error).message}` });
  }

  const firstIndex = new Map<string, number>();
  pack.rules.forEach((rule, i) => {
    const previous = firstIndex.get(rule.name);
    if (previous === undefined) firstIndex.set(rule.name, i);
    else {
      const message = `rule '${rule.name}': duplicate rule name (also rules/${previous})`;
      errors.push({ path: pointer('rules', i, 'name'), message, rule: rule.name });
    }
  });

  // A loop, not a spread: a pack may have thousands of errors, more than a call's arguments may hold.
  for (const e of typeCheckRules(pack)) errors.push(e);
  for (const e of checkTests(pack, factValidator)) errors.push(e);

  if (errors.length > 0) throw invalid(pack, errors);
  const frozen = deepFreeze(structuredClone(pack));
  validated.set(frozen, factValidator!);
  return frozen;
}

/**
 * A pack that validatePack returned in another thread, taken as valid without checking it again: only its fact schema
 * is compiled (compilePack needs the validator). For a compiled release's packs crossing to a worker thread
 * (PortableRelease), where validating again cost each replay worker ~170 ms of CPU; a pack read from a file, a request
 * or the database goes through validatePack. Freezes `pack` itself (validatePack freezes a copy). Not exported from
 * the package's index: release.ts imports it from this file, its one caller.
 */
export function adoptValidatedPack(pack: RulePack): RulePack {
  const frozen = deepFreeze(pack);
  validated.set(frozen, compileFactSchema(frozen.factSchema, '/factSchema'));
  return frozen;
}

/** The fact validator of a pack returned by validatePack or adoptValidatedPack, or undefined for any other pack. */
export function validatedFactValidator(pack: RulePack): ValidateFunction | undefined {
  return validated.get(pack);
}

function checkTests(pack: RulePack, factValidator: ValidateFunction | undefined): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const { defaults, cases } = pack.tests;
  const defaultsValid = factValidator ? factValidator(defaults) : false;
  if (factValidator && !defaultsValid) {
    for (const e of ajvErrorsToDetails(factValidator.errors, '/tests/defaults')) {
      errors.push({ ...e, message: `test defaults: ${e.message}` });
    }
  }
  const seen = new Map<string, number>();
  cases.forEach((testCase, i) => {
    const at = pointer('tests', 'cases', i);
    const label = `test case '${testCase.name}'`;
    const previous = seen.get(testCase.name);
    if (previous === undefined) seen.set(testCase.name, i);
    else errors.push({ path: `${at}/name`, message: `${label}: duplicate test case name (also tests/cases/${previous})` });

    // Invalid defaults would fail every case the same way; report them once, above.
    if (factValidator && defaultsValid && !factValidator(mergeFacts(defaults, testCase.facts ?? {}))) {
      for (const e of ajvErrorsToDetails(factValidator.errors, `${at}/facts`)) {
        errors.push({ ...e, message: `${label}: ${e.message} (defaults merged with the case's facts)` });
      }
    }
    // An expectation no rule can ever meet is a typo, better caught here than as a failing case.
    testCase.expect.events.forEach((expected, j) => {
      if (!pack.rules.some((rule) => eventMatches(expected, rule.event))) {
        errors.push({
          path: `${at}/expect/events/${j}`,
          message: `${label}: no rule emits an event matching ${expected.type} ${JSON.stringify(expected.params ?? {})}`,
        });
      }
    });
  });
  return errors;
}

function withRuleNames(json: unknown, errors: ErrorDetail[]): ErrorDetail[] {
  const rules = (json as { rules?: unknown } | null)?.rules;
  return errors.map((error) => {
    const match = /^\/rules\/(\d+)(?:\/|$)/.exec(error.path);
    const name: unknown = match && Array.isArray(rules) ? (rules[Number(match[1])] as { name?: unknown } | undefined)?.name : undefined;
    return typeof name === 'string' ? { ...error, message: `rule '${name}': ${error.message}`, rule: name } : error;
  });
}

function invalid(json: unknown, errors: ErrorDetail[]): DomainError {
  const pack = json as { name?: unknown; version?: unknown } | null;
  const ref =
    typeof pack?.name === 'string' && typeof pack.version === 'string' ? `rule pack ${pack.name}@${pack.version}` : 'rule pack';
  const summary = `${ref} is invalid: ${errors.length} error(s); first: ${errors[0]?.path || '/'}: ${errors[0]?.message ?? ''}`;
  return new DomainError('RULE_PACK_INVALID', summary, 'unprocessable', errors);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
