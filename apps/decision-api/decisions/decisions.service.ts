/** Refund decisions: validate the case, evaluate on the active release, persist with the idempotency record. */
import { Inject, Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { DomainError } from '../../../libs/errors/index.js';
import {
  decideRefund,
  refundCaseSchema,
  SchemaValidator,
  type RefundCase,
  type RefundDecision,
  type ReleaseRef,
} from '../../../libs/decisions/index.js';
import { DecisionsRepository, uuidv7, type Database, type DecisionRecord, type Principal } from '../../../libs/persistence/index.js';
import { DATABASE } from '../tokens.js';
import { encodeIdCursor } from '../http/cursor.js';
import { REDEMPTION_GATE_ENTRYPOINT } from '../../../libs/ledger/index.js';
import { IdempotencyService, JSON_TYPE, requestHash, type HttpAnswer } from '../http/idempotency.service.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { ShadowService } from '../releases/shadow.service.js';

const refundRequest = new SchemaValidator<{ case: RefundCase }>(
  { type: 'object', additionalProperties: false, required: ['case'], properties: { case: refundCaseSchema } },
  'Refund decision request',
);

export const DOMAINS = ['refund', 'redemption'] as const;
export const OUTCOMES = ['APPROVE', 'DENY', 'REVIEW'] as const;

export interface DecisionDocument {
  id: string;
  tenant: string;
  domain: string;
  createdAt: string;
  refundId?: string;
  requestedAt?: string;
  outcome: string;
  reasons: unknown[];
  riskScore: number;
  approvedAmount: number;
  currency?: string;
  tender: string;
  release: ReleaseRef;
  trace: unknown[];
}

/** What a replay compares: the decided fields, not the id, times or release. */
function decided(d: Pick<RefundDecision, keyof RefundDecision>): RefundDecision {
  return { outcome: d.outcome, reasons: d.reasons, riskScore: d.riskScore, approvedAmount: d.approvedAmount, tender: d.tender, trace: d.trace };
}

@Injectable()
export class DecisionsService {
  private readonly repo = new DecisionsRepository();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly releases: ReleaseRegistry,
    private readonly idempotency: IdempotencyService,
    private readonly shadows: ShadowService,
  ) {}

  async decideRefund(principal: Principal, body: unknown, idempotencyKey: string): Promise<HttpAnswer> {
    const { case: refundCase } = refundRequest.validate(body);
    // Take the release once: a concurrent activation must not change the rules halfway through this decision.
    const release = this.releases.active(principal.tenant);
    const shadow = this.releases.shadow(principal.tenant);
    const evaluated = await decideRefund(refundCase, release.refund());
    const now = new Date();
    const id = uuidv7(now.getTime());
    const document: DecisionDocument = {
      id,
      tenant: principal.tenant,
      domain: 'refund',
      createdAt: now.toISOString(),
      refundId: refundCase.refundId,
      requestedAt: refundCase.requestedAt,
      ...evaluated,
      currency: refundCase.currency,
      release: release.ref,
    };
    const documentJson = JSON.stringify(document);
    const route = '/v1/decisions/refund';
    const hash = requestHash('POST', route, body);
    // One statement claims the key and stores the decision: no decision is answered that is not stored.
    const inserted = await this.repo.insertClaimed(
      this.db.em(),
      {
        id,
        tenant: principal.tenant,
        domain: 'refund',
        outcome: evaluated.outcome,
        riskScore: evaluated.riskScore,
        releaseName: release.ref.name,
        releaseVersion: release.ref.version,
        components: release.ref.components,
        caseData: refundCase,
        documentJson,
        idempotencyKey,
        evaluatedAt: now,
        createdAt: now,
      },
      { key: idempotencyKey, requestHash: hash, method: 'POST', path: route, status: 201, contentType: JSON_TYPE },
    );
    const answer: HttpAnswer = inserted
      ? { status: 201, contentType: JSON_TYPE, body: documentJson, replayed: false }
      : await this.idempotency.replay(principal.tenant, idempotencyKey, hash);
    // Committed by now; a replayed answer was shadow-evaluated the first time.
    if (shadow && inserted) this.shadows.submit({ tenant: principal.tenant, decisionId: id, refundCase, baseline: evaluated, shadow });
    return answer;
  }

  /** The stored document's exact text: the same bytes as the first answer. */
  async get(principal: Principal, id: string): Promise<string> {
    const text = UUID.test(id) ? await this.repo.documentText(this.db.em(), principal.tenant, id) : null;
    if (text === null) throw new DomainError('DECISION_NOT_FOUND', `No decision ${id}`, 'not_found');
    return text;
  }

  async list(
    principal: Principal,
    q: { domain?: string; outcome?: string; from?: Date; to?: Date; limit: number; after?: string },
  ): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    // One extra row tells whether there is a next page without a count query.
    const rows = await this.repo.list(this.db.em(), principal.tenant, q, q.limit + 1, q.after);
    const page = rows.slice(0, q.limit);
    const items = page.map((r) => {
      // Listing is a summary: the trace (with every fact value) stays behind GET /v1/decisions/{id}.
      const { trace: _trace, ...summary } = r.document;
      return summary;
    });
    const last = page[page.length - 1];
    return { items, nextCursor: rows.length > q.limit && last ? encodeIdCursor(last.id) : null };
  }

  /** Re-evaluates the stored case under the exact release versions the decision pinned. */
  async replay(principal: Principal, id: string): Promise<{ identical: boolean; original: unknown; replayed: unknown }> {
    const record = await this.find(principal, id);
    const original = record.document as unknown as DecisionDocument;
    const release = await this.releases.pinned(principal.tenant, original.release);
    switch (record.domain) {
      case 'refund': {
        const evaluated = await decideRefund(record.caseData as RefundCase, release.refund());
        const replayed = canonicalJson({ ...original, ...evaluated, release: release.ref }) as DecisionDocument;
        const identical = isDeepStrictEqual(
          { ...decided(original as unknown as RefundDecision), release: original.release },
          { ...decided(replayed as unknown as RefundDecision), release: replayed.release },
        );
        return { identical, original, replayed };
      }
      case 'redemption': {
        // The gate is a pure function of its stored input: evaluate it again on the pinned bundle.
        const stored = original.trace[0] as { output: unknown };
        const output = release.policyFor(REDEMPTION_GATE_ENTRYPOINT).evaluate(REDEMPTION_GATE_ENTRYPOINT, record.caseData);
        const replayed = canonicalJson({ ...original, trace: [{ ...(original.trace[0] as object), output }] }) as DecisionDocument;
        return { identical: isDeepStrictEqual(canonicalJson(stored.output), canonicalJson(output)), original, replayed };
      }
      default:
        throw new DomainError('REPLAY_UNSUPPORTED', `decisions of domain ${record.domain} cannot be replayed yet`, 'unprocessable');
    }
  }

  private async find(principal: Principal, id: string): Promise<DecisionRecord> {
    const record = UUID.test(id) ? await this.repo.findById(this.db.em(), principal.tenant, id) : null;
    if (!record) throw new DomainError('DECISION_NOT_FOUND', `No decision ${id}`, 'not_found');
    return record;
  }
}

/** Through JSON, as the stored copy went: absent and undefined fields compare equal. */
function canonicalJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v)) as unknown;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
