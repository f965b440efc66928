/**
 * The refund lifecycle (seed 001, api-contract.md section 8): its states and the one table of allowed transitions.
 * Every change of a refund's state goes through `assertTransition`; anything the table does not list is refused with
 * 409 INVALID_TRANSITION naming both states.
 */
import { DomainError } from '../errors/index.js';

export const REFUND_STATES = ['IN_REVIEW', 'APPROVED', 'DENIED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
export type RefundState = (typeof REFUND_STATES)[number];

/** Where a refund may go from each state. Terminal states map to nothing. */
export const TRANSITIONS: Readonly<Record<RefundState, readonly RefundState[]>> = Object.freeze({
  // A reviewer approves or denies; the service may cancel before processing starts.
  IN_REVIEW: ['APPROVED', 'DENIED', 'CANCELED'],
  // Execution starts (PROCESSING) or the service cancels first.
  APPROVED: ['PROCESSING', 'CANCELED'],
  DENIED: [],
  // The provider answered: paid, or failed for good after the last attempt.
  PROCESSING: ['SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  // A manual retry sends it back to execution.
  FAILED: ['PROCESSING'],
  CANCELED: [],
});

/** The state a refund enters from the engine's outcome (APPROVE → APPROVED, REVIEW → IN_REVIEW, DENY → DENIED). */
export const ENTRY_STATE: Readonly<Record<string, RefundState>> = Object.freeze({ APPROVE: 'APPROVED', REVIEW: 'IN_REVIEW', DENY: 'DENIED' });

/**
 * States whose approved amount counts against the order's captured amount: approved, being paid, or paid. A refund
 * that failed for good, was denied or canceled gives its amount back; one in review has no approved amount yet.
 */
export const COMMITTED_STATES: readonly RefundState[] = ['APPROVED', 'PROCESSING', 'SUCCEEDED'];

export const INVALID_TRANSITION = 'INVALID_TRANSITION';

export function isRefundState(s: string): s is RefundState {
  return (REFUND_STATES as readonly string[]).includes(s);
}

export function canTransition(from: RefundState, to: RefundState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** @throws INVALID_TRANSITION (409) naming both states when the table does not allow `from` → `to`. */
export function assertTransition(from: RefundState, to: RefundState): void {
  if (canTransition(from, to)) return;
  const allowed = TRANSITIONS[from];
  throw new DomainError(
    INVALID_TRANSITION,
    `A refund in state ${from} cannot move to ${to}${allowed.length ? ` (from ${from}: ${allowed.join(', ')})` : ` (${from} is final)`}`,
    'conflict',
    [{ path: '/state', message: `${from} → ${to} is not an allowed transition` }],
    { from, to },
  );
}

/** Who changed a refund: an API key (its id and the role it acted in) or the platform itself. */
export type Actor = { readonly type: 'key'; readonly id: string; readonly role: string } | { readonly type: 'system' };

export const SYSTEM: Actor = Object.freeze({ type: 'system' });

/** How an actor is stored and shown: `key:<id>` with its role, or `system`. */
export function actorView(a: Actor): { id: string; role: string } {
  return a.type === 'system' ? { id: 'system', role: 'system' } : { id: a.id, role: a.role };
}
