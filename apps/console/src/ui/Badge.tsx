/** An outcome or state as a coloured label (the text carries the meaning; colour only helps). */
const TONE: Record<string, 'ok' | 'warn' | 'bad' | 'neutral'> = {
  APPROVE: 'ok', ALLOW: 'ok', SUCCEEDED: 'ok', APPROVED: 'ok', RESOLVED: 'ok', OK: 'ok',
  REVIEW: 'warn', CHALLENGE: 'warn', IN_REVIEW: 'warn', OPEN: 'warn', CLAIMED: 'warn', PROCESSING: 'warn', PENDING: 'warn',
  DENY: 'bad', BLOCK: 'bad', DENIED: 'bad', FAILED: 'bad', BROKEN: 'bad', VIOLATED: 'bad', OVERDUE: 'bad',
};

export function Badge({ value, tone }: { value: string; tone?: 'ok' | 'warn' | 'bad' | 'neutral' }) {
  return <span className={`badge badge-${tone ?? TONE[value] ?? 'neutral'}`}>{value}</span>;
}
