/**
 * Decisions of any decision type: validate the case against the type's input schema, evaluate the type's pipeline on
 * the active release, persist with the idempotency record; read, list and replay them.
 */
import { Inject, Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { keyActor } from '../../../libs/audit/index.js';
import { isName, isUuid } from '../../../libs/names/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import {
  DECISION_TYPE_NOT_FOUND,
  SchemaValidator,
  storedPlatformValues,
  type BoundDecisionType,
  type CompiledRelease,
  type ReleaseRef,
  type TypedDecision,
} from '../../../libs/decisions/index.js';
import { DecisionsRepository, entityLockIds, FeatureHistoryRepository, LAST_STATEMENT, SubjectsRepository, unlessKeyTaken, type Database, type DecisionRecord, type IdFactory, type Principal } from '../../../libs/persistence/index.js';
import { DATABASE, ID_FACTORY } from '../tokens.js';
import { encodeIdCursor } from '../http/cursor.js';
import { createdJson, type Command } from '../commands/command.js';
import type { AccessLogged } from '../logging/access-log.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { ShadowService } from '../releases/shadow.service.js';
import { RefundDecisions } from '../refunds/refund-decisions.js';
import { replayEnrichment } from '../../../libs/refunds/index.js';
import { decisionRow } from './decision-row.js';
import { Pseudonyms, subjectKeys } from './pseudonyms.js';
import { Metrics } from '../metrics/metrics.js';
import { inSpan, type Tracer } from '../../../libs/tracing/index.js';
import { SPANS, Tracing } from '../tracing/tracing.js';

/** `{"case": …}`: the case itself is checked against the decision type's input schema. */
export const decisionRequestSchema = { type: 'object', additionalProperties: false, required: ['case'], properties: { case: { type: 'object' } } } as const;
const decisionRequest = new SchemaValidator<{ case: Record<string, unknown> }>(decisionRequestSchema, 'Decision request');

export interface DecisionDocument {
  id: string;
  tenant: string;
  /** The decision type; `domain` repeats it (the v1 name). */
  type: string;
  domain: string;
  createdAt: string;
  outcome: string;
  reasons: unknown[];
  release: ReleaseRef;
  trace: unknown[];
  /** Case fields the type copies (a refund's refundId, requestedAt, currency) and the type's output fields. */
  [field: string]: unknown;
}

function typeNotFound(type: string, detail?: string): DomainError {
  return new DomainError(DECISION_TYPE_NOT_FOUND, detail ?? `No decision type '${type}' in the active release`, 'not_found', [{ path: 'path:type', message: `no decision type '${type}'` }]);
}

/** What a replay compares: the decided fields (outcome, reasons, the type's outputs, trace), not the id or times. */
function decided(d: Record<string, unknown>, outputNames: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { outcome: d.outcome, reasons: d.reasons };
  for (const n of outputNames) out[n] = d[n];
  out.trace = d.trace;
  return out;
}

/** What `decision.created` carries: enough to fetch the decision, not the case (data minimisation). */
export function decisionCreatedData(doc: DecisionDocument, caseRef: unknown): Record<string, unknown> {
  return {
    decisionId: doc.id,
    type: doc.type,
    outcome: doc.outcome,
    ...(typeof caseRef === 'string' ? { caseRef } : {}),
    release: { name: doc.release.name, version: doc.release.version },
    createdAt: doc.createdAt,
  };
}

/** The stored document: envelope, copied case fields, outcome, reasons, outputs, trace, release, in that order. */
export function decisionDocument(
  base: { id: string; tenant: string; createdAt: string },
  type: BoundDecisionType,
  input: Record<string, unknown>,
  d: TypedDecision,
  release: ReleaseRef,
): DecisionDocument {
  const doc: DecisionDocument = { id: base.id, tenant: base.tenant, type: type.name, domain: type.name, createdAt: base.createdAt } as DecisionDocument;
  for (const f of type.document.caseFields ?? []) if (input[f] !== undefined) doc[f] = input[f];
  doc.outcome = d.outcome;
  doc.reasons = d.reasons;
  Object.assign(doc, d.output);
  doc.trace = d.trace;
  doc.release = release;
  return doc;
}

@Injectable()
export class DecisionsService {
  /** Undefined when tracing is off: then no span is made. */
  private readonly tracer: Tracer | undefined;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly repo: DecisionsRepository,
    private readonly releases: ReleaseRegistry,
    private readonly shadows: ShadowService,
    private readonly refundDecisions: RefundDecisions,
    private readonly history: FeatureHistoryRepository,
    private readonly pseudonyms: Pseudonyms,
    private readonly subjects: SubjectsRepository,
    private readonly metrics: Metrics,
    tracing: Tracing,
  ) {
    this.tracer = tracing.tracer;
  }

  /** The active release's type `name`, if it can be called over HTTP (a redemption is decided by the ledger's route). */
  private callableType(release: CompiledRelease, name: string): BoundDecisionType {
    if (!isName(name) || !release.hasType(name)) throw typeNotFound(name);
    const type = release.decisionType(name);
    if (!type.callable) throw typeNotFound(name, `Decisions of type '${name}' are made by another route of the platform, not by POST /v1/decisions/${name}`);
    return type;
  }

  /**
   * Validates and decides the case on the active release, then hands the mechanism a command that claims the
   * Idempotency-Key and stores the decision in one statement: no decision is answered that is not stored.
   */
  async decide(principal: Principal, typeName: string, body: unknown, logged?: AccessLogged): Promise<Command<unknown>> {
    // Take the release once: a concurrent activation must not change the rules halfway through this decision.
    const release = this.releases.active(principal.tenant);
    const type = this.callableType(release, typeName);
    const raw = this.tracer ? inSpan(this.tracer, SPANS.validate, { 'decision.type': type.ref }, () => validCase(type, body)) : validCase(type, body);
    // Canonical forms, then personal fields as the tenant's pseudonyms, before anything else reads the case: rules, trace,
    // storage, history.
    const input = type.personal.length + type.canonical.length > 0 ? type.prepare(raw, this.pseudonyms.forTenant(principal.tenant)) : raw;
    const shadow = this.releases.shadow(principal.tenant);
    // Called after commit, on every path, for the request that made the decision (not for a replayed answer): noted for
    // the access line, counted, then evaluated in shadow if one runs.
    const committed = (decisionId: string, seen: Record<string, unknown>, evaluated: TypedDecision): void => {
      if (logged) logged.decisionId = decisionId;
      this.metrics.decided(principal.tenant, type.name, release.id, evaluated.outcome, evaluated.reasons);
      if (!shadow) return;
      const platform = storedPlatformValues(evaluated.features);
      this.shadows.submit({ tenant: principal.tenant, decisionId, type, input: seen, baseline: { outcome: evaluated.outcome, reasons: evaluated.reasons, ...evaluated.output }, shadow, ...(platform && { platform }) });
    };
    if (type.document.lifecycle === 'refund') {
      return this.refundDecisions.decide(
        principal,
        release,
        type,
        input,
        (base, evaluated, trace) => decisionDocument(base, type, input, { ...evaluated, trace: trace as typeof evaluated.trace }, release.ref),
        (doc) => decisionCreatedData(doc as DecisionDocument, type.caseRef?.(input)),
        (made) => committed(made.document.id as string, made.input, made.evaluated),
      );
    }
    if (type.history) return this.decideWithHistory(principal, release, type, input, committed);
    const tracer = this.tracer;
    const started = performance.now();
    const evaluated = await (tracer ? tracer.within(SPANS.evaluate, () => type.decideValid(input, {}, tracer), { 'decision.type': type.ref }) : type.decideValid(input));
    this.metrics.evaluated(principal.tenant, type.name, (performance.now() - started) / 1000);
    let id = '';
    return {
      kind: 'statement',
      applyClaimed: async ({ claim, now }) => {
        id = this.ids.next(now);
        const document = decisionDocument({ id, tenant: principal.tenant, createdAt: now.toISOString() }, type, input, evaluated, release.ref);
        const documentJson = JSON.stringify(document);
        const row = {
          ...decisionRow({ id, tenant: principal.tenant, type: type.name, evaluated, release: release.ref, input, document, documentJson, idempotencyKey: claim.key, now, actor: keyActor(principal, 'service') }),
          event: { id: this.ids.next(now), data: decisionCreatedData(document, type.caseRef?.(input)) },
        };
        // The claim of the key and the decision are one statement here.
        // `tracer ? … : …` inline, not a helper: tracing off allocates no closure per decision.
        const inserted = await (tracer ? tracer.within(SPANS.persist, () => this.repo.insertClaimed(this.db.em(), row, claim)) : this.repo.insertClaimed(this.db.em(), row, claim));
        return inserted ? createdJson(document, documentJson) : 'taken';
      },
      // Committed by now; a replayed answer was shadow-evaluated the first time.
      afterCommit: () => committed(id, input, evaluated),
    };
  }

  /**
   * A type that records into the platform's history (and may read it back): in one transaction, the key's claim with
   * the locks of every entity key of the case, the features, the evaluation, then the decision with its event and
   * its history rows. Two decisions about one key are ordered by its lock: the later one counts the earlier.
   */
  private decideWithHistory(
    principal: Principal,
    release: CompiledRelease,
    type: BoundDecisionType,
    input: Record<string, unknown>,
    afterCommit: (decisionId: string, seen: Record<string, unknown>, evaluated: TypedDecision) => void,
  ): Command<unknown> {
    const tenant = principal.tenant;
    const history = type.history!;
    const locks = entityLockIds(tenant, history.keys(input));
    const tracer = this.tracer;
    const attributes = tracer && { 'decision.type': type.ref };
    let made: { id: string; evaluated: TypedDecision } | undefined;
    return {
      kind: 'statement',
      applyClaimed: ({ claim, now }) =>
        unlessKeyTaken(this.db.em().transactional(async (em) => {
          const id = this.ids.next(now);
          const features = type.features;
          const queries = features?.queries(input);
          // Held when features are read next: it goes out with that read, whose call fails in its place when the key was
          // taken (unlessKeyTaken). With nothing to read, it runs on its own, before the evaluation.
          await this.history.claim(em, { ...claim, tenant, decisionId: id, createdAt: now }, { entities: locks }, { held: queries !== undefined && queries.length > 0 });
          const platform = queries ? await (tracer ? tracer.within(SPANS.read, () => this.history.values(em, tenant, queries), attributes) : this.history.values(em, tenant, queries)) : {};
          const started = performance.now();
          const evaluated = await (tracer ? tracer.within(SPANS.evaluate, () => type.decideValid(input, platform, tracer), attributes) : type.decideValid(input, platform, undefined));
          this.metrics.evaluated(tenant, type.name, (performance.now() - started) / 1000);
          const document = decisionDocument({ id, tenant, createdAt: now.toISOString() }, type, input, evaluated, release.ref);
          const documentJson = JSON.stringify(document);
          const record = history.record(input);
          const row = {
            ...decisionRow({ id, tenant, type: type.name, evaluated, release: release.ref, input, document, documentJson, idempotencyKey: claim.key, now, actor: keyActor(principal, 'service') }),
            event: { id: this.ids.next(now), data: decisionCreatedData(document, type.caseRef?.(input)) },
          };
          const recorded = record && { tenant, decisionId: id, type: type.name, outcome: evaluated.outcome, reasons: evaluated.reasons.map((r) => r.code), record, createdAt: now };
          // The last statement: it commits (THEN_COMMIT); nothing after it may fail the transaction.
          await (tracer ? tracer.within(SPANS.persist, () => this.repo.insertDecided(em, row, recorded, LAST_STATEMENT), attributes) : this.repo.insertDecided(em, row, recorded, LAST_STATEMENT));
          made = { id, evaluated };
          return createdJson(document, documentJson);
        })),
      afterCommit: () => {
        if (made) afterCommit(made.id, input, made.evaluated);
      },
    };
  }

  /** Every outcome the active release's decision types can give (what a list may filter by). */
  outcomes(principal: Principal): readonly string[] {
    return this.releases.active(principal.tenant).outcomes;
  }

  /**
   * The stored document's exact text: the same bytes as the first answer. A key that is only a reviewer reads the
   * decisions under review, nothing else of the tenant (object-level access: seed 003).
   */
  async get(principal: Principal, id: string): Promise<string> {
    const underReview = !principal.roles.includes('service') && !principal.roles.includes('auditor');
    const text = isUuid(id) ? await this.repo.documentText(this.db.em(), principal.tenant, id, { underReview }) : null;
    if (text === null) throw new DomainError('DECISION_NOT_FOUND', `No decision ${id}`, 'not_found');
    return text;
  }

  async list(
    principal: Principal,
    q: { domain?: string; outcome?: string; release?: { name: string; version: string }; reasonCode?: string; from?: Date; to?: Date; limit: number; after?: string; customer?: string },
  ): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    // One extra row tells whether there is a next page without a count query.
    const rows =
      q.customer === undefined
        ? await this.repo.list(this.db.em(), principal.tenant, q, q.limit + 1, q.after)
        : await this.subjects.listDecisions(this.db.em(), principal.tenant, subjectKeys(this.pseudonyms.forTenant(principal.tenant), q.customer), q, q.limit + 1, q.after);
    const page = rows.slice(0, q.limit);
    const items = page.map((r) => {
      // Listing is a summary: the trace (with every fact value) stays behind GET /v1/decisions/{id}. Who asked for it
      // (the key and its role) is the row's, not the document's: null on decisions made before actors were recorded.
      const { trace: _trace, ...summary } = r.document;
      return { ...summary, actor: r.actorId ? { id: r.actorId, role: r.actorRole } : null };
    });
    const last = page[page.length - 1];
    return { items, nextCursor: rows.length > q.limit && last ? encodeIdCursor(last.id) : null };
  }

  /**
   * Re-evaluates the stored case on the exact release versions the decision pinned (its decision type included) and
   * compares what was decided: outcome, reasons, the type's output fields and the trace.
   */
  async replay(principal: Principal, id: string): Promise<{ identical: boolean; original: unknown; replayed: unknown }> {
    const record = await this.find(principal, id);
    // The subject's personal fields are gone: a re-evaluation would decide another case.
    if (record.erasedAt) {
      throw new DomainError('DECISION_ERASED', `Decision ${id} belongs to a data subject whose personal data was erased at ${record.erasedAt.toISOString()}`, 'gone', [], {
        erasedAt: record.erasedAt.toISOString(),
      });
    }
    // Past retention the case is gone: nothing is left to re-evaluate (the outcome and reasons stay readable).
    if (record.purgedAt) {
      throw new DomainError('DECISION_PURGED', `Decision ${id} is past its tenant's retention: its case and trace were purged at ${record.purgedAt.toISOString()}`, 'gone', [], {
        purgedAt: record.purgedAt.toISOString(),
      });
    }
    const original = record.document as unknown as DecisionDocument;
    // A reviewer's decision is a person's act on the engine's: there is nothing to re-evaluate but the engine's.
    if (isResolution(original)) {
      throw new DomainError('DECISION_NOT_REPLAYABLE', `Decision ${id} is a reviewer's resolution; replay the engine decision it overrides, ${original.overrides}`, 'unprocessable', [
        { path: 'path:id', message: `a reviewer's decision (overrides ${original.overrides})` },
      ], { overrides: original.overrides });
    }
    const release = await this.releases.pinned(principal.tenant, original.release);
    const type = release.decisionType(record.domain);
    // The stored case passed the type's input schema when it was decided: decide it as it is.
    // A refund decision saw the order's refunded total as the platform knew it then: its stored trace says what it was.
    const { input, entry } = replayEnrichment(record.caseData as Record<string, unknown>, original.trace);
    // The features as the platform counted them then (stored with the decision), not as it would count them today.
    const evaluated = await type.decideValid(input, storedPlatformValues(record.features));
    const trace = entry ? [entry, ...evaluated.trace] : evaluated.trace;
    const replayed = canonicalJson({ ...original, outcome: evaluated.outcome, reasons: evaluated.reasons, ...evaluated.output, trace, release: release.ref }) as DecisionDocument;
    const identical = isDeepStrictEqual(
      canonicalJson({ ...decided(original, type.outputNames), release: original.release }),
      canonicalJson({ ...decided(replayed, type.outputNames), release: replayed.release }),
    );
    return { identical, original, replayed };
  }

  private async find(principal: Principal, id: string): Promise<DecisionRecord> {
    const record = isUuid(id) ? await this.repo.findById(this.db.em(), principal.tenant, id) : null;
    if (!record) throw new DomainError('DECISION_NOT_FOUND', `No decision ${id}`, 'not_found');
    return record;
  }
}

/** The case of a decision request: the body's shape, then the case against the type's input schema (400 naming every path). */
function validCase(type: BoundDecisionType, body: unknown): Record<string, unknown> {
  const raw = decisionRequest.validate(body).case;
  const errors = type.inputErrors(raw, '/case');
  if (errors.length > 0) throw new DomainError('VALIDATION_FAILED', `${type.ref} case is invalid: ${errors.length} problem(s)`, 'invalid', errors);
  return raw;
}

/**
 * A reviewer's resolution (libs/reviews/resolution.ts): it names the decision it overrides and its reasons come from
 * the review item (`review@<id>`), which no release component can be named.
 */
function isResolution(d: DecisionDocument): d is DecisionDocument & { overrides: string } {
  if (typeof d.overrides !== 'string' || !Array.isArray(d.reasons) || d.reasons.length === 0) return false;
  return d.reasons.every((r) => {
    const source = (r as { source?: unknown }).source;
    return typeof source === 'string' && source.startsWith('review@') && isUuid(source.slice('review@'.length));
  });
}

/** Through JSON, as the stored copy went: absent and undefined fields compare equal. */
function canonicalJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v)) as unknown;
}

