/**
 * How large and how complex an author's content may be: rule packs and the JSON Schemas that packs and decision types
 * carry. Checked before anything else reads the content (schema validation, the type check, ajv, the engine), for an
 * upload and for a file alike, so one author's pack cannot make every decision slow or every answer megabytes.
 * The README's "Limits" section lists these; each is several times what the shipped content needs.
 */
import { DomainError, type ErrorDetail } from '../errors/index.js';
import { pointer } from '../names/index.js';

export const PACK_LIMITS = Object.freeze({
  /** Rules in one pack (the shipped refund-policy has 10). Every rule is traced in every decision. */
  maxRules: 250,
  /** Leaf conditions over all rules (shipped: 15). */
  maxConditions: 1_000,
  /** all/any/not nesting, the root block being 1 (shipped: 2). */
  maxConditionDepth: 16,
  /** A rule event's `params` as JSON (shipped: at most 163); fired events become reasons in the answer. */
  maxEventParamsBytes: 1_024,
  /** Entries of one parameter table (shipped: 24 currencies); each is type-checked against every condition using it. */
  maxTableEntries: 1_000,
  /** Embedded test cases, all run at upload and activation (shipped: 29). */
  maxTestCases: 500,
  /** JSON nesting of the whole document: the same as a request body's. */
  maxDocumentDepth: 64,
});

export const SCHEMA_LIMITS = Object.freeze({
  /** A fact, input or policy-output schema as JSON (shipped: at most 3.4 KB). */
  maxBytes: 64 * 1024,
  /** JSON nesting of one schema (shipped: at most 8). */
  maxDepth: 32,
  /** Alternatives one schema location may expand into through anyOf/oneOf/$ref, for the type check (type-check.ts). */
  maxUnionBranches: 256,
  /** Characters in one `pattern` or `patternProperties` key (RE2 runs it in time linear in the input). */
  maxPatternLength: 1_000,
  /**
   * Instructions in one pattern's RE2 program (shipped: at most 14; `^[A-Z0-9-]{1,255}$` is 513). RE2 takes time linear
   * in the input, but each character may cost up to the program's size, and compiling costs about 6 µs an instruction.
   */
  maxPatternProgramSize: 4_000,
  /**
   * RE2 work one validation may spend over all its patterns: program size × (characters + 1), summed. An upper bound of
   * the real work; this much takes under 50 ms here at the worst. Past it the validation fails: PATTERN_BUDGET_EXCEEDED.
   */
  maxPatternWork: 10_000_000,
});

/** 413: more of something than a pack may have (rules, conditions, event params, test cases). */
export const RULE_PACK_TOO_LARGE = 'RULE_PACK_TOO_LARGE';
/** 422: nested deeper than a pack may be. */
export const RULE_PACK_TOO_COMPLEX = 'RULE_PACK_TOO_COMPLEX';
/** 413: a schema larger than SCHEMA_LIMITS.maxBytes. */
export const SCHEMA_TOO_LARGE = 'SCHEMA_TOO_LARGE';
/** 422: a schema nested too deeply, or one whose unions expand too far (type-check.ts). */
export const SCHEMA_TOO_COMPLEX = 'SCHEMA_TOO_COMPLEX';
/** 413: a value too long to be checked against a schema's patterns within SCHEMA_LIMITS.maxPatternWork. */
export const PATTERN_BUDGET_EXCEEDED = 'PATTERN_BUDGET_EXCEEDED';
/** 422: a pattern the linear-time engine cannot run (backreferences, lookaround, …) or that is not a pattern at all. */
export const SCHEMA_PATTERN_UNSUPPORTED = 'SCHEMA_PATTERN_UNSUPPORTED';

export interface JsonExtent {
  /** About the length of the value's JSON text; past `maxBytes` the walk stops, and it is only known to be larger. */
  bytes: number;
  tooLarge: boolean;
  /** Pointer (relative to the value) of the first value nested deeper than `maxDepth`. */
  tooDeepAt?: string;
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

function framePointer(frame: Frame): string {
  const keys: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) keys.push(f.key);
  return pointer(...keys.reverse());
}

/**
 * How large and how deep a JSON value is, without recursion (a document nested 100,000 deep is measured, not a stack
 * overflow) and without walking more than `maxBytes` worth of it. The top-level value has depth 1.
 */
export function jsonExtent(value: unknown, maxBytes: number, maxDepth = Infinity): JsonExtent {
  let bytes = 0;
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') bytes += v.length + 2;
    else if (typeof v === 'number') bytes += 8;
    else if (v === null || typeof v !== 'object') bytes += 5;
    else {
      if (frame.depth > maxDepth) return { bytes, tooLarge: false, tooDeepAt: framePointer(frame) };
      bytes += 2;
      if (Array.isArray(v)) {
        bytes += v.length;
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: frame.depth + 1, parent: frame, key: i });
      } else {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          bytes += keys[i]!.length + 4;
          stack.push({ value: (v as Record<string, unknown>)[keys[i]!], depth: frame.depth + 1, parent: frame, key: keys[i]! });
        }
      }
    }
    if (bytes > maxBytes) return { bytes, tooLarge: true };
  }
  return { bytes, tooLarge: false };
}

/**
 * A string's length as JSON text (characters): control characters are written as six. A loop, not a regular expression:
 * most strings here are short, and a RegExp call per string was ~3% of a decision in-process.
 */
export function jsonStringLength(s: string): number {
  for (let i = 0; i < s.length; i++) {
    // A character JSON writes escaped: below U+0020 (as six characters), a quote or a backslash.
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return JSON.stringify(s).length;
  }
  return s.length + 2;
}

/**
 * About the length of `value` as JSON text (characters), or Infinity as soon as it passes `limit`: the walk never goes
 * further than that. The hot-path sibling of jsonExtent (no depth, no pointer, no allocation per node).
 */
export function approxJsonBytes(value: unknown, limit: number): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') bytes += jsonStringLength(v);
    else if (typeof v === 'number') bytes += 8;
    else if (v === null || typeof v !== 'object') bytes += 5;
    else if (Array.isArray(v)) {
      bytes += 2 + v.length;
      for (const item of v) stack.push(item);
    } else {
      bytes += 2;
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        bytes += jsonStringLength(key) + 2;
        stack.push((v as Record<string, unknown>)[key]);
      }
    }
    if (bytes > limit) return Infinity;
  }
  return bytes;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A schema an author supplies (`at`: its pointer in the document, for the error paths) must fit SCHEMA_LIMITS.
 * @throws DomainError SCHEMA_TOO_LARGE (413) or SCHEMA_TOO_COMPLEX (422)
 */
export function checkSchemaLimits(schema: unknown, at = ''): void {
  const extent = jsonExtent(schema, SCHEMA_LIMITS.maxBytes, SCHEMA_LIMITS.maxDepth);
  if (extent.tooDeepAt !== undefined) {
    const message = `the schema is nested more than ${SCHEMA_LIMITS.maxDepth} levels deep`;
    throw new DomainError(SCHEMA_TOO_COMPLEX, `${at || '/'}: ${message}`, 'unprocessable', [{ path: at + extent.tooDeepAt, message }]);
  }
  if (extent.tooLarge) {
    const message = `the schema is over ${SCHEMA_LIMITS.maxBytes / 1024} KiB as JSON`;
    throw new DomainError(SCHEMA_TOO_LARGE, `${at || '/'}: ${message}`, 'too_large', [{ path: at || '/', message }]);
  }
}

/**
 * A whole document (a pack, a decision type) nested no deeper than a request body may be.
 * @throws DomainError `code` (422) naming the first value too deep
 */
export function checkDocumentDepth(json: unknown, code: string, what: string): void {
  const extent = jsonExtent(json, Infinity, PACK_LIMITS.maxDocumentDepth);
  if (extent.tooDeepAt !== undefined) {
    const message = `nested more than ${PACK_LIMITS.maxDocumentDepth} levels deep`;
    throw new DomainError(code, `${what} is ${message} (at ${extent.tooDeepAt})`, 'unprocessable', [{ path: extent.tooDeepAt, message }]);
  }
}

type Problem = ErrorDetail & { code: string };

/** Walks the conditions of one rule, without recursion: depth and leaf count. */
function walkConditions(root: unknown, at: string, leaves: { count: number }, problems: Problem[]): void {
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: root, path: at, depth: 1 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (!isObject(node)) continue;
    const children: [unknown, string][] = [];
    for (const key of ['all', 'any'] as const) {
      const list = node[key];
      if (Array.isArray(list)) list.forEach((child, i) => children.push([child, `${path}/${key}/${i}`]));
    }
    if ('not' in node) children.push([node.not, `${path}/not`]);
    if (children.length === 0) {
      leaves.count++;
      continue;
    }
    if (depth >= PACK_LIMITS.maxConditionDepth) {
      const message = `conditions are nested more than ${PACK_LIMITS.maxConditionDepth} levels deep`;
      problems.push({ code: RULE_PACK_TOO_COMPLEX, path: children[0]![1], message });
      return; // one problem per rule is enough
    }
    for (const [child, p] of children) stack.push({ node: child, path: p, depth: depth + 1 });
  }
}

/**
 * A pack (parsed, not yet validated: any shape is tolerated) must fit PACK_LIMITS, and its fact schema SCHEMA_LIMITS.
 * Runs before the pack's schema validation, which recurses into conditions.
 * @throws DomainError RULE_PACK_TOO_COMPLEX (422), RULE_PACK_TOO_LARGE (413), SCHEMA_TOO_COMPLEX or SCHEMA_TOO_LARGE;
 *   every problem found listed, each with its path.
 */
export function checkPackLimits(json: unknown): void {
  if (!isObject(json)) return; // the schema validation says what is wrong
  checkDocumentDepth(json, RULE_PACK_TOO_COMPLEX, 'the rule pack');
  const problems: Problem[] = [];
  const rules = Array.isArray(json.rules) ? json.rules : [];
  if (rules.length > PACK_LIMITS.maxRules) {
    problems.push({ code: RULE_PACK_TOO_LARGE, path: '/rules', message: `${rules.length} rules; a pack may have at most ${PACK_LIMITS.maxRules}` });
  }
  const leaves = { count: 0 };
  rules.forEach((rule: unknown, i) => {
    if (!isObject(rule)) return;
    walkConditions(rule.conditions, pointer('rules', i, 'conditions'), leaves, problems);
    const params = isObject(rule.event) ? rule.event.params : undefined;
    if (params !== undefined && jsonExtent(params, PACK_LIMITS.maxEventParamsBytes).tooLarge) {
      const message = `event params are over ${PACK_LIMITS.maxEventParamsBytes} bytes as JSON`;
      problems.push({ code: RULE_PACK_TOO_LARGE, path: pointer('rules', i, 'event', 'params'), message });
    }
  });
  if (leaves.count > PACK_LIMITS.maxConditions) {
    const message = `${leaves.count} conditions over all rules; a pack may have at most ${PACK_LIMITS.maxConditions}`;
    problems.push({ code: RULE_PACK_TOO_LARGE, path: '/rules', message });
  }
  if (isObject(json.parameterTables)) {
    for (const [name, table] of Object.entries(json.parameterTables)) {
      const entries = isObject(table) && isObject(table.values) ? Object.keys(table.values).length : 0;
      if (entries > PACK_LIMITS.maxTableEntries) {
        const message = `${entries} entries; a parameter table may have at most ${PACK_LIMITS.maxTableEntries}`;
        problems.push({ code: RULE_PACK_TOO_LARGE, path: pointer('parameterTables', name, 'values'), message });
      }
    }
  }
  const cases = isObject(json.tests) && Array.isArray(json.tests.cases) ? json.tests.cases : [];
  if (cases.length > PACK_LIMITS.maxTestCases) {
    problems.push({ code: RULE_PACK_TOO_LARGE, path: '/tests/cases', message: `${cases.length} test cases; a pack may have at most ${PACK_LIMITS.maxTestCases}` });
  }
  if (problems.length > 0) {
    // Depth first: it is what makes the rest of the checks unsafe to run.
    const first = problems.find((p) => p.code === RULE_PACK_TOO_COMPLEX) ?? problems[0]!;
    const ref = typeof json.name === 'string' && typeof json.version === 'string' ? `rule pack ${json.name}@${json.version}` : 'rule pack';
    throw new DomainError(
      first.code,
      `${ref} is over the platform's limits: ${first.path}: ${first.message}`,
      first.code === RULE_PACK_TOO_COMPLEX ? 'unprocessable' : 'too_large',
      problems.map(({ path, message }) => ({ path, message })),
    );
  }
  if (json.factSchema !== undefined) checkSchemaLimits(json.factSchema, '/factSchema');
}
