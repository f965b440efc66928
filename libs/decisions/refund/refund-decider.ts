/** Decides a refund: risk policy (OPA Wasm) first, then the refund-policy pack, then the contract's combining rule. */
import { DomainError } from '../../errors/index.js';
import type { CompiledPack } from '../../rules/index.js';
import type { LoadedPolicy } from '../../policies/index.js';
import { combine, isEffect, type Outcome, type Reason, type TraceEntry } from '../outcome.js';
import type { RefundCase } from './refund-case.schema.js';
import { buildRefundFacts } from './refund-facts.js';

/** The Wasm entrypoint a refund risk bundle must expose. */
export const REFUND_RISK_ENTRYPOINT = 'refund/risk/assessment';
/** The pack kind that carries refund eligibility rules. */
export const REFUND_POLICY_KIND = 'refund-policy';

export type Tender = 'ORIGINAL' | 'STORE_CREDIT';

export interface RefundComponents {
  policyPack: CompiledPack;
  riskPolicy: LoadedPolicy;
}

export interface RefundDecision {
  outcome: Outcome;
  reasons: Reason[];
  riskScore: number;
  approvedAmount: number;
  tender: Tender;
  trace: TraceEntry[];
}

interface RiskSignal {
  code: string;
  fired: boolean;
  [k: string]: unknown;
}
interface RiskReason {
  code: string;
  effect: string;
  rule: string;
  message: string;
}
interface RiskAssessment {
  score: number;
  band: string;
  signals: RiskSignal[];
  reasons: RiskReason[];
}

function asAssessment(value: unknown, source: string): RiskAssessment {
  const v = value as Partial<RiskAssessment> | null;
  if (
    !v ||
    !Number.isInteger(v.score) ||
    typeof v.band !== 'string' ||
    !Array.isArray(v.signals) ||
    !Array.isArray(v.reasons) ||
    !v.reasons.every((r) => isEffect(r.effect))
  ) {
    throw new DomainError(
      'POLICY_OUTPUT_INVALID',
      `${source} ${REFUND_RISK_ENTRYPOINT} did not return {score, band, signals, reasons}`,
      'unavailable',
    );
  }
  return v as RiskAssessment;
}

export async function decideRefund(c: RefundCase, components: RefundComponents): Promise<RefundDecision> {
  const { policyPack, riskPolicy } = components;
  const riskSource = riskPolicy.ref;
  const risk = asAssessment(riskPolicy.evaluate(REFUND_RISK_ENTRYPOINT, c), riskSource);

  const facts = buildRefundFacts(c, risk.score);
  const packResult = await policyPack.evaluate(facts as unknown as Record<string, unknown>);

  const reasons: Reason[] = risk.reasons.map((r) => ({
    code: r.code,
    message: r.message,
    source: riskSource,
    rule: r.rule,
    effect: r.effect as Reason['effect'],
  }));
  let tender: Tender = 'ORIGINAL';
  for (const e of packResult.events) {
    if (isEffect(e.type)) {
      reasons.push({
        code: String(e.params.code),
        message: String(e.params.message ?? e.params.code),
        source: policyPack.ref,
        rule: e.rule,
        effect: e.type,
      });
    } else if (e.type === 'TENDER' && e.params.tender === 'STORE_CREDIT') {
      tender = 'STORE_CREDIT';
    }
  }

  const outcome = combine(reasons);
  const trace: TraceEntry[] = [
    ...risk.signals.map(({ code, fired, ...detail }) => ({ source: riskSource, rule: `signal.${code}`, fired, code, ...detail })),
    { source: riskSource, rule: 'risk.band', fired: risk.band !== 'LOW', score: risk.score, band: risk.band },
    ...(packResult.trace as unknown as TraceEntry[]),
  ];
  return {
    outcome,
    reasons,
    riskScore: risk.score,
    approvedAmount: outcome === 'APPROVE' ? c.requestedAmount : 0,
    tender,
    trace,
  };
}
