/** Where a replayed decision differs from the stored one: the fields an auditor compares, then each trace step. */

export interface Difference {
  field: string;
  stored: string;
  replayed: string;
}

const FIELDS = ['outcome', 'reasons', 'riskScore', 'approvedAmount', 'tender', 'retryAfter'] as const;

const show = (v: unknown): string => (v === undefined ? '—' : JSON.stringify(v));

export function differences(stored: Record<string, unknown>, replayed: Record<string, unknown>): Difference[] {
  const out: Difference[] = [];
  for (const f of FIELDS) {
    if (JSON.stringify(stored[f]) !== JSON.stringify(replayed[f])) out.push({ field: f, stored: show(stored[f]), replayed: show(replayed[f]) });
  }
  const a = Array.isArray(stored.trace) ? (stored.trace as Record<string, unknown>[]) : [];
  const b = Array.isArray(replayed.trace) ? (replayed.trace as Record<string, unknown>[]) : [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) {
      const rule = (a[i] ?? b[i])?.rule;
      const name = typeof rule === 'string' ? rule : String(i);
      out.push({ field: `trace[${i}] ${name}`, stored: show(a[i]), replayed: show(b[i]) });
    }
  }
  return out;
}

/** `datetime-local` value (read as UTC) → ISO instant; '' → undefined. */
export function utcInput(v: string | null | undefined): string | undefined {
  if (!v) return undefined;
  const d = new Date(`${v}${v.length === 16 ? ':00' : ''}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The balance after each entry, in business time order: the timeline chart's points. */
export function balancePoints(entries: { at: string; balanceAfter: number; seq: number }[]): { t: number; v: number }[] {
  return [...entries]
    .sort((x, y) => x.seq - y.seq)
    .map((e) => ({ t: new Date(e.at).getTime(), v: e.balanceAfter }))
    .filter((p) => Number.isFinite(p.t));
}
