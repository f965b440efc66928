import { DomainError } from '../errors/index.js';
import { assertTransition, canTransition, ENTRY_STATE, REFUND_STATES, TRANSITIONS, type RefundState } from './lifecycle.js';

describe('refund lifecycle', () => {
  it('allows exactly the transitions of the table', () => {
    const allowed = new Set(Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`)));
    expect([...allowed].sort()).toEqual(
      [
        'IN_REVIEW->APPROVED',
        'IN_REVIEW->DENIED',
        'IN_REVIEW->CANCELED',
        'APPROVED->PROCESSING',
        'APPROVED->CANCELED',
        'PROCESSING->SUCCEEDED',
        'PROCESSING->FAILED',
        'FAILED->PROCESSING',
      ].sort(),
    );
    for (const from of REFUND_STATES) for (const to of REFUND_STATES) expect(canTransition(from, to)).toBe(allowed.has(`${from}->${to}`));
  });

  it('refuses any other transition with 409 INVALID_TRANSITION naming both states', () => {
    for (const [from, to] of [
      ['DENIED', 'APPROVED'],
      ['SUCCEEDED', 'PROCESSING'],
      ['PROCESSING', 'CANCELED'],
      ['CANCELED', 'APPROVED'],
      ['APPROVED', 'SUCCEEDED'],
      ['IN_REVIEW', 'IN_REVIEW'],
    ] as [RefundState, RefundState][]) {
      let error: unknown;
      try {
        assertTransition(from, to);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DomainError);
      const d = error as DomainError;
      expect([d.code, d.kind, d.extensions]).toEqual(['INVALID_TRANSITION', 'conflict', { from, to }]);
      expect(d.message).toContain(from);
      expect(d.message).toContain(to);
    }
  });

  it('enters from the engine outcome', () => {
    expect(ENTRY_STATE).toEqual({ APPROVE: 'APPROVED', REVIEW: 'IN_REVIEW', DENY: 'DENIED' });
  });

  it('has no way out of a final state', () => {
    for (const s of ['DENIED', 'SUCCEEDED', 'CANCELED'] as const) expect(TRANSITIONS[s]).toEqual([]);
  });
});
