/**
 * A decision type's review: which outcome opens a review item, and the item's numbers, read from the parameters of
 * the release's pack of the named kind (so an SLA or a four-eyes threshold changes with a release, not a deploy).
 */
import type { ErrorDetail } from '../../errors/index.js';
import type { CompiledPack } from '../../rules/index.js';

export interface ReviewSpec {
  /** The outcome that opens a review (REVIEW). */
  when: string;
  /** Kind of the pack whose parameters hold the numbers below. */
  packKind: string;
  /** Pointers into the case: the amount under review (minor units) and its currency. */
  amount: string;
  currency: string;
  /** Pointer into the decision's facts (the case and what its steps added) to a risk band, e.g. /risk/band. */
  riskBand?: string;
}

export interface ReviewPolicy {
  readonly when: string;
  readonly amount: string;
  readonly currency: string;
  /** Hours from opening to the SLA deadline. */
  readonly slaHours: number;
  /** How long a reviewer's claim lasts. */
  readonly claimLeaseMinutes: number;
  /** From this amount (minor units), two approvals by different reviewers. */
  readonly fourEyesAmount: number;
  readonly riskBand?: string;
  /** Items in these risk bands need two approvals too (pack parameter reviewFourEyesRiskBands; none when absent). */
  readonly fourEyesRiskBands: readonly string[];
  /** `name@version` of the pack the numbers came from. */
  readonly source: string;
}

/** The pack parameters a review reads, and what each must be. */
export const REVIEW_PARAMETERS = {
  reviewSlaHours: { min: 1 },
  reviewClaimLeaseMinutes: { min: 1 },
  reviewFourEyesAmount: { min: 0 },
} as const;

/**
 * The review policy from the release's one pack of `spec.packKind`; problems (no such pack, a parameter missing or not
 * an integer in range) are pushed to `problems` at `at`.
 */
export function bindReviewPolicy(spec: ReviewSpec, packs: ReadonlyMap<string, CompiledPack>, at: string, problems: ErrorDetail[]): ReviewPolicy | undefined {
  const found = [...packs].filter(([, p]) => p.kind === spec.packKind);
  if (found.length !== 1) {
    problems.push({ path: `${at}/packKind`, message: `the review reads its numbers from the release's one pack of kind ${spec.packKind}: the release has ${found.length}` });
    return undefined;
  }
  const [component, pack] = found[0]!;
  const values: Record<string, number> = {};
  for (const [name, { min }] of Object.entries(REVIEW_PARAMETERS)) {
    const v = pack.pack.parameters[name];
    if (pack.pack.parameterTables !== undefined && Object.hasOwn(pack.pack.parameterTables, name)) {
      // A review opens once per decision, whatever its case: its numbers are one each, not looked up per case.
      problems.push({ path: `/components/${component}/parameterTables/${name}`, message: `the review needs parameter ${name}, an integer >= ${min}, not a parameter table` });
    } else if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      problems.push({ path: `/components/${component}/parameters/${name}`, message: `the review needs parameter ${name}, an integer >= ${min} (found ${JSON.stringify(v) ?? 'nothing'})` });
    } else values[name] = v;
  }
  const bands = pack.pack.parameters.reviewFourEyesRiskBands;
  if (bands !== undefined && !(Array.isArray(bands) && bands.every((b) => typeof b === 'string'))) {
    problems.push({ path: `/components/${component}/parameters/reviewFourEyesRiskBands`, message: 'must be a list of risk band names' });
    return undefined;
  }
  if (Object.keys(values).length !== Object.keys(REVIEW_PARAMETERS).length) return undefined;
  return {
    when: spec.when,
    amount: spec.amount,
    currency: spec.currency,
    slaHours: values.reviewSlaHours!,
    claimLeaseMinutes: values.reviewClaimLeaseMinutes!,
    fourEyesAmount: values.reviewFourEyesAmount!,
    ...(spec.riskBand !== undefined ? { riskBand: spec.riskBand } : {}),
    fourEyesRiskBands: (bands) ?? [],
    source: pack.ref,
  };
}

/** How many approvals an item of this amount and risk band needs: two at or above the amount, or in a listed band. */
export function requiredApprovals(policy: ReviewPolicy, amount: number | null, riskBand: string | null = null): number {
  if (amount !== null && amount >= policy.fourEyesAmount) return 2;
  return riskBand !== null && policy.fourEyesRiskBands.includes(riskBand) ? 2 : 1;
}

/** The item's SLA deadline when it opens at `openedAt`. */
export function reviewDeadline(policy: ReviewPolicy, openedAt: Date): Date {
  return new Date(openedAt.getTime() + policy.slaHours * 3_600_000);
}
