import { readFileSync } from 'node:fs';
import { compareSemver, IDENTIFIER_PATTERN, instantOf, isCurrencyCode, isName, isSemver, isUuid, NAME_PATTERN, parsePointer, pointer, SEMVER_PATTERN, UPPER_SNAKE_PATTERN } from './index.js';

const schema = (path: string) =>
  JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { $defs: Record<string, { pattern?: string }>; properties: Record<string, { pattern?: string }> };

describe('names', () => {
  it('accepts lower-kebab-case names only, the same on every route', () => {
    expect(['refund', 'goodwill-credit', 'a1-b2'].every(isName)).toBe(true);
    expect(['my_rel', 'Refund', '-a', 'a--b', 'a.b', '', 'x'.repeat(101)].some(isName)).toBe(false);
  });

  it('semantic versions, ordered by precedence, prereleases before releases', () => {
    expect(isSemver('1.2.3-rc.1+build.5')).toBe(true);
    expect(['1.2', '01.2.3', '1.2.3.4', 'v1.2.3', '1.2.3-01'].some(isSemver)).toBe(false);
    const sorted = ['1.10.0', '1.2.0', '1.2.0-rc.1', '1.2.0-alpha', '0.9.9', '1.2.0-rc.10', '1.2.0-rc.2'].sort(compareSemver);
    expect(sorted).toEqual(['0.9.9', '1.2.0-alpha', '1.2.0-rc.1', '1.2.0-rc.2', '1.2.0-rc.10', '1.2.0', '1.10.0']);
  });

  it('UUIDs', () => {
    expect(isUuid('01a23451-37e9-7394-9301-40b2187c158b')).toBe(true);
    expect(isUuid('01a23451-37e9-7394-9301-40b2187c158')).toBe(false);
  });

  it('instants: years 0001 to 9999 once the offset is applied, and only what Date reads', () => {
    expect(instantOf('0001-01-01T00:00:00Z')).toBe(Date.parse('0001-01-01T00:00:00Z'));
    expect(instantOf('9999-12-31T23:59:59.999Z')).toBeDefined();
    expect(instantOf('2026-03-11T12:00:00+01:00')).toBe(Date.parse('2026-03-11T11:00:00Z'));
    for (const s of ['0000-12-31T23:59:59Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00', '+010000-01-01T00:00:00Z', '2025-12-31T23:59:60Z', 'x']) {
      expect(instantOf(s)).toBeUndefined();
    }
  });

  it('currency codes: ISO 4217 list one, not three letters nor what Intl still knows', () => {
    // Funds, precious metals and the codes added in 2024–2025 (ZWG, XCG, XAD) are in list one.
    expect(['EUR', 'USD', 'GBP', 'JPY', 'KWD', 'CLF', 'XAU', 'XTS', 'ZWG', 'XCG', 'XAD', 'VED', 'SLE'].every(isCurrencyCode)).toBe(true);
    // Withdrawn (HRK 2023, SLL, ZWL 2024, ANG 2025, BGN 2026), never issued, or not as the list writes them.
    for (const c of ['HRK', 'SLL', 'ZWL', 'ANG', 'BGN', 'CUC', 'ZZZ', 'ABC', 'usd', 'Eur', 'EURO', 'EU', '']) expect(isCurrencyCode(c)).toBe(false);
  });

  it('JSON pointers round-trip with escapes', () => {
    expect(parsePointer(pointer('a/b', 'c~d', 0))).toEqual(['a/b', 'c~d', '0']);
    expect(parsePointer('')).toEqual([]);
  });

  it('the shipped JSON Schemas restate exactly these patterns', () => {
    const pack = schema('../rules/rule-pack.schema.json');
    const type = schema('../decisions/types/decision-type.schema.json');
    expect(pack.$defs.kebabName!.pattern).toBe(NAME_PATTERN);
    expect(pack.properties.version!.pattern).toBe(SEMVER_PATTERN);
    expect(type.$defs.kebabName!.pattern).toBe(NAME_PATTERN);
    expect(type.$defs.semver!.pattern).toBe(SEMVER_PATTERN);
    expect(type.$defs.identifier!.pattern).toBe(IDENTIFIER_PATTERN);
    expect(type.$defs.upperSnake!.pattern).toBe(UPPER_SNAKE_PATTERN);
  });
});
