/** Type-checks rule conditions against the pack's factSchema: a typo'd path or mistyped threshold fails at load, not silently at run time. */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { displayPath, parseSimplePath, pointer, type PathSegment } from './json-path.js';
import { SCHEMA_LIMITS, SCHEMA_TOO_COMPLEX } from './limits.js';
import { compileLinearRegExp, UnsupportedPattern, type LinearRegExp } from './regex.js';
import { tableOf } from './parameter-tables.js';
import type { Condition, LeafCondition, Operator, RulePack } from './types.js';

/** Alternatives one schema location may expand into; beyond it the schema is refused (SCHEMA_TOO_COMPLEX). */
const MAX_BRANCHES = SCHEMA_LIMITS.maxUnionBranches;

/** `push(...items)` without spreading: a long array must not overflow the argument stack. */
function pushAll<T>(into: T[], items: readonly T[]): void {
  for (const item of items) into.push(item);
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';
type SchemaNode = Record<string, unknown>;

/** What a schema location allows, merged over its anyOf/oneOf/$ref branches. */
interface ResolvedType {
  branches: SchemaNode[];
  /** undefined: the schema does not constrain the type. */
  types: Set<JsonType> | undefined;
  /** Allowed values from enum/const; undefined: not restricted to a list. */
  values: unknown[] | undefined;
}

const NUMERIC_OPERATORS = new Set<string>(['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive']);
const KNOWN_OPERATORS = new Set<string>([
  'equal',
  'notEqual',
  ...NUMERIC_OPERATORS,
  'in',
  'notIn',
  'contains',
  'doesNotContain',
]);

export function isParamRef(value: unknown): value is { param: string } {
  return isObject(value) && typeof value.param === 'string';
}

export function isFactRef(value: unknown): value is { fact: string; path?: string } {
  return isObject(value) && typeof value.fact === 'string';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'object';
}

/** Does a value of JSON type `actual` fit a schema allowing `allowed`? (integers are numbers) */
function fits(actual: JsonType, allowed: Set<JsonType> | undefined): boolean {
  if (!allowed) return true;
  if (allowed.has(actual)) return true;
  return actual === 'integer' && allowed.has('number');
}

function overlaps(a: Set<JsonType> | undefined, b: Set<JsonType> | undefined): boolean {
  if (!a || !b) return true;
  for (const t of a) if (fits(t, b) || (t === 'number' && b.has('integer'))) return true;
  return false;
}

function describeType(type: ResolvedType): string {
  if (type.values) return `one of ${type.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (!type.types) return 'unconstrained';
  return [...type.types].join('|');
}

function describeValue(value: unknown): string {
  return JSON.stringify(value);
}

/** Resolves schema locations (through $ref into $defs, anyOf/oneOf) within one factSchema. */
class SchemaTypes {
  private readonly patterns = new Map<string, LinearRegExp | undefined>();
  constructor(private readonly root: SchemaNode) {}

  /** An author's pattern runs on the linear-time engine here too; one it cannot run (refused at upload) matches nothing. */
  private matches(pattern: string, name: string): boolean {
    if (!this.patterns.has(pattern)) {
      let re: LinearRegExp | undefined;
      try {
        re = compileLinearRegExp(pattern);
      } catch (e) {
        if (!(e instanceof UnsupportedPattern)) throw e;
      }
      this.patterns.set(pattern, re);
    }
    return this.patterns.get(pattern)?.test(name) ?? false;
  }

  resolve(node: unknown): ResolvedType {
    const branches = this.expand(node, 0);
    let types: Set<JsonType> | undefined = new Set();
    let values: unknown[] | undefined = [];
    for (const branch of branches) {
      const branchTypes = typesOfBranch(branch);
      if (!branchTypes) types = undefined;
      else if (types) for (const t of branchTypes) types.add(t);
      if ('const' in branch) values?.push(branch.const);
      else if (Array.isArray(branch.enum)) values?.push(...(branch.enum as unknown[]));
      else values = undefined;
    }
    return { branches, types, values };
  }

  /** The type of `name` under an object type; undefined when no branch declares it. */
  property(type: ResolvedType, name: string): ResolvedType | undefined {
    const found: SchemaNode[] = [];
    for (const branch of type.branches) {
      const properties = branch.properties;
      if (isObject(properties) && Object.hasOwn(properties, name)) {
        pushAll(found, this.expand(properties[name], 0));
        continue;
      }
      const patterned = isObject(branch.patternProperties)
        ? Object.entries(branch.patternProperties).find(([pattern]) => this.matches(pattern, name))
        : undefined;
      if (patterned) pushAll(found, this.expand(patterned[1], 0));
      else if (isObject(branch.additionalProperties)) pushAll(found, this.expand(branch.additionalProperties, 0));
    }
    return found.length > 0 ? this.resolve({ anyOf: found }) : undefined;
  }

  declaredProperties(type: ResolvedType): string[] {
    const names = new Set<string>();
    for (const branch of type.branches) if (isObject(branch.properties)) for (const n of Object.keys(branch.properties)) names.add(n);
    return [...names];
  }

  /** The type of element `index` (or of any element when index is undefined) under an array type. */
  element(type: ResolvedType, index?: number): ResolvedType | undefined {
    const found: SchemaNode[] = [];
    for (const branch of type.branches) {
      const prefix = Array.isArray(branch.prefixItems) ? (branch.prefixItems as unknown[]) : [];
      if (index !== undefined && index < prefix.length) pushAll(found, this.expand(prefix[index], 0));
      else {
        if (index === undefined) for (const p of prefix) pushAll(found, this.expand(p, 0));
        if (branch.items !== undefined && branch.items !== false) pushAll(found, this.expand(branch.items, 0));
      }
    }
    return found.length > 0 ? this.resolve({ anyOf: found }) : undefined;
  }

  /**
   * The branches `node` allows. Their number is capped: nested unions of $refs multiply (8 levels of 10 branches are
   * 10^8), and an author's schema must not make the checker itself the denial of service.
   */
  private expand(node: unknown, depth: number): SchemaNode[] {
    const out: SchemaNode[] = [];
    this.expandInto(node, depth, out);
    return out;
  }

  private expandInto(node: unknown, depth: number, out: SchemaNode[]): void {
    if (out.length > MAX_BRANCHES) {
      throw new DomainError(SCHEMA_TOO_COMPLEX, `a schema location expands into more than ${MAX_BRANCHES} alternatives (anyOf/oneOf/$ref); simplify it`, 'unprocessable');
    }
    if (node === false) return;
    if (!isObject(node) || depth > 32) {
      out.push({}); // `true`, or a $ref cycle: unconstrained
      return;
    }
    if (typeof node.$ref === 'string') {
      const target = this.deref(node.$ref);
      if (target === undefined) out.push({});
      else this.expandInto(target, depth + 1, out);
      return;
    }
    const union = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined;
    if (!union) {
      out.push(node);
      return;
    }
    // A node's own properties hold next to its union: keep them as a branch of their own.
    if (isObject(node.properties)) out.push({ type: 'object', properties: node.properties });
    for (const branch of union as unknown[]) this.expandInto(branch, depth + 1, out);
  }

  /** Local refs only (`#/$defs/x`); ajv has already refused the pack if a ref does not resolve. */
  private deref(ref: string): unknown {
    if (!ref.startsWith('#')) return undefined;
    let current: unknown = this.root;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
      current = current[key];
    }
    return current;
  }
}

function typesOfBranch(branch: SchemaNode): JsonType[] | undefined {
  if (typeof branch.type === 'string') return [branch.type as JsonType];
  if (Array.isArray(branch.type)) return branch.type as JsonType[];
  if ('const' in branch) return [jsonTypeOf(branch.const)];
  if (Array.isArray(branch.enum)) return (branch.enum as unknown[]).map(jsonTypeOf);
  if (isObject(branch.properties)) return ['object'];
  return undefined;
}

/** A ResolvedType as a memo key: what decides whether a literal fits it (its types and allowed values). */
function typeKey(type: ResolvedType): string {
  return JSON.stringify([type.types ? [...type.types].sort() : null, type.values ?? null]);
}

/** A resolved operand: what the fact or the compared value may be. */
interface Operand {
  type: ResolvedType;
  /** e.g. `order.items[0].sku`. */
  name: string;
}

/** A compared value. `owner`: the parameter (or table entry) a literal came from, named in messages about its elements. */
type ValueOperand = { kind: 'literal'; value: unknown; label: string; owner?: string } | { kind: 'fact'; operand: Operand };

type Fail = (at: string, message: string) => void;

/** Every type error in the pack's conditions and parameter tables (empty when all fit factSchema). */
export function typeCheckRules(pack: RulePack): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const types = new SchemaTypes(pack.factSchema);
  const root = types.resolve(pack.factSchema);
  const declaredFacts = Object.keys(pack.factSchema.properties);
  const resolveOperand = (fact: string, path: string | undefined, at: string, fail: Fail): Operand | undefined => {
    const top = types.property(root, fact);
    if (!Object.hasOwn(pack.factSchema.properties, fact) || !top) {
      fail(`${at}/fact`, `fact '${fact}' is not declared in factSchema (declared: ${declaredFacts.join(', ')})`);
      return undefined;
    }
    if (path === undefined) return { type: top, name: fact };
    const segments = parseSimplePath(path);
    if (!segments) {
      fail(`${at}/path`, `path '${path}' is not supported: use $.a.b.c or $.a[0]`);
      return undefined;
    }
    let current = top;
    const walked: PathSegment[] = [];
    for (const segment of segments) {
      const owner = walked.length === 0 ? `fact '${fact}'` : `'${displayPath(fact, walked)}'`;
      const next = typeof segment === 'number' ? types.element(current, segment) : types.property(current, segment);
      if (!next) {
        if (typeof segment === 'number') {
          fail(`${at}/path`, `${owner} is not an array with declared items, so '[${segment}]' does not resolve`);
        } else {
          const declared = types.declaredProperties(current);
          fail(
            `${at}/path`,
            `${owner} has no property '${segment}'` +
              (declared.length > 0 ? ` (declared: ${declared.join(', ')})` : ' (it declares no properties)'),
          );
        }
        return undefined;
      }
      walked.push(segment);
      current = next;
    }
    return { type: current, name: displayPath(fact, walked) };
  };

  pushAll(errors, checkTables(pack, resolveOperand));
  /** Per table, its entries as operands, built once for every condition using it. */
  const tableOperands = new Map<string, ValueOperand[]>();
  /** Per (table, operator, what the fact may be), the first entry that fails and how many do. */
  const tableVerdicts = new Map<string, { first: number; failing: number }>();

  pack.rules.forEach((rule, ruleIndex) => {
    const fail = (at: string, message: string): void => {
      errors.push({ path: at, message: `rule '${rule.name}': ${message}`, rule: rule.name });
    };

    /** What a leaf compares with: one operand, or every entry and the default of a parameter table. */
    const resolveValue = (leaf: LeafCondition, at: string): ValueOperand[] | undefined => {
      const value = leaf.value;
      if (isParamRef(value)) {
        const table = tableOf(pack, value.param);
        const cached = table && tableOperands.get(value.param);
        if (cached) return cached;
        if (table) {
          const owner = (entry: string) => `${entry} of parameter table '${value.param}'`;
          const operands: ValueOperand[] = Object.entries(table.values).map(([key, v]) => ({
            kind: 'literal',
            value: v,
            label: `${owner(`entry '${key}'`)} (${describeValue(v)})`,
            owner: owner(`entry '${key}'`),
          }));
          operands.push({ kind: 'literal', value: table.default, label: `${owner('the default')} (${describeValue(table.default)})`, owner: owner('the default') });
          tableOperands.set(value.param, operands);
          return operands;
        }
        if (!Object.hasOwn(pack.parameters, value.param)) {
          const declared = [...Object.keys(pack.parameters), ...Object.keys(pack.parameterTables ?? {})];
          fail(
            `${at}/value/param`,
            `unknown parameter '${value.param}' (declared: ${declared.length > 0 ? declared.join(', ') : 'none'})`,
          );
          return undefined;
        }
        const resolved = pack.parameters[value.param];
        const label = `parameter '${value.param}' (${describeValue(resolved)})`;
        return [{ kind: 'literal', value: resolved, label, owner: `parameter '${value.param}'` }];
      }
      if (isFactRef(value)) {
        const operand = resolveOperand(value.fact, value.path, `${at}/value`, fail);
        return operand && [{ kind: 'fact', operand }];
      }
      return [{ kind: 'literal', value, label: `value ${describeValue(value)}` }];
    };

    /** Why `value` can never be equal to something of `target`'s type, if it can't. */
    const literalProblem = (value: unknown, label: string, target: Operand): string | undefined => {
      if (typeof value === 'object' && value !== null) {
        const kind = Array.isArray(value) ? 'array' : 'object';
        return `${label} is an ${kind}; json-rules-engine compares with ===, so it never matches`;
      }
      if (value === null) {
        if (!target.type.types || target.type.types.has('null')) return undefined;
        return `'${target.name}' is never null (${describeType(target.type)}), so ${label} never matches`;
      }
      const valueType = jsonTypeOf(value);
      if (!fits(valueType, target.type.types)) {
        const article = valueType === 'integer' ? 'a number' : `a ${valueType}`;
        return `${label} is ${article}, but '${target.name}' is ${describeType(target.type)}`;
      }
      if (target.type.values && !target.type.values.includes(value)) {
        const allowed = target.type.values.map(describeValue).join(', ');
        return `${label} is not one of the values of '${target.name}' (${allowed})`;
      }
      return undefined;
    };

    // null is tolerated beside numbers/arrays: the operators then simply do not match.
    const isNumeric = (type: ResolvedType): boolean =>
      !type.types ||
      ((type.types.has('number') || type.types.has('integer')) &&
        [...type.types].every((t) => t === 'number' || t === 'integer' || t === 'null'));
    const isArray = (type: ResolvedType): boolean =>
      !type.types || (type.types.has('array') && [...type.types].every((t) => t === 'array' || t === 'null'));
    const isScalar = (type: ResolvedType): boolean =>
      !type.types || [...type.types].some((t) => t !== 'object' && t !== 'array');
    const neverMatches = (report: Fail, at: string, what: string): void => report(`${at}/fact`, `${what}, so it never matches`);

    const checkLeaf = (leaf: LeafCondition, at: string): void => {
      const operator: string = leaf.operator;
      if (!KNOWN_OPERATORS.has(operator)) {
        fail(`${at}/operator`, `unknown operator '${operator}' (known: ${[...KNOWN_OPERATORS].join(', ')})`);
        return;
      }
      const left = resolveOperand(leaf.fact, leaf.path, at, fail);
      const rights = resolveValue(leaf, at);
      if (!left || !rights) return;
      if (isParamRef(leaf.value) && tableOf(pack, leaf.value.param)) checkTable(operator as Operator, left, leaf.value.param, rights, at);
      else for (const right of rights) checkOperands(operator as Operator, left, right, at);
    };

    /**
     * A table against one condition: each entry as a literal, but the fact's own problems said once, and of the
     * entries only the first that fails, with how many more do. Which entries fail depends only on the table, the
     * operator and what the fact may be, so that is worked out once per combination: a table of 1,000 entries used by
     * 1,000 conditions is not a million checks (and a million errors).
     */
    const checkTable = (operator: Operator, left: Operand, param: string, entries: ValueOperand[], at: string): void => {
      const target = operator === 'contains' || operator === 'doesNotContain' ? (isArray(left.type) ? types.element(left.type) : undefined) : left.type;
      const memo = `${param}\u0000${operator}\u0000${target ? typeKey(target) : '-'}`;
      let verdict = tableVerdicts.get(memo);
      if (!verdict) {
        let first = -1;
        let failing = 0;
        entries.forEach((entry, i) => {
          let fails = false;
          // Only the value's problems tell entries apart; the fact's are the same for every entry.
          checkOperands(operator, left, entry, at, (path) => {
            if (path.startsWith(`${at}/value`)) fails = true;
          });
          if (fails) {
            failing++;
            if (first < 0) first = i;
          }
        });
        verdict = { first, failing };
        tableVerdicts.set(memo, verdict);
      }
      const { first, failing } = verdict;
      const more = failing > 1 ? ` (${failing - 1} more ${failing === 2 ? 'value' : 'values'} of parameter table '${param}', entries or its default, fail${failing === 2 ? 's' : ''} this check too)` : '';
      // The first failing entry, or the first entry when none fails (for the fact's own problems, if any): one pass, so
      // the fact's problems are said once.
      checkOperands(operator, left, entries[Math.max(first, 0)]!, at, (path, message) => {
        fail(path, path.startsWith(`${at}/value`) ? message + more : message);
      });
    };

    const checkOperands = (operator: Operator, left: Operand, right: ValueOperand, at: string, report: Fail = fail): void => {
      const leftDesc = `'${left.name}' is ${describeType(left.type)}`;
      switch (operator) {
        case 'equal':
        case 'notEqual': {
          if (!isScalar(left.type)) return neverMatches(report, at, `${leftDesc}; ${operator} compares with ===`);
          if (right.kind === 'literal') {
            const problem = literalProblem(right.value, right.label, left);
            if (problem) report(`${at}/value`, problem);
          } else if (!overlaps(left.type.types, right.operand.type.types)) {
            const other = `'${right.operand.name}' is ${describeType(right.operand.type)}`;
            report(`${at}/value`, `${leftDesc} but ${other}; they are never equal`);
          }
          return;
        }
        case 'lessThan':
        case 'lessThanInclusive':
        case 'greaterThan':
        case 'greaterThanInclusive': {
          if (!isNumeric(left.type)) report(`${at}/operator`, `operator '${operator}' needs a number, but ${leftDesc}`);
          if (right.kind === 'literal') {
            if (typeof right.value !== 'number' || !Number.isFinite(right.value)) {
              report(`${at}/value`, `operator '${operator}' needs a number, but ${right.label} is not one`);
            }
          } else if (!isNumeric(right.operand.type)) {
            const other = `'${right.operand.name}' is ${describeType(right.operand.type)}`;
            report(`${at}/value`, `operator '${operator}' needs a number, but ${other}`);
          }
          return;
        }
        case 'in':
        case 'notIn': {
          if (!isScalar(left.type)) return neverMatches(report, at, `${leftDesc}; ${operator} compares with ===`);
          if (right.kind === 'literal') {
            if (!Array.isArray(right.value)) {
              return report(`${at}/value`, `operator '${operator}' needs an array value, but ${right.label} is not one`);
            }
            if (right.owner === undefined) {
              right.value.forEach((element: unknown, i) => {
                const problem = literalProblem(element, `element ${describeValue(element)}`, left);
                if (problem) report(`${at}/value/${i}`, problem);
              });
            } else {
              // A parameter's (or a table entry's) elements are fixed in parameters, not here: one error at the reference,
              // naming the first bad element and counting the others, however long the list.
              let first: string | undefined;
              let bad = 0;
              right.value.forEach((element: unknown, i) => {
                if (literalProblem(element, '', left) === undefined) return;
                bad++;
                first ??= literalProblem(element, `element ${i} (${describeValue(element)}) of ${right.owner}`, left);
              });
              if (first !== undefined) report(`${at}/value`, bad > 1 ? `${first} (and ${bad - 1} more of its elements)` : first);
            }
          } else {
            const items = isArray(right.operand.type) ? types.element(right.operand.type) : undefined;
            const ref = right.operand.name;
            if (!items) {
              const other = `'${ref}' is ${describeType(right.operand.type)}`;
              return report(`${at}/value`, `operator '${operator}' needs an array value, but ${other}`);
            }
            if (!overlaps(left.type.types, items.types)) {
              report(`${at}/value`, `${leftDesc} but the elements of '${ref}' are ${describeType(items)}; it is never among them`);
            }
          }
          return;
        }
        case 'contains':
        case 'doesNotContain': {
          const items = isArray(left.type) ? types.element(left.type) : undefined;
          if (!items) return report(`${at}/operator`, `operator '${operator}' needs an array fact, but ${leftDesc}`);
          const element: Operand = { type: items, name: `${left.name}[]` };
          if (right.kind === 'literal') {
            const problem = literalProblem(right.value, right.label, element);
            if (problem) report(`${at}/value`, problem);
          } else if (!overlaps(items.types, right.operand.type.types)) {
            const other = `'${right.operand.name}' is ${describeType(right.operand.type)}`;
            report(`${at}/value`, `the elements of '${left.name}' are ${describeType(items)} but ${other}`);
          }
          return;
        }
      }
    };

    const walk = (condition: Condition, at: string): void => {
      if ('all' in condition) condition.all.forEach((c, i) => walk(c, `${at}/all/${i}`));
      else if ('any' in condition) condition.any.forEach((c, i) => walk(c, `${at}/any/${i}`));
      else if ('not' in condition) walk(condition.not, `${at}/not`);
      else checkLeaf(condition, at);
    };
    walk(rule.conditions, pointer('rules', ruleIndex, 'conditions'));
  });
  return errors;
}

/**
 * The types a branch allows when it says so (a type, const or enum); undefined when it does not, and then it accepts
 * any string (typesOfBranch reads a branch of bare `properties` as an object, which JSON Schema does not).
 */
function explicitTypes(branch: SchemaNode): JsonType[] | undefined {
  const explicit = typeof branch.type === 'string' || Array.isArray(branch.type) || 'const' in branch || Array.isArray(branch.enum);
  return explicit ? typesOfBranch(branch) : undefined;
}

/** Whether a value of this type may be a string. */
function mayBeString(type: ResolvedType): boolean {
  return type.branches.some((branch) => explicitTypes(branch)?.includes('string') ?? true);
}

/**
 * For a key's type: which pattern an entry name can never match, when every branch that may be a string has a pattern
 * and the name matches none (a `jpy` entry in a table keyed by a currency of pattern ^[A-Z]{3}$). A pattern the
 * linear-time engine cannot run (refused at upload anyway) decides nothing.
 */
function patternMismatch(type: ResolvedType): (entry: string) => string | undefined {
  const patterns: LinearRegExp[] = [];
  const sources: string[] = [];
  for (const branch of type.branches) {
    const types = explicitTypes(branch);
    if (types && !types.includes('string')) continue;
    if (typeof branch.pattern !== 'string') return () => undefined;
    try {
      patterns.push(compileLinearRegExp(branch.pattern));
      sources.push(branch.pattern);
    } catch (e) {
      if (!(e instanceof UnsupportedPattern)) throw e;
      return () => undefined;
    }
  }
  if (patterns.length === 0) return () => undefined;
  return (entry) => (patterns.some((p) => p.test(entry)) ? undefined : sources.join(' | '));
}

/**
 * What a schema cannot say about parameter tables: a name is a parameter's or a table's, never both; the key is a
 * declared fact (and path) that may be a string; with an enum (or const) key, every entry names one of its values, with
 * a pattern every entry matches it.
 */
function checkTables(
  pack: RulePack,
  resolveOperand: (fact: string, path: string | undefined, at: string, fail: Fail) => Operand | undefined,
): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  for (const [name, table] of Object.entries(pack.parameterTables ?? {})) {
    const at = pointer('parameterTables', name);
    const fail: Fail = (path, message) => errors.push({ path, message: `parameter table '${name}': ${message}` });
    if (Object.hasOwn(pack.parameters, name)) fail(at, `'${name}' is also a parameter; a name is a parameter's or a table's, not both`);
    const key = resolveOperand(table.key.fact, table.key.path, `${at}/key`, fail);
    if (!key) continue;
    // Through a path, a fact that is not an object is itself the key (tableKeyReader): when the fact may be a string,
    // the path's type says nothing certain about the keys looked up, so entries are not held to it. (A null, a number
    // or an array there is no string key: only the default answers it, and the checks below stay sound.)
    const top = table.key.path === undefined ? undefined : resolveOperand(table.key.fact, undefined, `${at}/key`, () => undefined);
    if (top !== undefined && mayBeString(top.type)) continue;
    if (!fits('string', key.type.types)) {
      fail(`${at}/key`, `the key '${key.name}' is ${describeType(key.type)}; a table is looked up by a string, so only its default would answer`);
      continue;
    }
    const unreachable = patternMismatch(key.type);
    for (const entry of Object.keys(table.values)) {
      const pattern = unreachable(entry);
      if (pattern !== undefined) fail(pointer('parameterTables', name, 'values', entry), `entry '${entry}' never matches the pattern of '${key.name}' (${pattern}), so it is never looked up`);
    }
    const allowed = key.type.values;
    if (!allowed) continue;
    for (const entry of Object.keys(table.values)) {
      if (!allowed.includes(entry)) {
        const values = allowed.map(describeValue).join(', ');
        fail(pointer('parameterTables', name, 'values', entry), `entry '${entry}' is never a value of '${key.name}' (${values})`);
      }
    }
  }
  return errors;
}

/** A path segment for `undeclaredAt`: a property name, an array index, or ANY_ELEMENT (every element of an array). */
export const ANY_ELEMENT = Symbol('any element');

/**
 * Where `segments` leaves what `schema` declares (through properties, array items, $ref, anyOf/oneOf): the index of the
 * first undeclared segment and what was declared there; undefined when the whole path is declared. Numeric strings
 * address array items, as JSON pointer tokens do.
 */
export function undeclaredAt(
  schema: Record<string, unknown>,
  segments: readonly (string | number | typeof ANY_ELEMENT)[],
): { index: number; declared: string[] } | undefined {
  const types = new SchemaTypes(schema);
  let current = types.resolve(schema);
  for (const [index, segment] of segments.entries()) {
    const isIndex = typeof segment === 'number' || (typeof segment === 'string' && /^(0|[1-9][0-9]*)$/.test(segment) && current.types?.has('array'));
    const next =
      segment === ANY_ELEMENT ? types.element(current) : isIndex ? types.element(current, Number(segment)) : types.property(current, String(segment));
    if (!next) return { index, declared: types.declaredProperties(current) };
    current = next;
  }
  return undefined;
}

/** What a schema declares at a path: see declaredAt. */
export interface DeclaredField {
  /** The JSON types it may have; undefined when the schema does not constrain them. */
  types: ReadonlySet<string> | undefined;
  /** Every instance the schema accepts has it (requiredAlong). An array element is never required (the array may be empty). */
  required: boolean;
  /** The `format` of each branch at the path (undefined where a branch names none). */
  formats: readonly (string | undefined)[];
}

/**
 * What `schema` declares at `segments` (through properties, array items, $ref, anyOf/oneOf), for checks a declared
 * pointer must also pass: the type a value there has, whether a valid case always has it, its format. Undefined when
 * the path is not declared (undeclaredAt says where).
 */
export function declaredAt(schema: Record<string, unknown>, segments: readonly (string | number | typeof ANY_ELEMENT)[]): DeclaredField | undefined {
  const types = new SchemaTypes(schema);
  let current = types.resolve(schema);
  let throughArray = false;
  for (const segment of segments) {
    const isIndex = typeof segment === 'number' || (typeof segment === 'string' && /^(0|[1-9][0-9]*)$/.test(segment) && current.types?.has('array'));
    if (segment === ANY_ELEMENT || isIndex) throughArray = true;
    const next =
      segment === ANY_ELEMENT ? types.element(current) : isIndex ? types.element(current, Number(segment)) : types.property(current, String(segment));
    if (!next) return undefined;
    current = next;
  }
  return { types: current.types, required: !throughArray && requiredAlong(schema, segments as readonly string[]), formats: current.branches.map((b) => (typeof b.format === 'string' ? b.format : undefined)) };
}

/**
 * Every instance `schema` accepts has a value at the property path `names`: at each step, every schema the parent
 * may be requires the name, by its own `required`, by every alternative of its anyOf/oneOf, or by one of its allOf
 * (through local $refs). Walked on the schema as written, not on flattened branches: a union's alternatives are only
 * ever weighed against each other. Where it cannot tell (a cycle, a blow-up), it answers false.
 */
function requiredAlong(root: Record<string, unknown>, names: readonly string[]): boolean {
  const resolve = (node: unknown, depth: number): Record<string, unknown> | undefined => {
    let n = node;
    for (let d = depth; isObject(n) && typeof n.$ref === 'string'; d++) {
      if (d > 32 || !n.$ref.startsWith('#')) return undefined;
      let target: unknown = root;
      for (const raw of n.$ref.slice(1).split('/').slice(1)) {
        const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
        target = isObject(target) && Object.hasOwn(target, key) ? target[key] : undefined;
      }
      n = target;
    }
    return isObject(n) ? n : undefined;
  };
  const unionOf = (n: Record<string, unknown>): unknown[] => (Array.isArray(n.anyOf) ? n.anyOf : Array.isArray(n.oneOf) ? n.oneOf : []) as unknown[];
  const requires = (node: unknown, name: string, depth: number): boolean => {
    const n = depth > 32 ? undefined : resolve(node, depth);
    if (!n) return false;
    if (Array.isArray(n.required) && n.required.includes(name)) return true;
    const union = unionOf(n);
    if (union.length > 0 && union.every((b) => requires(b, name, depth + 1))) return true;
    return Array.isArray(n.allOf) && n.allOf.some((b) => requires(b, name, depth + 1));
  };
  const children = (node: unknown, name: string, depth: number, out: unknown[]): void => {
    const n = depth > 32 || out.length > 256 ? undefined : resolve(node, depth);
    if (!n) return;
    if (isObject(n.properties) && Object.hasOwn(n.properties, name)) out.push(n.properties[name]);
    for (const b of [...unionOf(n), ...(Array.isArray(n.allOf) ? (n.allOf as unknown[]) : [])]) children(b, name, depth + 1, out);
  };
  let parents: unknown[] = [root];
  for (const name of names) {
    if (!parents.every((p) => requires(p, name, 0))) return false;
    const next: unknown[] = [];
    for (const p of parents) children(p, name, 0, next);
    if (next.length === 0 || next.length > 256) return false;
    parents = next;
  }
  return true;
}
