import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { diffPacks } from './diff.js';
import type { RulePack } from './types.js';

const root = resolve(import.meta.dirname, '../..');
const shipped = (): RulePack => JSON.parse(readFileSync(resolve(root, 'rule-packs/refund-policy/1.0.0.json'), 'utf8')) as RulePack;

describe('diffPacks', () => {
  it('finds nothing between a pack and itself but the version', () => {
    const b = { ...shipped(), version: '1.0.1' };
    const d = diffPacks(shipped(), b);
    expect(d).toMatchObject({ from: 'refund-policy@1.0.0', to: 'refund-policy@1.0.1', same: true, header: [] });
    expect(d.rules).toEqual({ added: [], removed: [], changed: [], reordered: false });
  });

  it('names added, removed and changed rules with what changed in them', () => {
    const a = shipped();
    const b = structuredClone(a);
    b.rules = b.rules.filter((r) => r.name !== 'return-rejected');
    b.rules.push({ name: 'new-rule', conditions: { all: [{ fact: 'disputeOpen', operator: 'equal', value: true }] }, event: { type: 'DENY', params: { code: 'X', message: 'x' } } });
    const limit = b.rules.find((r) => r.name === 'amount-over-auto-approve-limit')!;
    limit.priority = 1;
    limit.event = { type: 'DENY', params: { code: 'TOO_MUCH', message: 'too much' } };
    const d = diffPacks(a, b);
    expect(d.rules.added).toEqual(['new-rule']);
    expect(d.rules.removed).toEqual(['return-rejected']);
    expect(d.rules.changed).toEqual([{ name: 'amount-over-auto-approve-limit', fields: ['event', 'priority'] }]);
    expect(d.same).toBe(false);
  });

  it('sees rules reordered without other changes', () => {
    const b = shipped();
    b.rules.reverse();
    expect(diffPacks(shipped(), b).rules).toEqual({ added: [], removed: [], changed: [], reordered: true });
  });

  it('lists parameter changes with old and new values', () => {
    const b = shipped();
    b.parameters.autoApproveLimit = 4000;
    b.parameters.newLimit = 3;
    delete b.parameters.goodwillLimit12m;
    const d = diffPacks(shipped(), b);
    expect(d.parameters).toEqual({
      added: [{ name: 'newLimit', from: undefined, to: 3 }],
      removed: [{ name: 'goodwillLimit12m', from: 3, to: undefined }],
      changed: [{ name: 'autoApproveLimit', from: 50000, to: 4000 }],
    });
  });

  it('walks the fact schema by JSON pointer: added and removed facts, changed constraints', () => {
    const b = shipped();
    const props = b.factSchema.properties as Record<string, Record<string, any>>;
    props.loyaltyTier = { type: 'string', enum: ['gold', 'silver'] };
    delete props.signals;
    props.customer!.properties.accountAgeDays.minimum = 1;
    const d = diffPacks(shipped(), b);
    expect(d.factSchema.added).toEqual(['/properties/loyaltyTier']);
    expect(d.factSchema.removed).toEqual(expect.arrayContaining(['/properties/signals', '/properties/signals/properties/ipRisk']));
    expect(d.factSchema.changed).toEqual([
      { path: '/properties/customer/properties/accountAgeDays', from: { type: 'integer', minimum: 0 }, to: { type: 'integer', minimum: 1 } },
    ]);
  });

  it('counts embedded test cases added and removed', () => {
    const b = shipped();
    b.tests.cases = b.tests.cases.slice(1);
    b.tests.cases.push({ name: 'brand new', expect: { events: [] } });
    const d = diffPacks(shipped(), b);
    expect(d.tests).toMatchObject({ from: 29, to: 29, added: ['brand new'], removed: ['clean request is approved with no events'] });
  });

  it('names cases whose expectations changed, and changed defaults, and is then not "same"', () => {
    const b = shipped();
    b.tests.cases[1]!.expect = { events: [{ type: 'REVIEW', params: { code: 'SOMETHING_ELSE' } }] };
    (b.tests.defaults).disputeOpen = true;
    const d = diffPacks(shipped(), b);
    expect(d.tests).toMatchObject({ added: [], removed: [], changed: [shipped().tests.cases[1]!.name], defaultsChanged: true });
    expect(d.same).toBe(false);
  });
});
