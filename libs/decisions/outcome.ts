/** What every decision is made of, whatever its type: reasons with the outcome they ask for, and a full trace. */

/** An outcome of a decision type's vocabulary (refund: APPROVE, DENY, REVIEW; another type may use ALLOW/CHALLENGE/BLOCK). */
export type Outcome = string;

export interface Reason {
  code: string;
  message: string;
  /** `<component>@<version>` that produced it. */
  source: string;
  rule: string;
  /** The outcome this reason asks for; the type's precedence decides between reasons (refund: DENY over REVIEW). */
  effect: Outcome;
}

/** One rule or policy evaluated, fired or not, with the conditions and fact values it used. */
export interface TraceEntry {
  source: string;
  rule: string;
  fired: boolean;
  [detail: string]: unknown;
}
