/**
 * Authors' regular expressions (JSON Schema `pattern`, `patternProperties`) run on RE2 (re2js): time linear in the input
 * whatever the pattern, so `^([A-Za-z0-9-]+)+$` cannot make one decision take seconds as a backtracking engine does.
 *
 * A pattern is ECMA-262 (what JSON Schema says, and what ajv checked before) and is translated to RE2 syntax with the
 * same meaning: `\s`, `.`, `[]`, `[^]` and `\uXXXX` mean in RE2 what they mean in JavaScript. What RE2 cannot run in
 * linear time (backreferences, lookaround) or cannot express (the m and s modifiers, long property names, repeat counts
 * over 1000) is refused when the schema is uploaded, with the reason.
 */
import { RE2JS } from 're2js';
import { SCHEMA_LIMITS } from './limits.js';

/** What ajv needs of a regular expression (its `code.regExp` option), and what the fact-schema type check uses. */
export interface LinearRegExp {
  test(input: string): boolean;
  /** ajv keys compiled patterns by this string: it must differ between patterns. */
  toString(): string;
}

/** A pattern this platform cannot run; `reason` says why, for the author. */
export class UnsupportedPattern extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'UnsupportedPattern';
  }
}

// JavaScript's \s (WhiteSpace and LineTerminator); RE2's is ASCII only.
const WS = String.raw`\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`;
// Its complement over every code point, for \S inside a class (RE2 has no class subtraction).
const NOT_WS = String.raw`\x{0}-\x{8}\x{e}-\x{1f}\x{21}-\x{9f}\x{a1}-\x{167f}\x{1681}-\x{1fff}\x{200b}-\x{2027}\x{202a}-\x{202e}\x{2030}-\x{205e}\x{2060}-\x{2fff}\x{3001}-\x{fefe}\x{ff00}-\x{10ffff}`;
// JavaScript's `.` excludes every line terminator; RE2's only \n.
const DOT = String.raw`[^\n\r\x{2028}\x{2029}]`;
const NOTHING = String.raw`[^\x{0}-\x{10ffff}]`;
const ANYTHING = String.raw`[\x{0}-\x{10ffff}]`;

const hex = (n: number): string => String.raw`\x{${n.toString(16)}}`;
const isHigh = (n: number): boolean => n >= 0xd800 && n <= 0xdbff;
const isLow = (n: number): boolean => n >= 0xdc00 && n <= 0xdfff;

/** One escape sequence at `p[i]` (a backslash), in RE2 syntax, and where the pattern goes on. */
function escape(p: string, i: number, inClass: boolean): [string, number] {
  const n = p[i + 1]!;
  switch (n) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 't':
    case 'n':
    case 'r':
    case 'f':
    case 'v':
      return [`\\${n}`, i + 2];
    case 'B':
      return ['\\B', i + 2];
    case 's':
      return [inClass ? WS : `[${WS}]`, i + 2];
    case 'S':
      return [inClass ? NOT_WS : `[${NOT_WS}]`, i + 2];
    case 'b':
      return [inClass ? hex(8) : '\\b', i + 2]; // in a class, \b is a backspace
    case '0':
      return [hex(0), i + 2];
    case 'c':
      return [hex(p.charCodeAt(i + 2) % 32), i + 3];
    case 'x':
      return [hex(parseInt(p.slice(i + 2, i + 4), 16)), i + 4];
    case 'u': {
      let code: number;
      let next: number;
      if (p[i + 2] === '{') {
        const end = p.indexOf('}', i);
        code = parseInt(p.slice(i + 3, end), 16);
        next = end + 1;
      } else {
        code = parseInt(p.slice(i + 2, i + 6), 16);
        next = i + 6;
        // With the u flag, an escaped surrogate pair is the one code point it encodes.
        if (isHigh(code) && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(p.slice(next, next + 6))) {
          const low = parseInt(p.slice(next + 2, next + 6), 16);
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          next += 6;
        }
      }
      if (isHigh(code) || isLow(code)) throw new UnsupportedPattern('a lone surrogate (\\uD800-\\uDFFF) is not supported');
      return [hex(code), next];
    }
    case 'p':
    case 'P': {
      const end = p.indexOf('}', i);
      // RE2 names scripts and categories alone: \p{Greek}, \p{Lu}.
      const name = p.slice(i + 3, end).replace(/^(?:Script|sc|General_Category|gc)=/, '');
      return [`\\${n}{${name}}`, end + 1];
    }
    case 'k':
      throw new UnsupportedPattern('backreferences (\\k<name>) are not supported: they cannot run in linear time');
    default:
      if (n >= '1' && n <= '9') throw new UnsupportedPattern(`backreferences (\\${n}) are not supported: they cannot run in linear time`);
      return [`\\${n}`, i + 2]; // a syntax character, '/' or '-': literal in both
  }
}

/** A group opening `(?` at `p[i]`, in RE2 syntax, and where the pattern goes on. */
function group(p: string, i: number): [string, number] {
  const rest = p.slice(i + 2);
  if (rest.startsWith(':')) return ['(?:', i + 3];
  if (rest.startsWith('=') || rest.startsWith('!')) throw new UnsupportedPattern('lookahead ((?= and (?!) is not supported: use a pattern without it');
  if (rest.startsWith('<=') || rest.startsWith('<!')) throw new UnsupportedPattern('lookbehind ((?<= and (?<!) is not supported: use a pattern without it');
  // A named group only groups here: nothing reads captures, and backreferences are refused.
  if (rest.startsWith('<')) return ['(?:', p.indexOf('>', i) + 1];
  const modifiers = /^([ims]*)(?:-([ims]*))?:/.exec(rest);
  if (modifiers && !/[ms]/.test(modifiers[0])) return [`(?${modifiers[0]}`, i + 2 + modifiers[0].length];
  throw new UnsupportedPattern('the m and s modifiers are not supported (only i)');
}

/**
 * The RE2 form of an ECMA-262 pattern (as compiled with the u flag), matching exactly the same strings, and whether
 * the pattern is `^…$` as a whole (no alternation outside a group), so that a match is a match of the whole input.
 * @throws UnsupportedPattern when RE2 cannot express it; SyntaxError when it is not a valid pattern at all.
 */
export function toRe2Syntax(pattern: string): { source: string; whole: boolean } {
  new RegExp(pattern, 'u'); // only parsed (V8 compiles on first use): the syntax JSON Schema means, with its errors
  let out = '';
  let inClass = false;
  let depth = 0;
  let alternation = false;
  let endsWithDollar = false;
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    endsWithDollar = c === '$' && !inClass && depth === 0;
    if (c === '\\') {
      const [text, next] = escape(pattern, i, inClass);
      out += text;
      i = next;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c; // RE2 would read [[:alpha:]] as a POSIX class
      i++;
    } else if (c === '[') {
      // JavaScript: [] matches nothing and [^] any character; RE2 reads a leading ] as a literal.
      if (pattern.startsWith('[]', i)) [out, i] = [out + NOTHING, i + 2];
      else if (pattern.startsWith('[^]', i)) [out, i] = [out + ANYTHING, i + 3];
      else {
        inClass = true;
        const negated = pattern[i + 1] === '^';
        out += negated ? '[^' : '[';
        i += negated ? 2 : 1;
      }
    } else if (c === '.') {
      out += DOT;
      i++;
    } else if (c === '(' && pattern[i + 1] === '?') {
      const [text, next] = group(pattern, i);
      out += text;
      i = next;
      depth++;
    } else {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === '|' && depth === 0) alternation = true;
      out += c;
      i++;
    }
  }
  return { source: out, whole: pattern.startsWith('^') && endsWithDollar && !alternation };
}

/**
 * Compiles an author's pattern for linear-time matching (`flags`: what ajv passes, '' or 'u'; both mean the u syntax
 * here, the one ajv uses).
 * @throws UnsupportedPattern naming why the pattern cannot be used (including invalid syntax).
 */
export function compileLinearRegExp(pattern: string, flags = 'u'): LinearRegExp {
  if (flags !== '' && flags !== 'u') throw new UnsupportedPattern(`regular expression flags '${flags}' are not supported`);
  if (pattern.length > SCHEMA_LIMITS.maxPatternLength) {
    throw new UnsupportedPattern(`is ${pattern.length} characters long; the limit is ${SCHEMA_LIMITS.maxPatternLength}`);
  }
  let re2: RE2JS;
  let whole: boolean;
  try {
    const translated = toRe2Syntax(pattern);
    whole = translated.whole;
    // A whole-input pattern runs as RE2's anchored match of what is between ^ and $ (no alternation there to regroup).
    re2 = RE2JS.compile(whole ? translated.source.slice(1, -1) : translated.source);
  } catch (e) {
    if (e instanceof UnsupportedPattern) throw e;
    if (e instanceof SyntaxError) throw new UnsupportedPattern(`is not a valid regular expression: ${e.message}`);
    // RE2's own refusals (repeat counts over 1000, unknown property names) say what they refuse.
    throw new UnsupportedPattern(`is not supported by the linear-time engine: ${(e as Error).message.replace(/^error parsing regexp: /, '')}`);
  }
  const size = re2.programSize();
  if (size > SCHEMA_LIMITS.maxPatternProgramSize) {
    throw new UnsupportedPattern(`compiles to an RE2 program of ${size} instructions; the limit is ${SCHEMA_LIMITS.maxPatternProgramSize} (fewer or smaller repeat counts)`);
  }
  const text = `/${pattern}/u`;
  return {
    test: (input) => {
      workLeft -= size * (input.length + 1);
      if (workLeft < 0) throw new PatternWorkExceeded();
      // `^…$` matches only the whole input: RE2's anchored match is several times faster than its search (0.1 µs, not 1).
      return whole ? re2.testExact(input) : re2.test(input);
    },
    toString: () => text,
  };
}

/** RE2 work left to the validation under way (see withPatternWork); outside one, unmetered. */
let workLeft = Infinity;

/** Thrown out of a pattern's test when the validation under way has spent its budget. */
export class PatternWorkExceeded extends Error {
  constructor() {
    super('the RE2 work budget of this validation is spent');
    this.name = 'PatternWorkExceeded';
  }
}

/**
 * Runs `f` (a validation) with `budget` units of RE2 work (program size × (characters + 1) per test) for every pattern
 * it tests: a value long enough to make the patterns slow ends it with PatternWorkExceeded instead.
 */
export function withPatternWork<T>(budget: number, f: () => T): T {
  const outer = workLeft;
  workLeft = budget;
  try {
    return f();
  } finally {
    workLeft = outer;
  }
}

/** Why `pattern` cannot be used, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  try {
    compileLinearRegExp(pattern);
    return undefined;
  } catch (e) {
    if (e instanceof UnsupportedPattern) return e.message;
    throw e;
  }
}
