/**
 * The odd values of the fuzz suite: strings PostgreSQL or JavaScript trip over, numbers past every range, prototype
 * keys, duplicate keys and raw number tokens (JSON text no JavaScript value serialises to), deep and wide structures,
 * and mutations that take a valid-shaped body just past what a handler accepts.
 */
import fc from 'fast-check';

/** Written into the JSON text verbatim: a number token like 1e400, or a pre-built deep nesting. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object written with these entries in this order, duplicates included (`{"a":1,"a":2}`). */
export class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}

/** JSON text of a value holding RawJson and Entries markers; everything else as JSON.stringify writes it. */
export function toJsonText(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof Entries) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJsonText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : toJsonText(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${toJsonText((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];

/** Date-times at and past every edge: no year 0 or 10000 in PostgreSQL, offsets that cross them, what Date cannot read. */
export const ODD_DATE_TIMES = [
  '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59-01:00',
  '2025-12-31T23:59:60Z', '2020-01-01T00:00:00+01', '2020-01-01T00:00:00+0100', '2020-01-01t00:00:00z', '2020-02-30T00:00:00Z', '2021-02-29T00:00:00Z',
  '2020-01-01T00:00:00.123456789Z', '2020-01-01T00:00Z', '2020-01-01 00:00:00Z', '2020-01-01T00:00:00', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00-00:00', '2020-01-01T00:00:00+23:59', '2020-01-01T00:00:00-24:00', '2020-01-01T24:00:00Z', '2020-13-01T00:00:00Z',
  '2020-01-01', '1577836800000', '',
];

/** Strings chosen to break something: storage (NUL, lone surrogates), lengths, parsers, paths, SQL, dates. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(
    '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800', '\ud83d\ude00', 'é', '\u202e', '\u200b', '\ufeff', '\uffff', '\ufffd',
    ...PROTOTYPE_KEYS, '../../etc/passwd', "'; drop table decisions; --", '%00', '\\u0000', '${x}', '{{x}}', '\r\n', '\t', 'null', 'true', '-1', '1e400',
    '2026-03-11T12:00:00Z', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z',
    '2026-02-30T00:00:00Z', '2026-03-11T12:00:00+25:00', '2026-03-11T24:00:00Z', '2026-03-11', '1.0.0', '01.0.0', '1.0.0-rc.1+b.2', '999999999999999999999.0.0',
    'refund', 'default', 'EUR', 'eur', 'GROCERY',
  ) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_DATE_TIMES) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', 'a', '\u0301'), maxLength: 12 }) },
);

/** Numbers past every range, as values and as raw tokens (1e400 parses to Infinity; long integers lose digits). */
export const oddNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1.5, -1e308, 1e308, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, 2 ** 31, -(2 ** 31) - 1, 5e-324, 1e21),
  fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '1.0', '-0.0', '1E2', '0.1e1', `1${'0'.repeat(400)}`).map((t) => new RawJson(t)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** An object whose own property is one of the prototype keys: JSON.parse makes it so; an object literal would not. */
const prototypeObject: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.oneof(fc.constant({}), fc.constant({ polluted: true }), fc.constant('x'), fc.constant(null)))
  .map(([k, v]) => new Entries([[k, k === 'constructor' ? { prototype: v } : v]]));

/** `[[[…]]]` or `{"a":{"a":…}}` n deep, around the 64-level limit and far past it. */
export const deepNesting: fc.Arbitrary<RawJson> = fc
  .tuple(fc.oneof(fc.integer({ min: 60, max: 70 }), fc.constantFrom(200, 5_000, 100_000)), fc.boolean())
  .map(([n, array]) => new RawJson(array ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + 'null' + '}'.repeat(n)));

/** Wide: many elements or keys (the body limit is 1 MiB). */
const wide: fc.Arbitrary<RawJson> = fc
  .tuple(fc.constantFrom(1_000, 50_000), fc.boolean())
  .map(([n, array]) => new RawJson(array ? `[${Array(n).fill('0').join(',')}]` : `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}`));

export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: oddString },
  { weight: 3, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, {}, [], [null], { '': '' }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: prototypeObject },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: wide },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), fc.jsonValue({ maxDepth: 1 })).map(([k, a, b]) => new Entries([[k, a], [k, b]])) },
);

/** An edit of a valid-shaped body at one of its nodes (chosen by index, so fast-check can shrink it). */
export type Mutation =
  | { at: number; kind: 'tweak'; pick: number }
  | { at: number; kind: 'set'; value: unknown }
  | { at: number; kind: 'delete' }
  | { at: number; kind: 'add'; key: string; value: unknown }
  | { at: number; kind: 'duplicate'; value: unknown }
  | { at: number; kind: 'wrap' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('tweak' as const), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('set' as const), value: oddValue }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('delete' as const) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('add' as const), key: fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), oddString), value: oddValue }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('duplicate' as const), value: oddValue }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('wrap' as const) }) },
);

type Container = Record<string, unknown> | unknown[];
interface Slot {
  parent?: Container;
  key?: string | number;
  value: unknown;
}

function slots(root: unknown): Slot[] {
  const out: Slot[] = [{ value: root }];
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object' || v instanceof RawJson || v instanceof Entries) return;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) {
      out.push({ parent: v as Container, key: k, value: x });
      walk(x);
    }
  };
  walk(root);
  return out;
}

/** Applies the mutations to a deep copy of `body` (markers are kept as they are). */
export function applyMutations(body: unknown, ms: readonly Mutation[]): unknown {
  const holder: { root: unknown } = { root: structuredCopy(body) };
  for (const m of ms) {
    const all = slots(holder.root);
    // Below the root when there is anything below it: a whole odd body is oddValue's business (requests.ts).
    const s = all.length > 1 ? all[1 + (m.at % (all.length - 1))]! : all[0]!;
    const replace = (value: unknown) => {
      if (s.parent === undefined) holder.root = value;
      else (s.parent as Record<string | number, unknown>)[s.key!] = value;
    };
    switch (m.kind) {
      case 'tweak': {
        // A leaf, replaced by a value of its own kind just past an edge (a date by an odd date, a number by an odd one).
        const leaves = all.filter((x) => x.value === null || typeof x.value !== 'object');
        const leaf = leaves[m.at % Math.max(1, leaves.length)];
        if (leaf?.parent !== undefined) (leaf.parent as Record<string | number, unknown>)[leaf.key!] = tweak(leaf.value, m.pick);
        else if (leaf) holder.root = tweak(leaf.value, m.pick);
        break;
      }
      case 'set':
        replace(m.value);
        break;
      case 'delete':
        if (Array.isArray(s.parent)) s.parent.splice(Number(s.key), 1);
        else if (s.parent) delete s.parent[s.key as string];
        else holder.root = undefined;
        break;
      case 'add':
        if (s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value) && !(s.value instanceof RawJson) && !(s.value instanceof Entries)) {
          replace(new Entries([...Object.entries(s.value), [m.key, m.value]]));
        } else if (Array.isArray(s.value)) s.value.push(m.value);
        break;
      case 'duplicate':
        // The same key twice in the text, the odd value second (what a parser keeps is the last one).
        if (s.parent && !Array.isArray(s.parent) && typeof s.key === 'string') {
          const entries = Object.entries(s.parent);
          const i = entries.findIndex(([k]) => k === s.key);
          entries.splice(i + 1, 0, [s.key, m.value]);
          const grand = all.find((g) => g.value === s.parent);
          if (grand) {
            if (grand.parent === undefined) holder.root = new Entries(entries);
            else (grand.parent as Record<string | number, unknown>)[grand.key!] = new Entries(entries);
          }
        }
        break;
      case 'wrap':
        replace([s.value]);
        break;
    }
  }
  return holder.root;
}

const ODD_NUMBERS: unknown[] = [0, -1, 0.5, -0, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308, 5e-324,
  new RawJson('1e400'), new RawJson('123456789012345678901234567890'), new RawJson('1.0'), '1', null, true];
const ODD_STRINGS: unknown[] = ['', ' ', '\u0000', 'a\u0000', '\ud800', '\udfff', 'x'.repeat(256), 'x'.repeat(65_536), '__proto__', 'constructor', '\u202e', 'é', 0, null, [], {}];

/** A value of `v`'s own kind just past an edge, chosen by `pick`. */
export function tweak(v: unknown, pick: number): unknown {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) return ODD_DATE_TIMES[pick % ODD_DATE_TIMES.length];
  if (typeof v === 'number') return ODD_NUMBERS[pick % ODD_NUMBERS.length];
  if (typeof v === 'boolean') return [!v, 'true', 0, null][pick % 4];
  return ODD_STRINGS[pick % ODD_STRINGS.length];
}

function structuredCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || v instanceof RawJson) return v;
  if (v instanceof Entries) return new Entries(v.entries.map(([k, x]) => [k, structuredCopy(x)]));
  if (Array.isArray(v)) return v.map(structuredCopy);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, structuredCopy(x)]));
}

/** Byte-level oddities of a JSON text: invalid or overlong UTF-8, a BOM, another charset, a cut. */
export type Encoding =
  | { kind: 'utf8' }
  | { kind: 'bom' }
  | { kind: 'latin1' }
  | { kind: 'utf16le' }
  | { kind: 'truncate'; at: number }
  | { kind: 'inject'; at: number; bytes: number[] };

export const BAD_UTF8: number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf], // overlong '\x7f'
  [0xe0, 0x80, 0x80], // overlong NUL, three bytes
  [0xf0, 0x80, 0x80, 0x80], // overlong NUL, four bytes
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate written as UTF-8 (CESU-8)
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xe2, 0x82], // truncated sequence
  [0x80], // lone continuation byte
  [0xf8, 0x88, 0x80, 0x80, 0x80], // five-byte form
  [0x00], // a raw NUL byte in the text
];

export const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 24, arbitrary: fc.constant({ kind: 'utf8' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'latin1' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'utf16le' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('inject' as const), at: fc.nat(), bytes: fc.constantFrom(...BAD_UTF8) }) },
);

export function encode(text: string, e: Encoding): Buffer {
  switch (e.kind) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'latin1':
      return Buffer.from(text, 'latin1');
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'truncate': {
      const b = Buffer.from(text, 'utf8');
      return b.subarray(0, b.length === 0 ? 0 : e.at % b.length);
    }
    case 'inject': {
      // Inside a string literal when there is one (the JSON stays well-formed around the bad bytes), else anywhere.
      const b = Buffer.from(text, 'utf8');
      const quotes: number[] = [];
      for (let i = 0; i < b.length && quotes.length < 1000; i++) if (b[i] === 0x22) quotes.push(i + 1);
      const at = quotes.length > 0 ? quotes[e.at % quotes.length]! : b.length === 0 ? 0 : e.at % b.length;
      return Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    }
  }
}
