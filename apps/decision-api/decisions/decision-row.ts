/** The stored row of a decision as first answered: one shape for the one-statement path and the refund lifecycle's. */
import type { ReleaseRef, TypedDecision } from '../../../libs/decisions/index.js';
import type { Actor } from '../../../libs/audit/index.js';
import { answerJson, reasonCodes, type StoredDecisionRow } from '../../../libs/persistence/index.js';

export function decisionRow(d: {
  id: string;
  tenant: string;
  type: string;
  evaluated: TypedDecision;
  release: ReleaseRef;
  input: Record<string, unknown>;
  document: Record<string, unknown>;
  documentJson: string;
  idempotencyKey: string;
  now: Date;
  actor: Actor;
}): StoredDecisionRow {
  const riskScore = d.evaluated.output.riskScore;
  return {
    id: d.id,
    tenant: d.tenant,
    domain: d.type,
    outcome: d.evaluated.outcome,
    // A column to list by: only a type whose output has an integer riskScore fills it.
    riskScore: Number.isSafeInteger(riskScore) ? (riskScore as number) : null,
    releaseName: d.release.name,
    releaseVersion: d.release.version,
    components: d.release.components,
    caseData: d.input,
    features: d.evaluated.features ?? null,
    documentJson: d.documentJson,
    answerJson: answerJson(d.document),
    reasonCodes: reasonCodes(d.document),
    idempotencyKey: d.idempotencyKey,
    evaluatedAt: d.now,
    createdAt: d.now,
    actor: d.actor,
  };
}

