/**
 * Canonical forms of case fields a caller may spell several ways. A field its input schema marks `"x-canonical"` is
 * rewritten to one form ON THE WAY IN, after validation and before personal fields are pseudonymized, so every spelling
 * of one card code or address is one history key, one pseudonym and one value for the rules: `::ffff:198.51.100.7` and
 * `198.51.100.7` are one IP, `gc-1234 abcd` and `GC1234ABCD` one card. Each form is idempotent, and leaves a value it
 * cannot read (an IP field holding no address) as it was sent.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { CANONICAL_FORMS, type CanonicalForm } from '../../rules/schema.js';
import { ANY_ELEMENT_TOKEN, markedFields, unreachableMarks } from './schema-marks.js';

export { CANONICAL_FORMS, type CanonicalForm };

/** One marked field: where (pointer tokens, `*` for every element of an array) and its form. */
export interface CanonicalField {
  path: readonly string[];
  form: CanonicalForm;
}

/** Every `x-canonical` field of an input schema (read as x-pii marks are: properties, items, prefixItems, alternatives). */
export function canonicalFields(schema: unknown): CanonicalField[] {
  return markedFields(schema, 'x-canonical').map((f) => ({ path: f.path, form: f.value as CanonicalForm }));
}

/** Where a schema says `x-canonical` but canonicalFields does not look: the mark would be ignored, so it is refused. */
export function unreachableCanonicalMarks(schema: unknown): string[] {
  return unreachableMarks(schema, 'x-canonical');
}

// Whitespace, dashes (Unicode's Pd and the minus sign), and what a copy and paste carries unseen (format characters:
// zero-width space and joiners, bidi marks, soft hyphen, BOM; and every other default-ignorable code point).
// Also the dash and line look-alikes a printed code's groups are set apart with (U+00AF, U+02D7, U+2043, U+2500, U+23AF,
// U+2796, U+30FC, U+3161, U+FF5E), the braille blank, and `.`, `/`, `_`, `·`, `•` between groups.
const CODE_SEPARATORS = /[\p{White_Space}\p{Pd}\u2212\p{Cf}\p{Default_Ignorable_Code_Point}\u00af\u02d7\u2043\u2500\u23af\u2796\u30fc\u3161\uff5e\u2800._/\u00b7\u2022\uff3f]+/gu;
// What an IP's text may carry unseen and how it may be wrapped: `[v6]`, `[v6]:port`, `a.b.c.d:port`.
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]+/gu;
const BRACKETED = /^\[([^\]]+)\](?::[0-9]{1,5})?$/;
const IPV4_PORT = /^([0-9.]+):[0-9]{1,5}$/;
// What the WHATWG URL host parser may read as an IPv4 address (hex, octal, 1 to 4 parts, full-width digits and dots).
const IPV4_SPELLING = /^[0-9a-fx.\uff10-\uff19\uff41-\uff46\uff21-\uff26\uff38\uff58\uff0e\u3002\uff61]+$/iu;
/** Rounds of the code form's steps at most: one almost always reaches the fixed point, a combining mark after a removed separator two. */
const CODE_ROUNDS = 4;
const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
/** The dotted quad of an IPv4 address held in two 16-bit groups (an IPv6 address's last two, or 6to4's second and third). */
const v4Of = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * A value in its canonical form; anything but a string is returned as it is.
 * - `ip`: an IPv4 address as dotted quad; an IPv6 one in RFC 5952's text (lower case, the longest run of zero groups
 *   compressed), an IPv4-mapped one (`::ffff:a.b.c.d`) as its IPv4 address; a zone id (`%eth0`), a port
 *   (`a.b.c.d:443`, `[v6]:443`), brackets, surrounding whitespace and invisible characters dropped; an IPv4 address
 *   in any spelling the WHATWG URL host parser reads as one (hex, octal with leading zeros, an integer, 2 or 3 parts,
 *   full-width digits) as its dotted quad. Text that is no address is kept as sent.
 * - `ip-network`: the `ip` form (after NFKC), then an IPv6 address as its /64 network (`2001:db8:7:1::/64`): one
 *   subscriber's allocation, whose 2^64 addresses a client may rotate through at will, counts as one. An IPv4 address
 *   stays itself, and so does the IPv4 client a NAT64, SIIT, IPv4-compatible, 6to4 or Teredo address stands for.
 * - `code`: group separators (whitespace, dashes and look-alikes, `.`, `/`, `_`, invisible characters) removed, NFKC,
 *   upper case: what a person types for a printed code. A value of separators only is kept as sent (it names no code).
 *   Digits of other scripts stay theirs (NFKC does not fold them).
 * - `email`: surrounding whitespace dropped, lower case (a mailbox's local part is case-sensitive in theory, nowhere in practice).
 */
export function canonicalForm(form: CanonicalForm, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (form) {
    case 'ip':
      return canonicalIp(value);
    case 'ip-network':
      return canonicalNetwork(value);
    case 'code': {
      // Until nothing changes: removing a separator can put a combining mark after a letter NFKC then composes
      // ('e \u0301' → 'É'), so one pass of the steps is not always idempotent.
      let code = value;
      for (let round = 0, before = ''; round < CODE_ROUNDS && code !== before; round++) {
        before = code;
        // Lower case first: capital sharp s (ẞ) upper-cases to itself, its lower case (ß) to SS.
        code = code.replace(CODE_SEPARATORS, '').normalize('NFKC').toLowerCase().toUpperCase().normalize('NFKC');
      }
      return code.length > 0 ? code : value;
    }
    case 'email':
      return value.trim().toLowerCase();
  }
}

function canonicalIp(value: string): string {
  let text = value.replace(INVISIBLE, '').trim();
  const wrapped = BRACKETED.exec(text) ?? IPV4_PORT.exec(text);
  if (wrapped) text = wrapped[1]!;
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) {
    // One address whatever its IPv4 spelling, as browsers and inet_aton read it: 0xcb.0.0x64.17, 3405800465, 203.1,
    // 010.0.0.1 (octal: 8.0.0.1), full-width digits, a trailing dot.
    const host = IPV4_SPELLING.test(text) ? URL.parse(`http://${text}/`)?.hostname : undefined;
    return host !== undefined && isIPv4(host) ? host : value;
  }
  // A zone id (`%eth0`) names the caller's interface, not the client: one address whatever the zone.
  const zoneAt = text.indexOf('%');
  const address = zoneAt < 0 ? text : text.slice(0, zoneAt);
  // WHATWG URL serialises an IPv6 host as RFC 5952 asks (lower case, longest zero run compressed, IPv4 tail as hex).
  // URL.parse, not new URL: a text isIPv6 reads and URL would not is kept as sent, never a throw on the way in.
  const parsed = URL.parse(`http://[${address}]/`);
  if (!parsed) return value;
  const host = parsed.hostname.slice(1, -1);
  const mapped = MAPPED_IPV4.exec(host);
  return mapped ? v4Of(Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)) : host;
}

/**
 * An IPv6 address in RFC 5952 text (canonicalIp's) as its /64 network, in the same text with `/64`; or, with `embedded`
 * (an address, not a network written with its prefix), the IPv4 address it stands for.
 */
function network64(ip: string, embedded: boolean): string {
  const g = groupsOf(ip);
  const v4 = embedded ? embeddedIpv4(g) : undefined;
  if (v4 !== undefined) return v4;
  const network = URL.parse(`http://[${[...g.slice(0, 4), 0, 0, 0, 0].map((x) => x.toString(16)).join(':')}]/`);
  return network ? `${network.hostname.slice(1, -1)}/64` : ip;
}

/** The 8 groups of an IPv6 address in RFC 5952 text (canonicalIp's: hex groups, at most one `::`, no IPv4 tail). */
function groupsOf(ip: string): number[] {
  const [head = '', tail] = ip.split('::');
  const first = head === '' ? [] : head.split(':');
  const last = tail === undefined || tail === '' ? [] : tail.split(':');
  return [...first, ...Array<string>(tail === undefined ? 0 : 8 - first.length - last.length).fill('0'), ...last].map((x) => Number.parseInt(x, 16));
}

/**
 * The IPv4 client an IPv6 address stands for, where its form says so: a NAT64 translator's well-known prefix
 * (64:ff9b::/96, RFC 6052) and SIIT's ::ffff:0:0/96 carry it in the last 32 bits, as the deprecated IPv4-compatible
 * ::/96 does (not :: and ::1); 6to4 (2002::/16) in bits 16–47; Teredo (2001::/32) inverted in the last 32. Cut at /64
 * these would put every IPv4 client behind one translator in one count (or give one IPv4 host 2^16 networks).
 */
function embeddedIpv4(g: readonly number[]): string | undefined {
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4Of(g[6]!, g[7]!);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4Of(g[6]!, g[7]!);
  if (zero(0, 6) && (g[6] !== 0 || g[7]! > 1)) return v4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4Of(g[1]!, g[2]!);
  if (g[0] === 0x2001 && g[1] === 0) return v4Of(~g[6]! & 0xffff, ~g[7]! & 0xffff);
  return undefined;
}

/** A prefix length written after an address's `/` (`2001:db8::9/128`, `2001:db8::/64`, `203.0.113.9 / 32`). */
const PREFIX_LENGTH = /^\s*[0-9]{1,3}$/;

/**
 * The `ip-network` form: the `ip` form in NFKC (full-width digits and colons are the ASCII ones), an IPv6 address as
 * its /64 or the IPv4 address it stands for, an address written with a prefix of at least /64 (/32 for IPv4) as that
 * address's. Text that is no address is kept as sent.
 */
function canonicalNetwork(value: string): string {
  const text = value.normalize('NFKC').replace(INVISIBLE, '').trim();
  // Split at the last `/` by hand: a regular expression splitting around optional spaces backtracks quadratically.
  const slash = text.lastIndexOf('/');
  const address = slash > 0 && PREFIX_LENGTH.test(text.slice(slash + 1)) ? text.slice(0, slash).trimEnd() : undefined;
  const ip = canonicalIp(address ?? text);
  const length = address === undefined ? undefined : Number(text.slice(slash + 1));
  if (length !== undefined) {
    // The prefix is read in the family the address was written in: `::ffff:1.2.3.4/128` is that IPv4 address, a /64
    // of it no client, `1.2.3.4/32` the address.
    const v6 = address!.includes(':');
    if (v6 ? length < 64 || length > 128 || (isIPv4(ip) && length !== 128) : length !== 32) return value;
  }
  if (isIPv4(ip)) return ip;
  // A network's text (`64:ff9b::/64`) is that network: its zero host bits stand for no IPv4 client.
  return isIPv6(ip) ? network64(ip, length === undefined || length === 128) : value;
}

/**
 * The case with every marked field in its canonical form. Copies only the objects on the way to a changed field; the
 * caller's object is not changed.
 */
export function canonicalize(input: Record<string, unknown>, fields: readonly CanonicalField[]): Record<string, unknown> {
  let out: unknown = input;
  for (const f of fields) out = rewrite(out, f.path, 0, f.form);
  return out as Record<string, unknown>;
}

function rewrite(node: unknown, path: readonly string[], i: number, form: CanonicalForm): unknown {
  if (node === null || typeof node !== 'object') return node;
  const key = path[i]!;
  const last = i === path.length - 1;
  const next = (v: unknown) => (last ? canonicalForm(form, v) : rewrite(v, path, i + 1, form));
  if (key === ANY_ELEMENT_TOKEN) {
    if (!Array.isArray(node)) return node;
    const copy = node.map(next);
    return copy.every((v, j) => v === node[j]) ? node : copy;
  }
  if (!Object.hasOwn(node, key)) return node;
  const before = (node as Record<string, unknown>)[key];
  const after = next(before);
  if (after === before) return node;
  if (Array.isArray(node)) {
    const copy = [...(node as unknown[])];
    copy[Number(key)] = after;
    return copy;
  }
  return { ...(node as Record<string, unknown>), [key]: after };
}
