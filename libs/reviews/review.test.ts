import fc from 'fast-check';
import { DomainError } from '../errors/index.js';
import { approvedAmountOf, claim, holder, isOverdue, release, resolve, type Review } from './review.js';

const T0 = new Date('2026-12-02T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function review(over: Partial<Review> = {}): Review {
  return {
    id: 'r1',
    tenant: 't',
    type: 'refund',
    decisionId: 'd1',
    refundId: 'rf1',
    amount: 10_000,
    currency: 'EUR',
    riskBand: null,
    state: 'OPEN',
    deadline: at(60),
    leaseMinutes: 15,
    requiredApprovals: 1,
    requestedBy: 'svc',
    assignee: null,
    leaseUntil: null,
    resolution: null,
    resolvedAt: null,
    resolutionDecisionId: null,
    overdueAt: null,
    createdAt: T0,
    approvals: [],
    ...over,
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return `${e.kind}:${e.code}`;
    throw e;
  }
  return 'ok';
}

const held = (by: string, untilMinute = 15) => ({ assignee: by, leaseUntil: at(untilMinute) });

describe('review claims', () => {
  it('gives an unclaimed item to the caller for the row\'s lease minutes', () => {
    expect(claim(review(), { keyId: 'a' }, T0)).toEqual({ result: 'claimed', leaseUntil: at(15) });
    expect(claim(review({ leaseMinutes: 3 }), { keyId: 'a' }, at(1)).leaseUntil).toEqual(at(4));
  });

  it('refuses another key while the lease runs, naming the holder and the lease end', () => {
    try {
      claim(review(held('a')), { keyId: 'b' }, at(14));
      throw new Error('claimed');
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      const d = e as DomainError;
      expect([d.kind, d.code]).toEqual(['conflict', 'REVIEW_CLAIMED']);
      expect(d.extensions).toMatchObject({ assignee: 'a', leaseUntil: at(15).toISOString() });
      expect(d.message).toContain('a');
    }
  });

  it('renews the holder\'s own lease and lets anyone claim once it ran out (the end instant included)', () => {
    expect(claim(review(held('a')), { keyId: 'a' }, at(10))).toEqual({ result: 'renewed', leaseUntil: at(25) });
    expect(claim(review(held('a')), { keyId: 'b' }, at(15))).toEqual({ result: 'claimed', leaseUntil: at(30) });
    expect(holder(review(held('a')), at(15))).toBeNull();
    expect(holder(review(held('a')), at(14))).toBe('a');
  });

  it('refuses claims on a closed item', () => {
    for (const state of ['APPROVED', 'DENIED', 'CANCELED'] as const) expect(codeOf(() => claim(review({ state }), { keyId: 'a' }, T0))).toBe('conflict:REVIEW_CLOSED');
  });

  it('keeps keys that may not approve from taking the item', () => {
    expect(codeOf(() => claim(review(), { keyId: 'svc' }, T0))).toBe('forbidden:FOUR_EYES_OWN_REQUEST');
    const approved = review({ requiredApprovals: 2, approvals: [{ keyId: 'a', amount: 10_000, reasonCode: 'OK', note: null, at: T0 }] });
    expect(codeOf(() => claim(approved, { keyId: 'a' }, T0))).toBe('forbidden:FOUR_EYES_SAME_REVIEWER');
    expect(codeOf(() => claim(approved, { keyId: 'b' }, T0))).toBe('ok');
  });

  it('lets only the holder release', () => {
    expect(codeOf(() => release(review(held('a')), { keyId: 'a' }, T0))).toBe('ok');
    expect(codeOf(() => release(review(held('a')), { keyId: 'b' }, T0))).toBe('conflict:REVIEW_CLAIMED');
    expect(codeOf(() => release(review(), { keyId: 'a' }, T0))).toBe('conflict:REVIEW_NOT_CLAIMED');
    expect(codeOf(() => release(review(held('a')), { keyId: 'a' }, at(16)))).toBe('conflict:REVIEW_NOT_CLAIMED');
    expect(codeOf(() => release(review({ state: 'DENIED' }), { keyId: 'a' }, T0))).toBe('conflict:REVIEW_CLOSED');
  });

  it('a lease, whatever its length and start, belongs to the claimer strictly before its end and to nobody after', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 * 60 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: -5_000_000, max: 5_000_000 }), (minutes, startMs, probeMs) => {
        const now = new Date(T0.getTime() + startMs);
        const r = review({ leaseMinutes: minutes });
        const { leaseUntil } = claim(r, { keyId: 'a' }, now);
        const probe = new Date(leaseUntil.getTime() + probeMs);
        const h = holder({ assignee: 'a', leaseUntil }, probe);
        return probeMs < 0 ? h === 'a' : h === null;
      }),
    );
  });
});

describe('resolving', () => {
  const approve = (amount?: number) => ({ resolution: 'APPROVE' as const, reasonCode: 'GOODWILL', ...(amount === undefined ? {} : { amount }) });

  it('closes a one-approval item with the requested amount, or the smaller one given', () => {
    expect(resolve(review(held('a')), { keyId: 'a' }, approve(), T0)).toMatchObject({ kind: 'close', state: 'APPROVED', approvedAmount: 10_000, reviewers: ['a'] });
    expect(resolve(review(held('a')), { keyId: 'a' }, approve(8_000), T0)).toMatchObject({ kind: 'close', approvedAmount: 8_000 });
  });

  it('denies at once, even with approvals recorded', () => {
    const r = review({ ...held('b'), requiredApprovals: 2, approvals: [{ keyId: 'a', amount: 10_000, reasonCode: 'OK', note: null, at: T0 }] });
    expect(resolve(r, { keyId: 'b' }, { resolution: 'DENY', reasonCode: 'FRAUD' }, T0)).toMatchObject({ kind: 'close', state: 'DENIED', approvedAmount: null, reviewers: ['a', 'b'] });
  });

  it('records the first of two approvals and closes with the smaller amount on the second', () => {
    const first = resolve(review({ ...held('a'), requiredApprovals: 2 }), { keyId: 'a' }, approve(9_000), T0);
    expect(first).toMatchObject({ kind: 'approval', approval: { keyId: 'a', amount: 9_000 } });
    const r = review({ ...held('b'), requiredApprovals: 2, approvals: [first.approval!] });
    expect(resolve(r, { keyId: 'b' }, approve(9_500), T0)).toMatchObject({ kind: 'close', state: 'APPROVED', approvedAmount: 9_000, reviewers: ['a', 'b'] });
  });

  it('refuses, in order: closed, amount rules, four-eyes, approval limit, then the claim', () => {
    const r2 = review({ requiredApprovals: 2, approvals: [{ keyId: 'a', amount: 10_000, reasonCode: 'OK', note: null, at: T0 }] });
    expect(codeOf(() => resolve(review({ state: 'APPROVED' }), { keyId: 'a' }, approve(), T0))).toBe('conflict:REVIEW_CLOSED');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a' }, approve(10_001), T0))).toBe('unprocessable:AMOUNT_ABOVE_REQUESTED');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a' }, { resolution: 'DENY', reasonCode: 'X', amount: 5 }, T0))).toBe('invalid:VALIDATION_FAILED');
    expect(codeOf(() => resolve(review({ ...held('a'), amount: null }), { keyId: 'a' }, approve(5), T0))).toBe('invalid:VALIDATION_FAILED');
    expect(codeOf(() => resolve(review(), { keyId: 'svc' }, approve(), T0))).toBe('forbidden:FOUR_EYES_OWN_REQUEST');
    expect(codeOf(() => resolve(r2, { keyId: 'a' }, approve(), T0))).toBe('forbidden:FOUR_EYES_SAME_REVIEWER');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a', approvalLimit: 9_999 }, approve(), T0))).toBe('forbidden:APPROVAL_LIMIT_EXCEEDED');
    expect(codeOf(() => resolve(review(), { keyId: 'a' }, approve(), T0))).toBe('conflict:REVIEW_NOT_CLAIMED');
    expect(codeOf(() => resolve(review(held('b')), { keyId: 'a' }, approve(), T0))).toBe('conflict:REVIEW_CLAIMED');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a' }, approve(), at(15)))).toBe('conflict:REVIEW_NOT_CLAIMED');
  });

  it('applies the approval limit to the amount approved, and none when the limit is null or absent', () => {
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a', approvalLimit: 9_999 }, approve(9_999), T0))).toBe('ok');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a', approvalLimit: null }, approve(), T0))).toBe('ok');
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a' }, approve(), T0))).toBe('ok');
    // A limit does not stop a DENY.
    expect(codeOf(() => resolve(review(held('a')), { keyId: 'a', approvalLimit: 1 }, { resolution: 'DENY', reasonCode: 'X' }, T0))).toBe('ok');
  });

  it('the approved amount is never above any approval, nor above the requested amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.array(fc.integer({ min: 1, max: 1e9 }), { minLength: 1, maxLength: 4 }), (requested, raw) => {
        const amounts = raw.map((a) => Math.min(a, requested));
        let r = review({ amount: requested, requiredApprovals: amounts.length });
        let last;
        amounts.forEach((amount, i) => {
          const key = `k${i}`;
          last = resolve({ ...r, ...held(key) }, { keyId: key }, approve(amount), T0);
          if (last.kind === 'approval') r = { ...r, approvals: [...r.approvals, last.approval] };
        });
        const closed = last as unknown as { kind: string; approvedAmount: number };
        return closed.kind === 'close' && closed.approvedAmount === Math.min(...amounts) && closed.approvedAmount <= requested;
      }),
    );
    expect(approvedAmountOf([])).toBeNull();
  });
});

describe('overdue', () => {
  it('is an open item strictly past its deadline', () => {
    expect(isOverdue(review(), at(60))).toBe(false);
    expect(isOverdue(review(), at(61))).toBe(true);
    expect(isOverdue(review({ state: 'DENIED' }), at(61))).toBe(false);
  });
});
