/** Decision outcomes, reasons and the combining rule of api-contract.md §3. */

export type Outcome = 'APPROVE' | 'DENY' | 'REVIEW';
/** What a reason asks for; a reason with effect DENY denies, REVIEW sends to review. */
export type Effect = 'DENY' | 'REVIEW';

export interface Reason {
  code: string;
  message: string;
  /** `<component>@<version>` that produced it. */
  source: string;
  rule: string;
  effect: Effect;
}

/** One rule or policy evaluated, fired or not, with the conditions and fact values it used. */
export interface TraceEntry {
  source: string;
  rule: string;
  fired: boolean;
  [detail: string]: unknown;
}

/** Any DENY reason → DENY; else any REVIEW reason → REVIEW; else APPROVE. */
export function combine(reasons: readonly Reason[]): Outcome {
  let review = false;
  for (const r of reasons) {
    switch (r.effect) {
      case 'DENY':
        return 'DENY';
      case 'REVIEW':
        review = true;
        break;
    }
  }
  return review ? 'REVIEW' : 'APPROVE';
}

export function isEffect(value: unknown): value is Effect {
  return value === 'DENY' || value === 'REVIEW';
}
