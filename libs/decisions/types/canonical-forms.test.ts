import fc from 'fast-check';
import { newAjv } from '../../rules/schema.js';
import { canonicalFields, canonicalForm, canonicalize, unreachableCanonicalMarks, CANONICAL_FORMS } from './canonical-forms.js';

describe('canonical forms', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    [' 198.51.100.7\n', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::FFFF:c633:6407', '198.51.100.7'],
    ['0:0:0:0:0:ffff:198.51.100.7', '198.51.100.7'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::1', '::1'],
    ['FE80::1%eth0', 'fe80::1'],
    ['2001:db8::5%1', '2001:db8::5'],
    ['::ffff:203.0.113.9%0', '203.0.113.9'],
    ['[::1]', '::1'],
    ['[::ffff:198.51.100.7]:443', '198.51.100.7'],
    ['198.51.100.7:443', '198.51.100.7'],
    ['198.51.100.7\u200b', '198.51.100.7'],
    // no address: kept exactly as sent
    ['unknown', 'unknown'],
    [' not an ip ', ' not an ip '],
    ['01.2.3.4', '1.2.3.4'],
    // IPv4 as browsers and inet_aton read it: leading zeros are octal, hex, an integer, short forms, full-width digits
    ['203.000.113.007', '203.0.113.7'],
    ['010.0.0.1', '8.0.0.1'],
    ['0xcb.0x0.0x64.0x11', '203.0.100.17'],
    ['3405800465', '203.0.100.17'],
    ['203.0.100.17.', '203.0.100.17'],
    ['\uff12\uff10\uff13.0.100.17', '203.0.100.17'],
    ['face', 'face'], // a name, not an address
  ])('ip %j is %j', (raw, canonical) => {
    expect(canonicalForm('ip', raw)).toBe(canonical);
  });

  it.each([
    ['gc-1234-abcd', 'GC1234ABCD'],
    ['GC 1234 ABCD', 'GC1234ABCD'],
    ['gc\u20131234\u2014abcd', 'GC1234ABCD'],
    ['\uff27\uff23\uff11\uff12\uff13\uff14', 'GC1234'], // full-width: NFKC
    ['GC1234ABCD', 'GC1234ABCD'],
    ['- -', '- -'], // separators only: no code, kept as sent
    ['GC\u200b12\u00ad34\u202e', 'GC1234'], // what a copy and paste carries unseen
    ['ab\u2e3acd\u058aef', 'ABCDEF'], // any dash
    ['e \u0301', '\u00c9'],
    ['GC\u30fcAB\u2043CD\u2500EF', 'GCABCDEF'], // dash look-alikes
    ['gc.12/34_56\u00b778\u20229', 'GC123456789'], // dots, slashes, underscores, middle dots, bullets between groups
    ['\u1e9ex', 'SSX'], // capital sharp s: as its lower case upper-cases // a combining mark after a removed separator composes: still one pass to the fixed point
  ])('code %j is %j', (raw, canonical) => {
    expect(canonicalForm('code', raw)).toBe(canonical);
  });

  it.each([
    ['2001:DB8:7:1:a:b:c:d', '2001:db8:7:1::/64'],
    ['[2001:db8:7:1::beef]:443', '2001:db8:7:1::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['::1', '::/64'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4::/64'],
    ['1:0:0:4::', '1:0:0:4::/64'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['0xcb.0.113.9', '203.0.113.9'],
    ['203.0.113.9', '203.0.113.9'],
    ['2001:db8::/64', '2001:db8::/64'],
    ['2001:DB8:1:2::/64', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9/128', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::/63', '2001:db8:1:2::/63'],
    ['203.0.113.9/32', '203.0.113.9'],
    ['203.0.113.9 / 32', '203.0.113.9'],
    ['2001:db8::1/64\u200b', '2001:db8::/64'],
    ['2001:db8::1/ 64', '2001:db8::/64'],
    ['::ffff:203.0.113.9/128', '203.0.113.9'],
    ['::ffff:203.0.113.9/96', '::ffff:203.0.113.9/96'],
    ['::ffff:203.0.113.9/32', '::ffff:203.0.113.9/32'],
    ['203.0.113.9/24', '203.0.113.9/24'],
    // The IPv4 client behind a translator or tunnel, not the translator's or relay's /64.
    ['64:ff9b::203.0.113.9', '203.0.113.9'],
    ['64:ff9b::cb00:7109', '203.0.113.9'],
    ['::ffff:0:203.0.113.9', '203.0.113.9'],
    ['::203.0.113.9', '203.0.113.9'],
    ['2002:cb00:7109:1::1', '203.0.113.9'],
    ['2001:0:4136:e378:8000:63bf:34ff:8ef6', '203.0.113.9'],
    ['64:ff9b::/64', '64:ff9b::/64'],
    ['64:ff9b::1:2:3:4', '64:ff9b::/64'],
    ['::/64', '::/64'],
    // Full-width digits, letters and colons (NFKC).
    ['\uff12\uff10\uff10\uff11:\uff44\uff42\uff18::\uff11', '2001:db8::/64'],
    ['not an address', 'not an address'],
  ])('ip-network %j is %j', (raw, canonical) => {
    expect(canonicalForm('ip-network', raw)).toBe(canonical);
  });

  it('ip-network: an address standing for an IPv4 client is that client, whatever its host bits (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 0xffff }), (v4, port) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hi = ((a << 8) | b).toString(16);
        const lo = ((c << 8) | d).toString(16);
        expect(canonicalForm('ip-network', `64:ff9b::${v4}`)).toBe(v4);
        expect(canonicalForm('ip-network', `2002:${hi}:${lo}:${port.toString(16)}::1`)).toBe(v4);
        const inv = (x: number) => (~x & 0xffff).toString(16);
        expect(canonicalForm('ip-network', `2001:0:4136:e378:8000:${port.toString(16)}:${inv((a << 8) | b)}:${inv((c << 8) | d)}`)).toBe(v4);
      }),
      { numRuns: 500 },
    );
  });

  it('ip-network: every address of one /64 is one network, and the network of another /64 another (property)', () => {
    const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    fc.assert(
      // Not the ranges that stand for an IPv4 client (NAT64, SIIT, IPv4-compatible, 6to4, Teredo: above).
      fc.property(fc.array(group, { minLength: 4, maxLength: 4 }).filter((n) => !['0', '64', '2002'].includes(n[0]!) && !(n[0] === '2001' && n[1] === '0')), fc.array(group, { minLength: 4, maxLength: 4 }), fc.array(group, { minLength: 4, maxLength: 4 }), (net, a, b) => {
        const one = canonicalForm('ip-network', [...net, ...a].join(':'));
        expect(canonicalForm('ip-network', [...net, ...b].join(':').toUpperCase())).toBe(one);
        expect(one).toMatch(/\/64$/);
        const other = [...net.slice(0, 3), ((Number.parseInt(net[3]!, 16) + 1) % 0x10000).toString(16), ...a].join(':');
        expect(canonicalForm('ip-network', other)).not.toBe(one);
      }),
      { numRuns: 1000 },
    );
  });

  it('email: trimmed, lower case', () => {
    expect(canonicalForm('email', '  Jane.Doe@Example.COM ')).toBe('jane.doe@example.com');
  });

  it('leave anything but a string alone', () => {
    for (const form of CANONICAL_FORMS) for (const v of [null, 7, true, ['a'], { a: 1 }]) expect(canonicalForm(form, v)).toBe(v);
  });

  it('are idempotent on any text (property)', () => {
    const texts = fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.ipV4().map((a) => `::ffff:${a}`), fc.emailAddress(), fc.string({ unit: 'grapheme' }));
    fc.assert(
      fc.property(fc.constantFrom(...CANONICAL_FORMS), texts, (form, text) => {
        const once = canonicalForm(form, text);
        expect(canonicalForm(form, once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('give every spelling of one address one form (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        for (const spelling of [v4, ` ${v4}`, `::ffff:${v4}`, `::FFFF:${v4}`, hex, `0:0:0:0:0:ffff:${v4}`]) expect(canonicalForm('ip', spelling)).toBe(v4);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (v6) => {
        const upper = canonicalForm('ip', v6.toUpperCase());
        expect(upper).toBe(canonicalForm('ip', v6));
      }),
    );
  });
});

describe('canonicalize', () => {
  const schema = {
    type: 'object',
    properties: {
      ip: { type: 'string', 'x-canonical': 'ip', 'x-pii': 'hash' },
      cardCode: { type: 'string', 'x-canonical': 'code' },
      deviceId: { type: 'string' },
      contacts: { type: 'array', items: { type: 'object', properties: { email: { type: 'string', 'x-canonical': 'email' } } } },
      pair: { type: 'array', minItems: 2, maxItems: 2, prefixItems: [{ type: 'string', 'x-canonical': 'code' }, { type: 'string' }] },
    },
  };
  const fields = canonicalFields(schema);

  it('finds marks through properties, items and prefixItems', () => {
    expect(fields.map((f) => [f.path.join('/'), f.form])).toEqual([
      ['ip', 'ip'],
      ['cardCode', 'code'],
      ['contacts/*/email', 'email'],
      ['pair/0', 'code'],
    ]);
  });

  it('rewrites marked fields only, without changing the caller\'s object', () => {
    const input = { ip: '::ffff:10.0.0.1', cardCode: 'ab-cd ef', deviceId: 'dev-A b', contacts: [{ email: 'A@B.C' }, { other: 1 }], pair: ['x-y', 'x-y'] };
    const before = structuredClone(input);
    expect(canonicalize(input, fields)).toEqual({ ip: '10.0.0.1', cardCode: 'ABCDEF', deviceId: 'dev-A b', contacts: [{ email: 'a@b.c' }, { other: 1 }], pair: ['XY', 'x-y'] });
    expect(input).toEqual(before);
  });

  it('returns the same object when nothing changes', () => {
    const input = { ip: '10.0.0.1', cardCode: 'ABCDEF', contacts: [{ email: 'a@b.c' }] };
    expect(canonicalize(input, fields)).toBe(input);
  });

  it('x-canonical is a keyword schemas may use, with a known form only', () => {
    const ajv = newAjv(false, false, true);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(() => ajv.compile({ type: 'object', properties: { a: { type: 'string', 'x-canonical': 'phone' } } })).toThrow();
  });

  it('names a mark where it would be ignored', () => {
    expect(unreachableCanonicalMarks({ type: 'object', additionalProperties: { type: 'string', 'x-canonical': 'ip' }, properties: { a: { type: 'string', 'x-canonical': 'ip' } } })).toEqual(['/additionalProperties']);
  });
});
