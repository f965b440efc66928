/**
 * The named schemas of the OpenAPI document (components/schemas). Request bodies the service validates with a JSON
 * Schema are that very schema (imported, never restated), so the document cannot drift from the validation; answers are
 * described here, next to one another, with the fields the contract (api-contract.md) fixes marked required.
 */
import { issueKeySchema } from '../admin/admin.controller.js';
import { webhookSchema } from '../events/webhooks.service.js';
import { rotateSchema } from '../keys/api-keys.service.js';
import { ledgerSchemas } from '../ledger/ledger.schemas.js';
import { resolveSchema } from '../reviews/reviews.service.js';
import { ledgerSimulationSchema, simulationSchema } from '../simulations/simulations.schemas.js';
import { erasureSchema } from '../subjects/subjects.service.js';
import { cancelRequestSchema } from '../refunds/refunds.service.js';
import { auditRowSchema } from '../audit/audit.controller.js';
import { decisionRequestSchema } from '../decisions/decisions.service.js';
import { PUBLISHED_SCHEMAS } from '../schemas/published-schemas.js';

type Schema = Record<string, unknown>;

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const money = { type: 'integer', description: 'Minor units (12999 = 129.99)' } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const obj = (required: string[], properties: Record<string, unknown>, description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  required,
  properties,
});
const list = (item: string, description?: string): Schema => ({ type: 'array', ...(description ? { description } : {}), items: ref(item) });

/** Answers: described once, named by the routes that give them. */
const ANSWERS = {
  Problem: {
    ...obj(
      ['type', 'title', 'status', 'detail', 'code', 'errors', 'requestId'],
      {
        type: { type: 'string', format: 'uri', description: 'https://decision-platform.dev/problems/<code in kebab case>' },
        title: { ...string, description: "The status's reason phrase" },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: string,
        code: { ...string, description: 'Stable, upper snake case (VALIDATION_FAILED, REFUND_EXISTS, …)' },
        errors: list('ProblemDetail', 'Every offending path (at most 100, then one line saying how many more)'),
        retryAfter: { ...integer, description: '429 and 503: seconds to wait (also in Retry-After)' },
        location: { ...string, description: '409 naming an existing object: where it is (also in Location)' },
        requestId: {
          ...string,
          description:
            'The request that made this answer (also in X-Request-Id): the caller\'s x-request-id when usable, else a new UUID. A refusal replayed for a repeated Idempotency-Key carries the id of the first request, the one that made it.',
        },
      },
      'application/problem+json (RFC 9457), as apps/decision-api/problem.ts builds it; some codes add fields (reasons, reviewId, …).',
    ),
  },
  ProblemDetail: obj(['path', 'message'], {
    path: { ...string, description: 'A JSON pointer into the body (/case/requestedAmount), or query:<name>, header:<name>, path:<name>' },
    message: string,
  }),
  ReleaseRef: obj(['name', 'version', 'components'], {
    name: string,
    version: string,
    components: { type: 'object', additionalProperties: string, description: '{"<component>": "<version>"}' },
  }),
  Reason: obj(['code', 'message'], {
    code: string,
    message: string,
    source: { ...string, description: '<component>@<version>' },
    rule: string,
    outcome: string,
  }),
  Decision: obj(
    ['id', 'tenant', 'type', 'domain', 'createdAt', 'outcome', 'reasons', 'release'],
    {
      id: { ...string, format: 'uuid' },
      tenant: string,
      type: { ...string, description: 'The decision type' },
      domain: { ...string, description: 'The v1 name of type (same value)' },
      createdAt: dateTime,
      outcome: { ...string, description: "One of the type's outcomes (refund: APPROVE, DENY, REVIEW; giftcard-balance-check and giftcard-redemption: ALLOW, CHALLENGE, BLOCK; giftcard-challenge: PASSED, PASSED_DEVICE, FAILED, UNVERIFIED)" },
      reasons: list('Reason'),
      riskScore: { type: ['integer', 'null'], minimum: 0, maximum: 100, description: 'refund' },
      approvedAmount: { type: ['integer', 'null'], description: 'refund: 0 unless APPROVE (minor units)' },
      tender: { enum: ['ORIGINAL', 'STORE_CREDIT'], description: 'refund' },
      retryAfter: { type: ['integer', 'null'], minimum: 1, description: 'giftcard-balance-check, giftcard-redemption: with BLOCK, the seconds the caller can pass on before trying again (null otherwise)' },
      trace: { type: 'array', items: { type: 'object' }, description: 'Every rule and policy evaluated, with the conditions and fact values used; absent once the retention period purged it' },
      release: ref('ReleaseRef'),
    },
    "A stored decision, exactly as first answered: the envelope, the case fields the type copies (a refund's refundId, requestedAt, currency), outcome, reasons, the type's outputs, trace and release.",
  ),
  DecisionSummary: {
    ...obj(['id', 'tenant', 'type', 'domain', 'createdAt', 'outcome', 'reasons', 'release'], {
      id: { ...string, format: 'uuid' },
      tenant: string,
      type: string,
      domain: string,
      createdAt: dateTime,
      outcome: string,
      reasons: list('Reason'),
      release: ref('ReleaseRef'),
    }),
    description: 'A decision in a list: the stored document without its trace (GET /v1/decisions/{id} has it).',
  },
  DecisionReplay: obj(['identical', 'original', 'replayed'], {
    identical: { type: 'boolean' },
    original: { type: 'object', description: 'What was decided: outcome, reasons, outputs, trace' },
    replayed: { type: 'object', description: 'The same, decided again under the pinned release' },
  }),
  DecisionTypeSummary: obj(['name', 'version', 'outcomes', 'inputSchema'], {
    name: string,
    version: string,
    description: string,
    outcomes: { type: 'array', items: string },
    callable: { type: 'boolean' },
    output: { type: 'array', items: string },
    inputSchema: { type: 'object', description: 'JSON Schema 2020-12 of the case' },
  }),
  DecisionTypeList: obj(['items', 'nextCursor'], {
    items: list('DecisionTypeSummary'),
    nextCursor: { type: ['string', 'null'], description: 'Opaque; pass as ?cursor= for the next page; null on the last page.' },
  }),
  JsonSchema: { type: 'object', description: 'A JSON Schema (2020-12)' },
  RulePackSummary: obj(['name', 'version', 'kind', 'sha256', 'source'], {
    name: string,
    version: string,
    kind: string,
    description: string,
    sha256: string,
    source: { enum: ['builtin', 'tenant'] },
    uploadedAt: nullableDateTime,
    uploadedBy: nullableString,
  }),
  StoredRulePack: {
    allOf: [ref('RulePackSummary'), obj(['pack'], { pack: ref('RulePack') })],
    description: 'A rule pack as stored; GET answers its content too',
  },
  PolicyBundle: obj(['name', 'version', 'sha256'], {
    name: string,
    version: string,
    sha256: string,
    sizeBytes: integer,
    entrypoints: { type: 'array', items: string },
    source: { enum: ['builtin', 'tenant'] },
    uploadedAt: nullableDateTime,
    uploadedBy: nullableString,
  }),
  Release: obj(['name', 'version', 'components'], {
    name: string,
    version: string,
    description: nullableString,
    components: { type: 'object', additionalProperties: string },
    sha256: string,
    source: { enum: ['builtin', 'tenant'] },
    createdAt: nullableDateTime,
    createdBy: nullableString,
  }),
  ActiveRelease: obj(['name', 'version', 'components', 'activatedAt', 'activatedBy', 'previous'], {
    name: string,
    version: string,
    components: { type: 'object', additionalProperties: string },
    activatedAt: nullableDateTime,
    activatedBy: { type: ['object', 'null'], properties: { id: string, name: string } },
    previous: { type: ['object', 'null'], properties: { name: string, version: string } },
    changed: { type: 'boolean', description: 'activate and rollback: whether the active release changed' },
    rolledBack: { type: 'object', description: 'rollback: the release rolled back' },
  }),
  Shadow: obj(['shadow'], { shadow: { type: ['object', 'null'] }, components: { type: 'object' }, since: nullableDateTime }),
  ShadowStopped: obj(['stopped'], { stopped: { type: ['object', 'null'], description: 'The shadow release stopped; null when none ran' } }),
  ShadowReport: { type: 'object', description: 'What the newest shadow release would have decided differently' },
  Simulation: obj(['id', 'status'], {
    id: { ...string, format: 'uuid' },
    status: { ...string, description: 'running, finished, canceled or failed' },
    domain: string,
    mode: string,
    release: { type: 'object' },
    baseline: { type: 'object' },
    progress: obj(['done', 'total'], { done: integer, total: integer }),
    summary: { type: ['object', 'null'], properties: { total: integer, changed: integer, transitions: { type: 'object', additionalProperties: integer } } },
    resultsKept: { enum: ['all', 'changed'] },
    resultsTruncated: { type: 'boolean' },
    results: { type: ['array', 'null'], items: { type: 'object', properties: { caseRef: {}, baseline: { type: 'object' }, candidate: { type: 'object' } } } },
    error: { type: ['object', 'null'], properties: { code: string, message: string } },
    createdAt: dateTime,
    finishedAt: nullableDateTime,
  }),
  LedgerSimulationResult: { type: 'object', description: 'The final account state of the event script and its Reward Integrity verdict' },
  Integrity: obj(['rewardIntegrity', 'violations'], { rewardIntegrity: { type: 'boolean' }, violations: { type: 'array', items: {} }, roundingTolerance: {} }),
  LedgerAccount: obj(['accountId', 'program', 'currency', 'balance', 'redeemed', 'netSpend', 'netReward', 'rewardBound', 'holdUntil', 'integrity'], {
    accountId: string,
    program: string,
    currency: string,
    cycleAnchorDay: integer,
    balance: money,
    redeemed: money,
    netSpend: money,
    netReward: money,
    rewardBound: money,
    holdUntil: nullableDateTime,
    integrity: ref('Integrity'),
    unprocessedAdjustments: integer,
    closedPeriods: { type: 'array', items: string },
    capUsage: { type: 'object' },
  }),
  ViolatedAccount: obj(['accountId', 'integrity'], {
    accountId: string,
    program: string,
    currency: string,
    violatedAt: {},
    lastWriteAt: {},
    balance: money,
    redeemed: money,
    netSpend: money,
    netReward: money,
    rewardBound: money,
    integrity: ref('Integrity'),
    transactions: { type: 'array', items: { type: 'object' } },
  }),
  LedgerTransaction: obj(['transactionId', 'accountId', 'status', 'amount', 'refunded', 'reward', 'originalReward'], {
    transactionId: string,
    accountId: string,
    status: { enum: ['PENDING', 'SETTLED', 'PART_REF', 'REFUNDED', 'CHARGEBACK'] },
    amount: money,
    refunded: money,
    reward: money,
    originalReward: money,
    category: string,
    occurredAt: {},
    settledAt: {},
    rewardedAt: {},
    rewardPeriod: {},
    actor: { type: ['object', 'null'], description: 'GET only: who last wrote the transaction, {id, role}; null on transactions written before actors were recorded' },
  }),
  LedgerAdjustment: obj(['transaction'], { transaction: ref('LedgerTransaction'), adjustment: { type: ['object', 'null'] }, entry: { type: ['object', 'null'] } }),
  LedgerEntry: { type: 'object', description: 'An append-only entry: its cause, amounts and program version' },
  LedgerStatement: { type: 'object', description: 'The closed period: rewards posted and the account after it' },
  Redemption: obj(['redemptionId', 'accountId', 'amount', 'balance'], {
    redemptionId: string,
    accountId: string,
    amount: money,
    at: {},
    balance: money,
    entry: { type: 'object' },
    decisionId: {
      ...nullableString,
      format: 'uuid',
      description: 'The gate decision (domain redemption) that allowed it; the same one when the redemption is sent again under another key (null only for a redemption made before the platform kept it)',
    },
    gate: { type: 'object' },
  }),
  Refund: obj(['refundId', 'orderId', 'state', 'requestedAmount', 'approvedAmount', 'currency'], {
    refundId: string,
    orderId: string,
    customerId: string,
    type: string,
    state: { enum: ['IN_REVIEW', 'APPROVED', 'DENIED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'] },
    requestedAmount: money,
    approvedAmount: money,
    currency: string,
    reward: { type: 'object', properties: { accountId: string, transactionId: string } },
    createdAt: dateTime,
    updatedAt: dateTime,
    decisions: { type: 'array', items: {} },
    history: {
      type: 'array',
      items: { type: 'object', properties: { from: nullableString, to: string, actor: { type: 'object', description: 'Who: {type: key|system, id, role}' }, at: dateTime, reason: nullableString } },
    },
  }),
  Review: obj(['id', 'type', 'decisionId', 'amount', 'currency', 'state', 'deadline', 'assignee', 'approvals'], {
    id: { ...string, format: 'uuid' },
    type: string,
    decisionId: { ...string, format: 'uuid' },
    refundId: nullableString,
    amount: money,
    currency: string,
    riskBand: {},
    state: string,
    deadline: dateTime,
    overdue: { type: 'boolean' },
    overdueAt: nullableDateTime,
    assignee: { ...nullableString, description: 'The key id holding a live claim' },
    leaseUntil: nullableDateTime,
    requiredApprovals: integer,
    approvals: { type: 'array', items: { type: 'object', properties: { keyId: string, amount: {}, reasonCode: string, note: {}, at: dateTime } } },
    requestedBy: {},
    resolution: {},
    resolvedBy: nullableString,
    resolvedAt: nullableDateTime,
  }),
  IssuedApiKey: obj(['id', 'key', 'tenant', 'roles', 'name'], {
    id: { ...string, format: 'uuid' },
    key: { ...string, description: 'dk_…, shown once' },
    tenant: string,
    roles: { type: 'array', items: string },
    name: string,
    approvalLimit: { type: ['integer', 'null'] },
  }),
  ReleaseList: obj(['items', 'builtin', 'nextCursor'], {
    items: { type: 'array', items: { $ref: '#/components/schemas/Release' } },
    builtin: { $ref: '#/components/schemas/Release' },
    nextCursor: nullableString,
  }),
  ReleaseActivation: obj(['seq', 'at', 'slot', 'action', 'release', 'replaced', 'previous', 'actor'], {
    seq: { type: 'integer', minimum: 1 },
    at: dateTime,
    slot: { enum: ['active', 'shadow'] },
    action: { enum: ['activate', 'rollback', 'shadow', 'shadow_clear'] },
    release: { oneOf: [obj(['name', 'version'], { name: string, version: string }), { type: 'null' }], description: 'null: the shadow was cleared' },
    replaced: { oneOf: [obj(['name', 'version'], { name: string, version: string }), { type: 'null' }], description: 'The release this row took the place of in its slot (the built-in one included); null: no shadow ran before' },
    previous: { oneOf: [obj(['name', 'version'], { name: string, version: string }), { type: 'null' }], description: 'Where a rollback from this state goes back to' },
    actor: obj(['keyId', 'name'], { keyId: string, name: string }),
  }),
  Session: obj(['tenant', 'keyId', 'name', 'roles', 'approvalLimit', 'expiresAt'], {
    tenant: string,
    keyId: { ...string, format: 'uuid' },
    name: string,
    roles: { type: 'array', items: string },
    approvalLimit: { type: ['integer', 'null'], description: "A reviewer key's approval limit in minor units; null: none" },
    expiresAt: nullableDateTime,
  }),
  ApiKey: obj(['id', 'name', 'roles'], {
    id: { ...string, format: 'uuid' },
    name: string,
    roles: { type: 'array', items: string },
    createdAt: dateTime,
    revokedAt: nullableDateTime,
    expiresAt: nullableDateTime,
    approvalLimit: { type: ['integer', 'null'] },
    rotatedFrom: { ...nullableString },
  }),
  RotatedApiKey: obj(['id', 'rotatedFrom', 'name', 'roles', 'expiresAt'], {
    id: { ...string, format: 'uuid' },
    key: { ...string, description: 'The new key (dk_…), in the first answer only: a replay of the Idempotency-Key answers without it' },
    rotatedFrom: { ...string, format: 'uuid' },
    name: string,
    roles: { type: 'array', items: string },
    approvalLimit: { type: ['integer', 'null'] },
    expiresAt: { ...dateTime, description: 'When the old key stops working' },
  }),
  Webhook: obj(['id', 'url', 'events'], { id: { ...string, format: 'uuid' }, url: { ...string, format: 'uri' }, events: { type: 'array', items: string }, createdAt: dateTime }),
  CreatedWebhook: { allOf: [ref('Webhook'), obj(['secret'], { secret: { ...string, description: 'whsec_…: signs the deliveries' } })] },
  WebhookDelivery: obj(['id', 'eventId', 'type', 'status', 'attempts'], {
    id: { ...string, format: 'uuid' },
    eventId: string,
    type: string,
    sequence: {},
    status: string,
    attempts: integer,
    nextAttemptAt: nullableDateTime,
    lastAttemptAt: nullableDateTime,
    lastStatusCode: { type: ['integer', 'null'] },
    lastError: nullableString,
    deliveredAt: nullableDateTime,
    createdAt: dateTime,
  }),
  Erasure: obj(['subject', 'decisions', 'historyEvents', 'refunds', 'erasedAt'], {
    subject: { ...string, description: "The tenant's pseudonym of the customer id" },
    decisions: integer,
    historyEvents: integer,
    refunds: integer,
    erasedAt: dateTime,
  }),
  Health: obj(['status'], { status: { const: 'ok' } }),
  Ready: obj(['status', 'store', 'release'], {
    status: { const: 'ready' },
    store: string,
    release: ref('ReleaseRef'),
    tenants: {
      ...obj(['activated', 'builtin', 'unavailable'], { activated: integer, builtin: integer, unavailable: integer }),
      description: 'How many tenants decide on a release they activated, on the built-in one, or on one this instance cannot load',
    },
  }),
} satisfies Record<string, Schema>;

/** Request bodies: the schemas the service validates them with (read when the document is built: no import cycle). */
const requests = () => ({
  DecisionRequest: { ...decisionRequestSchema, description: "{case}: the case as the type's input schema defines it (GET /v1/decision-types/{type}/schema)" },
  ApiKeyRequest: issueKeySchema,
  ApiKeyRotation: rotateSchema(604_800),
  WebhookRequest: webhookSchema,
  ReviewResolution: resolveSchema,
  ErasureRequest: erasureSchema,
  SimulationRequest: simulationSchema,
  LedgerSimulationRequest: ledgerSimulationSchema,
  LedgerAccountRequest: ledgerSchemas.account,
  LedgerPurchaseRequest: ledgerSchemas.purchase,
  LedgerSettleRequest: ledgerSchemas.settle,
  LedgerRefundRequest: ledgerSchemas.refund,
  LedgerChargebackRequest: ledgerSchemas.chargeback,
  LedgerRedemptionRequest: ledgerSchemas.redemption,
  LedgerStatementRequest: ledgerSchemas.statement,
  RefundCancelRequest: cancelRequestSchema,
}) satisfies Record<string, object>;

/** The published JSON Schemas (served at /schemas/…) under these names, their $defs hoisted beside them. */
const PUBLISHED = { RulePack: 'rule-pack', DecisionType: 'decision-type', ReleaseManifest: 'release-manifest' } as const;

export type ComponentName = keyof typeof ANSWERS | keyof ReturnType<typeof requests> | keyof typeof PUBLISHED | 'RefundCase' | 'RefundDecisionRequest' | 'AuditRow';

/**
 * A JSON Schema document as components: `$defs` become `<Name>.<def>` schemas (a `#/$defs/…` pointer inside a schema
 * embedded in the OpenAPI document would resolve against the document's root) and `$id`/`$schema` are dropped (an
 * `$id` would make those rewritten pointers relative to the schema's own URI); the description says where the schema is.
 */
export function hoistDefs(name: string, schema: Schema, url?: string): Record<string, Schema> {
  const { $defs, $id: _id, $schema: _schema, ...root } = schema as Schema & { $defs?: Record<string, Schema> };
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? `#/components/schemas/${name}.${x.slice('#/$defs/'.length)}` : rewrite(x)]),
      );
    }
    return v;
  };
  const out: Record<string, Schema> = {};
  const description = [root.description, url && `JSON Schema: ${url}`].filter(Boolean).join(' ');
  out[name] = { ...(rewrite(root) as Schema), ...(description ? { description } : {}) };
  for (const [def, s] of Object.entries($defs ?? {})) out[`${name}.${def}`] = rewrite(s) as Schema;
  return out;
}

/** Every named schema; `refundCase` is the built-in refund type's input schema (the release decides it, not this file). */
export function componentSchemas(refundCase: Schema): Record<string, Schema> {
  const published = Object.fromEntries(
    Object.entries(PUBLISHED).flatMap(([name, file]) => Object.entries(hoistDefs(name, PUBLISHED_SCHEMAS[file](), `/schemas/${file}.json`))),
  );
  return {
    ...(ANSWERS as Record<string, Schema>),
    ...(requests() as Record<string, Schema>),
    ...published,
    RefundCase: { ...refundCase, description: "The built-in refund type's input schema (GET /v1/decision-types/refund/schema)" },
    // The decision request's own schema, its case narrowed to the refund type's input (validated by the type's schema).
    RefundDecisionRequest: { ...decisionRequestSchema, properties: { case: ref('RefundCase') } },
    AuditRow: { ...auditRowSchema, description: 'One line of GET /v1/audit/export (application/x-ndjson): an audit row with its chain fields' },
  };
}
