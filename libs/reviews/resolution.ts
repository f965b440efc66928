/**
 * The decision a closed review leaves behind. The engine's REVIEW decision is immutable (decisions are append-only), so
 * the reviewers' answer is a decision of its own that names the one it overrides and says, in words, why.
 */

export interface EngineReason {
  code: string;
  message?: string;
}

export interface ResolutionDecisionInput {
  id: string;
  tenant: string;
  /** The review's type: the domain of the engine decision it resolves. */
  type: string;
  createdAt: Date;
  outcome: 'APPROVE' | 'DENY';
  approvedAmount: number | null;
  currency: string | null;
  refundId: string | null;
  reasonCode: string;
  note: string | null;
  review: { id: string; reviewers: string[]; approvals: { keyId: string; amount: number | null; reasonCode: string; note: string | null; at: Date }[] };
  engine: { id: string; outcome: string; reasons: EngineReason[]; release: unknown };
  /** The key whose resolution closed the item. */
  closedBy: string;
}

/** Minor units as a decimal string in the currency's own digits (`8000` EUR → `80.00`, `500` JPY → `500`). */
export function formatMinor(amount: number, currency: string | null): string {
  let digits = 2;
  if (currency) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      // an unknown code: two digits, the common case
    }
  }
  const sign = amount < 0 ? '-' : '';
  const s = String(Math.abs(amount)).padStart(digits + 1, '0');
  const whole = digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
  return `${sign}${whole}${currency ? ` ${currency}` : ''}`;
}

function because(reasons: EngineReason[]): string {
  if (!reasons.length) return 'no reason given';
  return reasons.map((r) => (r.message ? `${r.code} (${r.message})` : r.code)).join(', ');
}

/** One sentence a person reads: what the engine said and why, and what the reviewer(s) decided. */
export function explanation(d: ResolutionDecisionInput): string {
  const verb = d.outcome === 'APPROVE' ? 'approved' : 'denied';
  const amount = d.outcome === 'APPROVE' && d.approvedAmount !== null ? ` ${formatMinor(d.approvedAmount, d.currency)}` : '';
  const others = d.review.reviewers.filter((k) => k !== d.closedBy);
  const also = others.length ? ` after approval by ${others.map((k) => `reviewer ${k}`).join(', ')}` : '';
  const note = d.note ? ` with note "${d.note}"` : ` (reason ${d.reasonCode})`;
  return `engine said ${d.engine.outcome} because ${because(d.engine.reasons)}; reviewer ${d.closedBy} ${verb}${amount}${note}${also}`;
}

/** The stored document of the resolution decision (the same shape family as engine decisions: id, type, outcome, reasons). */
export function resolutionDocument(d: ResolutionDecisionInput): Record<string, unknown> {
  const source = `review@${d.review.id}`;
  return {
    id: d.id,
    tenant: d.tenant,
    type: d.type,
    domain: d.type,
    createdAt: d.createdAt.toISOString(),
    outcome: d.outcome,
    ...(d.refundId !== null ? { refundId: d.refundId } : {}),
    approvedAmount: d.outcome === 'APPROVE' ? d.approvedAmount : null,
    currency: d.currency,
    reasons: [{ code: d.reasonCode, message: d.note ?? `Reviewer ${d.closedBy}: ${d.reasonCode}`, source, rule: 'reviewer' }],
    overrides: d.engine.id,
    review: {
      id: d.review.id,
      reviewers: d.review.reviewers,
      note: d.note,
      approvals: d.review.approvals.map((a) => ({ ...a, at: a.at.toISOString() })),
    },
    explanation: explanation(d),
    release: d.engine.release,
  };
}
