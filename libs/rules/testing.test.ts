/** Embedded test cases: deep merge over defaults, set comparison of events, and runPackTests reports. */
import { compareEvents, mergeFacts } from './cases.js';
import { fixturePack } from './fixtures.test-support.js';
import { compilePack, runPackTests, validatePack, type PackEvent } from './index.js';

const deny = (code: string, rule = code.toLowerCase()): PackEvent => ({ rule, type: 'DENY', params: { code, message: 'm' } });

describe('mergeFacts', () => {
  it('merges objects deeply, replaces arrays, scalars and null, and modifies neither input', () => {
    const base = { a: 1, o: { x: 1, y: { z: 1 } }, list: [1, 2, 3], n: { k: 1 } };
    const patch = { o: { y: { w: 2 } }, list: [9], n: null, extra: true };
    const snapshot = structuredClone({ base, patch });
    expect(mergeFacts(base, patch)).toEqual({ a: 1, o: { x: 1, y: { z: 1, w: 2 } }, list: [9], n: null, extra: true });
    expect({ base, patch }).toEqual(snapshot);
  });

  it('keeps a "__proto__" key as data', () => {
    const merged = mergeFacts({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__']);
  });
});

describe('compareEvents', () => {
  it('is order-insensitive and matches params as a subset', () => {
    expect(compareEvents([{ type: 'DENY', params: { code: 'B' } }, { type: 'DENY', params: { code: 'A' } }], [deny('A'), deny('B')])).toBeUndefined();
    expect(compareEvents([{ type: 'DENY' }], [deny('A')])).toBeUndefined();
  });

  it('requires the exact count', () => {
    expect(compareEvents([{ type: 'DENY' }, { type: 'DENY' }], [deny('A')])).toMatch(/expected 2 event\(s\), got 1[\s\S]*missing: +DENY/);
    expect(compareEvents([], [deny('A')])).toMatch(/unexpected: DENY A \(rule a\)/);
  });

  it('finds a full matching even when a loose expectation could take the strict one\'s event', () => {
    expect(compareEvents([{ type: 'DENY' }, { type: 'DENY', params: { code: 'A' } }], [deny('A'), deny('B')])).toBeUndefined();
  });

  it('compares param values deeply', () => {
    const actual: PackEvent[] = [{ rule: 'r', type: 'T', params: { list: [1, 2], obj: { a: 1 } } }];
    expect(compareEvents([{ type: 'T', params: { list: [1, 2], obj: { a: 1 } } }], actual)).toBeUndefined();
    expect(compareEvents([{ type: 'T', params: { list: [1] } }], actual)).toBeDefined();
  });
});

describe('runPackTests', () => {
  it('reports every case of a passing pack', async () => {
    const report = await runPackTests(compilePack(validatePack(fixturePack())));
    expect(report).toEqual({
      pack: 'fixture-pack@1.2.3',
      passed: 2,
      failed: 0,
      cases: [
        { name: 'nothing fires', passed: true, expected: [], actual: [] },
        {
          name: 'big and over total',
          passed: true,
          expected: [
            { type: 'DENY', params: { code: 'OVER_TOTAL' } },
            { type: 'REVIEW', params: { code: 'BIG_AMOUNT' } },
          ],
          actual: [
            { rule: 'big-amount', type: 'REVIEW', params: { code: 'BIG_AMOUNT', message: 'Large.' } },
            { rule: 'over-total', type: 'DENY', params: { code: 'OVER_TOTAL', message: 'More than the order.' } },
          ],
        },
      ],
    });
  });

  it('explains a failing case', async () => {
    const pack = fixturePack();
    pack.tests.cases[0].expect.events = [{ type: 'FLAG', params: { code: 'VIP' } }];
    pack.tests.cases[1].expect.events.pop();
    const report = await runPackTests(compilePack(validatePack(pack)));
    expect(report.passed).toBe(0);
    expect(report.failed).toBe(2);
    expect(report.cases[0]!.message).toBe(
      ['expected 1 event(s), got 0', '  expected:   FLAG {"code":"VIP"}', '  actual:     (none)', '  missing:    FLAG {"code":"VIP"}'].join('\n'),
    );
    expect(report.cases[1]!.message).toContain('unexpected: REVIEW BIG_AMOUNT (rule big-amount)');
  });
});
