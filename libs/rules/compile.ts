/**
 * compilePack: prepare a validated pack once (parameters substituted, paths parsed, conditions compiled to closures),
 * evaluate it many times.
 */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { compiledEvaluator } from './compiled-evaluator.js';
import { preparePack } from './prepared.js';
import { referenceEvaluator } from './reference-evaluator.js';
import { ajvErrorsToDetails } from './schema.js';
import type { CompileOptions, CompiledPack, EvaluateOptions, PackResult, RulePack } from './types.js';
import { validatedFactValidator, validatePack } from './validate.js';

/**
 * Compiles a pack (validating it first unless it came from validatePack or adoptValidatedPack). By default its conditions become
 * synchronous closures (compiled-evaluator.ts); `{ engine: 'reference' }` runs them with json-rules-engine instead,
 * the semantics the closures are held to.
 * @throws DomainError RULE_PACK_INVALID when the pack is not valid.
 */
export function compilePack(input: RulePack, options: CompileOptions = {}): CompiledPack {
  let pack = input;
  let factValidator = validatedFactValidator(pack);
  if (!factValidator) {
    pack = validatePack(input);
    factValidator = validatedFactValidator(pack)!;
  }
  const prepared = preparePack(pack);
  const { ref } = prepared;
  const engine = options.engine ?? 'compiled';
  const reference = referenceEvaluator(prepared);
  const compiled = engine === 'compiled' ? compiledEvaluator(prepared) : undefined;

  const validate = factValidator;
  const validateFacts = (facts: unknown): ErrorDetail[] => (validate(facts) ? [] : ajvErrorsToDetails(validate.errors));
  const checkFacts = (facts: unknown): void => {
    // The type check at load time is only sound for facts of the declared shape.
    const errors = validateFacts(facts);
    if (errors.length > 0) {
      const first = `${errors[0]!.path || '/'}: ${errors[0]!.message}`;
      throw new DomainError('RULE_FACTS_INVALID', `facts do not match the fact schema of ${ref}: ${first}`, 'invalid', errors);
    }
  };
  const evaluateNow = (facts: Record<string, unknown>, o?: EvaluateOptions): PackResult | Promise<PackResult> => {
    checkFacts(facts);
    if (!compiled) return reference(facts);
    try {
      return compiled(facts, o?.trace !== false);
    } catch {
      // An operator failed on a value (or a fact needs the engine): json-rules-engine runs its rules concurrently, so
      // which failure it reports depends on its promise timing; it says which error this is.
      return reference(facts);
    }
  };

  return {
    name: pack.name,
    version: pack.version,
    kind: pack.kind,
    ref,
    parameters: pack.parameters,
    pack,
    engine,
    validateFacts,
    evaluateNow,
    async evaluate(facts: Record<string, unknown>): Promise<PackResult> {
      return evaluateNow(facts);
    },
  };
}
