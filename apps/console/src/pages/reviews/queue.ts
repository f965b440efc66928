/** What the queue shows about an item's SLA and four-eyes state, from the item the API answers. */

export interface ReviewItem {
  id: string;
  type: string;
  decisionId: string;
  refundId?: string | null;
  amount: number;
  currency: string;
  riskBand?: string | null;
  state: string;
  deadline: string;
  overdue?: boolean;
  assignee: string | null;
  leaseUntil?: string | null;
  requiredApprovals?: number;
  approvals: { keyId: string; amount?: number | null; reasonCode: string; note?: string | null; at: string }[];
  resolution?: string | null;
  resolvedBy?: string | null;
  resolvedAt?: string | null;
  resolutionDecisionId?: string | null;
  createdAt?: string;
}

/** Open and past its deadline (the API's `overdue` flag is set by a sweeper; the clock may be ahead of it). */
export function isOverdue(item: Pick<ReviewItem, 'state' | 'deadline' | 'overdue'>, now: number): boolean {
  return item.state === 'OPEN' && (item.overdue === true || new Date(item.deadline).getTime() < now);
}

export interface FourEyes {
  required: number;
  done: number;
  /** Key ids that approved, in order. */
  approvers: string[];
  /** This key approved already: it cannot be the second approval. */
  mine: boolean;
  /** Approvals still needed. */
  missing: number;
}

export function fourEyes(item: Pick<ReviewItem, 'requiredApprovals' | 'approvals'>, me: string): FourEyes {
  const required = item.requiredApprovals ?? 1;
  const approvers = item.approvals.map((a) => a.keyId);
  return { required, done: approvers.length, approvers, mine: approvers.includes(me), missing: Math.max(0, required - approvers.length) };
}

/** The claim is live and held by someone (maybe this key). */
export function claimHolder(item: Pick<ReviewItem, 'assignee' | 'leaseUntil'>, now: number): string | undefined {
  if (!item.assignee) return undefined;
  if (item.leaseUntil && new Date(item.leaseUntil).getTime() <= now) return undefined;
  return item.assignee;
}
