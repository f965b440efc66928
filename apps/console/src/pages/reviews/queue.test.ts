import { claimHolder, fourEyes, isOverdue } from './queue.js';

const now = Date.parse('2026-12-02T12:00:00Z');

describe('review queue logic', () => {
  it('an open item past its deadline is overdue even before the sweeper flags it; a closed one never', () => {
    expect(isOverdue({ state: 'OPEN', deadline: '2026-12-02T11:59:59Z', overdue: false }, now)).toBe(true);
    expect(isOverdue({ state: 'OPEN', deadline: '2026-12-02T12:00:01Z', overdue: false }, now)).toBe(false);
    expect(isOverdue({ state: 'OPEN', deadline: '2026-12-03T00:00:00Z', overdue: true }, now)).toBe(true);
    expect(isOverdue({ state: 'APPROVED', deadline: '2026-12-01T00:00:00Z', overdue: true }, now)).toBe(false);
  });

  it('four-eyes: who approved, how many are missing, and whether this key already did', () => {
    const item = { requiredApprovals: 2, approvals: [{ keyId: 'k-a', reasonCode: 'OK', at: '2026-12-02T10:00:00Z' }] };
    expect(fourEyes(item, 'k-a')).toEqual({ required: 2, done: 1, approvers: ['k-a'], mine: true, missing: 1 });
    expect(fourEyes(item, 'k-b').mine).toBe(false);
    expect(fourEyes({ approvals: [] }, 'k-a')).toEqual({ required: 1, done: 0, approvers: [], mine: false, missing: 1 });
  });

  it('a claim whose lease ended is nobody\'s', () => {
    expect(claimHolder({ assignee: 'k-a', leaseUntil: '2026-12-02T12:10:00Z' }, now)).toBe('k-a');
    expect(claimHolder({ assignee: 'k-a', leaseUntil: '2026-12-02T11:59:00Z' }, now)).toBeUndefined();
    expect(claimHolder({ assignee: null, leaseUntil: null }, now)).toBeUndefined();
  });
});
