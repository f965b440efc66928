import { balancePoints, differences, utcInput } from './replay.js';

describe('auditor logic', () => {
  const stored = { outcome: 'APPROVE', reasons: [], approvedAmount: 100, trace: [{ rule: 'a', fired: false }, { rule: 'b', fired: true }] };

  it('a replay equal to the stored decision has no differences', () => {
    expect(differences(stored, structuredClone(stored))).toEqual([]);
  });

  it('names each field and trace step that differs', () => {
    const replayed = { ...stored, outcome: 'REVIEW', trace: [{ rule: 'a', fired: true }, { rule: 'b', fired: true }, { rule: 'c', fired: false }] };
    expect(differences(stored, replayed).map((d) => d.field)).toEqual(['outcome', 'trace[0] a', 'trace[2] c']);
  });

  it('reads a datetime-local value as UTC', () => {
    expect(utcInput('2026-12-01T10:30')).toBe('2026-12-01T10:30:00.000Z');
    expect(utcInput('')).toBeUndefined();
    expect(utcInput('nonsense')).toBeUndefined();
  });

  it('orders the timeline by entry sequence', () => {
    expect(balancePoints([{ seq: 2, at: '2026-01-02T00:00:00Z', balanceAfter: 5 }, { seq: 1, at: '2026-01-01T00:00:00Z', balanceAfter: 10 }]).map((p) => p.v)).toEqual([10, 5]);
  });
});
