/**
 * The review queue's rules (api-contract.md section 8), for any decision type whose outcome opened a review: who may
 * claim an item and for how long, who may approve it (four-eyes), and what a resolution does to it. Plain functions over
 * a review as read under its row lock; they decide or throw a DomainError, the repository writes.
 */
import { DomainError } from '../errors/index.js';

export const REVIEW_STATES = ['OPEN', 'APPROVED', 'DENIED', 'CANCELED'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export const RESOLUTIONS = ['APPROVE', 'DENY'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface Approval {
  keyId: string;
  /** What this reviewer approved (minor units); null for a review without an amount. */
  amount: number | null;
  reasonCode: string;
  note: string | null;
  at: Date;
}

export interface Review {
  id: string;
  tenant: string;
  type: string;
  /** The engine decision whose REVIEW outcome opened the item (immutable; the resolution is another decision). */
  decisionId: string;
  refundId: string | null;
  amount: number | null;
  currency: string | null;
  riskBand: string | null;
  state: ReviewState;
  deadline: Date;
  leaseMinutes: number;
  requiredApprovals: number;
  /** The key that asked for the decision: it may not approve it. */
  requestedBy: string;
  assignee: string | null;
  leaseUntil: Date | null;
  resolution: Resolution | null;
  resolvedAt: Date | null;
  resolutionDecisionId: string | null;
  overdueAt: Date | null;
  createdAt: Date;
  approvals: Approval[];
}

/** Who acts: the API key's id and, for approvals, the most it may approve (null or absent: no limit). */
export interface Reviewer {
  keyId: string;
  approvalLimit?: number | null;
}

export interface ResolveInput {
  resolution: Resolution;
  amount?: number;
  reasonCode: string;
  note?: string;
}

const MINUTE_MS = 60_000;

/** The key holding a live claim at `now`, or null (never claimed, released, or its lease ran out). */
export function holder(r: Pick<Review, 'assignee' | 'leaseUntil'>, now: Date): string | null {
  return r.assignee !== null && r.leaseUntil !== null && r.leaseUntil.getTime() > now.getTime() ? r.assignee : null;
}

/** Overdue: still open past its SLA deadline. A closed item is never overdue. */
export function isOverdue(r: Pick<Review, 'state' | 'deadline'>, now: Date): boolean {
  return r.state === 'OPEN' && r.deadline.getTime() < now.getTime();
}

function assertOpen(r: Review): void {
  if (r.state !== 'OPEN') {
    throw new DomainError('REVIEW_CLOSED', `Review ${r.id} is ${r.state}: it can no longer be claimed, released or resolved`, 'conflict', [], {
      reviewId: r.id,
      state: r.state,
    });
  }
}

/**
 * Four-eyes: the key that asked for the decision never approves it, and no key approves one item twice (a second
 * approval must be someone else's).
 */
function assertMayApprove(r: Review, who: Reviewer): void {
  if (r.requestedBy === who.keyId) {
    throw new DomainError('FOUR_EYES_OWN_REQUEST', `Key ${who.keyId} asked for decision ${r.decisionId}: another reviewer must approve it`, 'forbidden', [], {
      reviewId: r.id,
    });
  }
  if (r.approvals.some((a) => a.keyId === who.keyId)) {
    throw new DomainError('FOUR_EYES_SAME_REVIEWER', `Key ${who.keyId} already approved review ${r.id}: the next approval must come from another reviewer`, 'forbidden', [], {
      reviewId: r.id,
    });
  }
}

export interface ClaimEffect {
  /** `claimed`: the caller now holds it; `renewed`: the caller held it already and its lease starts again. */
  result: 'claimed' | 'renewed';
  leaseUntil: Date;
}

/**
 * A claim gives the caller the item for the row's `leaseMinutes`. While another key's lease runs: 409 REVIEW_CLAIMED
 * naming the holder and the lease end. A key that may not approve the item (it asked for it, or approved it already)
 * cannot take it either, so it never blocks the queue for the reviewers who can.
 */
export function claim(r: Review, who: Reviewer, now: Date): ClaimEffect {
  assertOpen(r);
  const current = holder(r, now);
  if (current !== null && current !== who.keyId) {
    throw new DomainError(
      'REVIEW_CLAIMED',
      `Review ${r.id} is claimed by key ${current} until ${r.leaseUntil!.toISOString()}`,
      'conflict',
      [],
      { reviewId: r.id, assignee: current, leaseUntil: r.leaseUntil!.toISOString() },
    );
  }
  assertMayApprove(r, who);
  return { result: current === who.keyId ? 'renewed' : 'claimed', leaseUntil: new Date(now.getTime() + r.leaseMinutes * MINUTE_MS) };
}

/** Only the holder of a live claim gives it back; anyone else: 409 (REVIEW_CLAIMED naming the holder, or REVIEW_NOT_CLAIMED). */
export function release(r: Review, who: Reviewer, now: Date): void {
  assertOpen(r);
  assertHolds(r, who, now);
}

function assertHolds(r: Review, who: Reviewer, now: Date): void {
  const current = holder(r, now);
  if (current === who.keyId) return;
  if (current !== null) {
    throw new DomainError('REVIEW_CLAIMED', `Review ${r.id} is claimed by key ${current} until ${r.leaseUntil!.toISOString()}`, 'conflict', [], {
      reviewId: r.id,
      assignee: current,
      leaseUntil: r.leaseUntil!.toISOString(),
    });
  }
  throw new DomainError('REVIEW_NOT_CLAIMED', `Claim review ${r.id} first (POST /v1/reviews/${r.id}/claim): you do not hold it`, 'conflict', [], {
    reviewId: r.id,
  });
}

export type ResolveEffect =
  /** An approval recorded; the item stays open for the next reviewer (its claim is given back). */
  | { kind: 'approval'; approval: Approval }
  /** The item closes: APPROVED with the approved amount (the smallest of its approvals), or DENIED. */
  | { kind: 'close'; state: 'APPROVED' | 'DENIED'; approval: Approval | null; approvedAmount: number | null; reviewers: string[] };

/**
 * What resolving does, checked in this order: a closed item (409 REVIEW_CLOSED); an amount for an item without one or
 * with a DENY (400), an amount above the requested one (422 AMOUNT_ABOVE_REQUESTED); for an approval, four-eyes (403
 * FOUR_EYES_OWN_REQUEST, FOUR_EYES_SAME_REVIEWER) and the key's approval limit (403 APPROVAL_LIMIT_EXCEEDED); then the
 * claim (409 REVIEW_NOT_CLAIMED or REVIEW_CLAIMED). Refusals that hold whoever asks come before the claim check, so a
 * key that may never approve learns why at once.
 */
export function resolve(r: Review, who: Reviewer, input: ResolveInput, now: Date): ResolveEffect {
  assertOpen(r);
  if (input.amount !== undefined) {
    if (input.resolution === 'DENY') {
      throw new DomainError('VALIDATION_FAILED', 'A DENY takes no amount', 'invalid', [{ path: '/amount', message: 'is only for APPROVE' }]);
    }
    if (r.amount === null) {
      throw new DomainError('VALIDATION_FAILED', `Review ${r.id} has no amount to approve`, 'invalid', [{ path: '/amount', message: 'this review has no amount' }]);
    }
    if (input.amount > r.amount) {
      throw new DomainError(
        'AMOUNT_ABOVE_REQUESTED',
        `Approved amount ${input.amount} is above the requested ${r.amount}${r.currency ? ` ${r.currency}` : ''}`,
        'unprocessable',
        [{ path: '/amount', message: `must not exceed ${r.amount}` }],
        { requested: r.amount, approved: input.amount },
      );
    }
  }
  const note = input.note ?? null;
  if (input.resolution === 'DENY') {
    assertHolds(r, who, now);
    const reviewers = [...r.approvals.map((a) => a.keyId), who.keyId];
    return { kind: 'close', state: 'DENIED', approval: null, approvedAmount: null, reviewers };
  }
  assertMayApprove(r, who);
  const amount = input.amount ?? r.amount;
  const limit = who.approvalLimit;
  if (limit !== undefined && limit !== null && amount !== null && amount > limit) {
    throw new DomainError(
      'APPROVAL_LIMIT_EXCEEDED',
      `Key ${who.keyId} may approve up to ${limit}; this approval is ${amount}${r.currency ? ` ${r.currency}` : ''}`,
      'forbidden',
      [{ path: '/amount', message: `above this key's approval limit ${limit}` }],
      { approvalLimit: limit, amount },
    );
  }
  assertHolds(r, who, now);
  const approval: Approval = { keyId: who.keyId, amount, reasonCode: input.reasonCode, note, at: now };
  const approvals = [...r.approvals, approval];
  if (approvals.length < r.requiredApprovals) return { kind: 'approval', approval };
  return { kind: 'close', state: 'APPROVED', approval, approvedAmount: approvedAmountOf(approvals), reviewers: approvals.map((a) => a.keyId) };
}

/** With several approvals of different amounts, the smallest is what was approved by all of them. */
export function approvedAmountOf(approvals: readonly Pick<Approval, 'amount'>[]): number | null {
  const amounts = approvals.map((a) => a.amount).filter((a): a is number => a !== null);
  return amounts.length ? Math.min(...amounts) : null;
}
