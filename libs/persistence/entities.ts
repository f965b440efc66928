/** Table mappings (MikroORM `defineEntity`). The schema itself is owned by the migrations next to this file. */
import { defineEntity, p } from '@mikro-orm/core';

export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary(),
    tenant: p.string(),
    name: p.string(),
    roles: p.array(),
    /** sha256 of the whole key; the key itself is never stored. */
    keyHash: p.string().unique(),
    createdAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    /** A rotated key's end of overlap. */
    expiresAt: p.datetime().nullable(),
    /** Minor units (bigint); read through ApiKeysRepository's SQL, which answers numbers. */
    approvalLimit: p.bigint().nullable(),
    rotatedFrom: p.uuid().nullable(),
  },
});
export type ApiKey = InstanceType<typeof ApiKeySchema.class>;

export const DecisionRecordSchema = defineEntity({
  name: 'DecisionRecord',
  tableName: 'decisions',
  properties: {
    id: p.uuid().primary(),
    tenant: p.string(),
    domain: p.string(),
    outcome: p.string(),
    riskScore: p.integer().nullable(),
    releaseName: p.string(),
    releaseVersion: p.string(),
    components: p.json<Record<string, string>>(),
    /** The case exactly as received (after validation), so it can be replayed; null once purged (retention). */
    caseData: p.json<unknown>().nullable(),
    /** The type's feature values as the decision used them (what a replay re-applies); null without features. */
    features: p.json<Record<string, unknown>>().nullable(),
    /** The decision document exactly as first answered (a `json`, not `jsonb`, column keeps its key order). */
    document: p.json<Record<string, unknown>>().columnType('json'),
    /** The document without its trace (decisions.repository storedAnswer): what a replay reads; null on rows written before the column. Kept by the purge: it holds no more than the purged document. */
    answer: p.json<Record<string, unknown>>().columnType('json').nullable(),
    idempotencyKey: p.string().nullable(),
    evaluatedAt: p.datetime(),
    createdAt: p.datetime(),
    /** When the retention purge removed the case and the trace. */
    purgedAt: p.datetime().nullable(),
    /** When the subject's erasure set the case's personal fields to null. */
    erasedAt: p.datetime().nullable(),
    /** Who asked (libs/audit Actor): the key's id and role, `system`; null on decisions made before actors were recorded. */
    actorId: p.string().nullable(),
    actorRole: p.string().nullable(),
  },
});
export type DecisionRecord = InstanceType<typeof DecisionRecordSchema.class>;

export const IdempotencyRecordSchema = defineEntity({
  name: 'IdempotencyRecord',
  tableName: 'idempotency_records',
  properties: {
    tenant: p.string().primary(),
    key: p.string().primary(),
    requestHash: p.string(),
    method: p.string(),
    path: p.text(),
    status: p.integer().nullable(),
    contentType: p.string().nullable(),
    body: p.text().nullable(),
    decisionId: p.uuid().nullable(),
    createdAt: p.datetime(),
  },
});

export const AuditEntrySchema = defineEntity({
  name: 'AuditEntry',
  tableName: 'audit_log',
  properties: {
    id: p.uuid().primary(),
    tenant: p.string(),
    actor: p.string(),
    action: p.string(),
    subjectType: p.string(),
    subjectId: p.string(),
    details: p.json<Record<string, unknown>>(),
    at: p.datetime(),
    /** The chain (libs/audit/chain.ts); written by AuditRepository.append's SQL, not through this mapping. */
    actorRole: p.string().nullable(),
    seq: p.bigint(),
    prevHash: p.string().nullable(),
    hash: p.string(),
  },
});

export const entities = [ApiKeySchema, DecisionRecordSchema, IdempotencyRecordSchema, AuditEntrySchema];
