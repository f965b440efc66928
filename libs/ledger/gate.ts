/** The redemption gate (the paper's Algorithm 3): an OPA policy compiled to Wasm decides whether a redemption may proceed. */
import { DomainError } from '../errors/index.js';
import { LoadedPolicy, type EvaluationBudget } from '../policies/index.js';

/** What the gate sees. Times are epoch milliseconds so the policy needs no time builtins. */
export interface RedemptionGateInput {
  balance: number;
  amount: number;
  minBalanceAfterRedemption: number;
  atMs: number;
  /** End of the grace hold set by the last statement close, or null when none was ever set. */
  holdUntilMs: number | null;
}

export interface RedemptionGateReason {
  code: string;
  message: string;
}

export interface RedemptionGateResult {
  allow: boolean;
  /** Every failing guard, in a stable order; empty when allowed. */
  reasons: RedemptionGateReason[];
}

export interface RedemptionGate {
  /** Provenance recorded with each redemption decision (`name@version` of the policy). */
  readonly ref: string;
  evaluate(input: RedemptionGateInput): RedemptionGateResult;
}

export const REDEMPTION_GATE_ENTRYPOINT = 'ledger/redemption/decision';
export const REDEMPTION_GATE_FAILED = 'REDEMPTION_GATE_FAILED';

/** The gate over the `redemption-gate` Wasm bundle (policies/redemption-gate). Compile once, evaluate many times. */
export class OpaRedemptionGate implements RedemptionGate {
  readonly ref: string;

  constructor(
    private readonly policy: LoadedPolicy,
    readonly entrypoint: string = REDEMPTION_GATE_ENTRYPOINT,
  ) {
    this.ref = policy.ref;
    if (!policy.entrypoints.includes(entrypoint)) {
      throw new DomainError(REDEMPTION_GATE_FAILED, `${policy.ref} has no entrypoint ${entrypoint}`, 'unprocessable', [
        { path: '/.manifest', message: `entrypoints: ${policy.entrypoints.join(', ')}`, rule: entrypoint },
      ]);
    }
  }

  /** Loads a bundle (.tar.gz bytes) and refuses it unless it answers a smoke-test input correctly. */
  static async load(bundleBytes: Uint8Array, opts: { expectVersion?: string; budget?: EvaluationBudget } = {}): Promise<OpaRedemptionGate> {
    const policy = await LoadedPolicy.load(bundleBytes, { expectName: 'redemption-gate', ...opts });
    const gate = new OpaRedemptionGate(policy);
    gate.evaluate({ balance: 0, amount: 1, minBalanceAfterRedemption: 0, atMs: 0, holdUntilMs: null });
    return gate;
  }

  evaluate(input: RedemptionGateInput): RedemptionGateResult {
    const output = this.policy.evaluate(this.entrypoint, input);
    return checkedResult(output, this.ref);
  }
}

/** A policy answer we can trust, or an 'unavailable' error: a malformed answer never allows a redemption. */
function checkedResult(output: unknown, ref: string): RedemptionGateResult {
  const o = output as { allow?: unknown; reasons?: unknown } | null;
  const reasons = o?.reasons;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    typeof o.allow === 'boolean' &&
    Array.isArray(reasons) &&
    reasons.every((r: unknown) => typeof r === 'object' && r !== null && typeof (r as RedemptionGateReason).code === 'string' && typeof (r as RedemptionGateReason).message === 'string') &&
    (o.allow ? reasons.length === 0 : reasons.length > 0);
  if (!ok) {
    const message = `${ref} answered a malformed redemption decision: ${JSON.stringify(output)}`;
    throw new DomainError(REDEMPTION_GATE_FAILED, message, 'unavailable', [{ path: '', message, rule: REDEMPTION_GATE_ENTRYPOINT }]);
  }
  const result = output as RedemptionGateResult;
  return { allow: result.allow, reasons: result.reasons.map((r) => ({ code: r.code, message: r.message })) };
}
