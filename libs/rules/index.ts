/** Rule packs: a JSON format for json-rules-engine rules, validated and type-checked on load, compiled once, evaluated many times. */
export { compilePack } from './compile.js';
export { diffPacks, type PackDiff, type RuleChange, type SchemaChange, type ValueChange } from './diff.js';
export { loadPackDirectory, loadPackFile } from './load.js';
export { loadPackSchema } from './schema.js';
export * from './limits.js';
export { compileLinearRegExp, patternProblem, UnsupportedPattern, type LinearRegExp } from './regex.js';
export { runPackTests } from './testing.js';
export { deepEqual, mergeFacts } from './cases.js';
export { ANY_ELEMENT, typeCheckRules, undeclaredAt } from './type-check.js';
export { validatePack } from './validate.js';
export type {
  CompileOptions,
  CompiledPack,
  Condition,
  ConditionTrace,
  EvaluateOptions,
  ExpectedEvent,
  LeafCondition,
  LoadedPack,
  Operator,
  PackEvent,
  PackEngine,
  PackKind,
  PackResult,
  PackRule,
  PackTestCase,
  PackTestCaseReport,
  PackTestReport,
  RulePack,
  RuleTrace,
  LeafTrace,
} from './types.js';
