/**
 * GET /v1/audit: the tenant's audit log, newest first; GET /v1/audit/verify: its hash chain checked; GET
 * /v1/audit/export: a time range as NDJSON. Auditor role; each tenant sees only its own chain.
 */
import { Readable } from 'node:stream';
import { Controller, Get, Inject, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags, type SchemaObject } from '@nestjs/swagger';
import { DomainError } from '../../../libs/errors/index.js';
import { AuditRepository, type Database, type Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { DATABASE } from '../tokens.js';
import { ApiAnswers, ApiPageQuery, page, QUERY, ref, ROLE } from '../openapi/contract.js';
import { AuditService } from './audit.service.js';

/** One exported line; the OpenAPI document's AuditRow component (GET /v1/audit lists the same rows). */
export const auditRowSchema: SchemaObject = {
  type: 'object',
  required: ['id', 'tenant', 'seq', 'at', 'actor', 'actorRole', 'action', 'subjectType', 'subjectId', 'details', 'prevHash', 'hash'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    tenant: { type: 'string' },
    seq: { type: 'integer', minimum: 1, description: "The row's number in its tenant's chain: 1, 2, 3, … without gaps" },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'string', description: 'API key id, `admin-token` or `system`' },
    actorRole: { type: ['string', 'null'], description: 'The role the key acted in (`admin`, `system`, …); null on rows written before roles were recorded' },
    action: { type: 'string', example: 'api_key.rotated' },
    subjectType: { type: 'string' },
    subjectId: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
    prevHash: { type: ['string', 'null'], description: "The previous row's hash; null for seq 1" },
    hash: { type: 'string', description: 'sha256 (hex) of the canonical content (README, "Audit trail")' },
  },
};

const verifySchema: SchemaObject = {
  type: 'object',
  required: ['ok', 'checked', 'firstBroken'],
  properties: {
    ok: { type: 'boolean' },
    checked: { type: 'integer', description: 'Rows checked (up to and including the first broken one)' },
    firstBroken: {
      type: ['object', 'null'],
      description: 'Null when ok',
      required: ['id', 'seq', 'at', 'reason', 'expected', 'found'],
      properties: {
        id: { type: ['string', 'null'], description: 'The row where the chain breaks; null when rows are missing from its end' },
        seq: { type: 'integer' },
        at: { type: ['string', 'null'], format: 'date-time' },
        reason: { type: 'string', enum: ['content_hash_mismatch', 'previous_hash_mismatch', 'missing_seq', 'head_mismatch'] },
        expected: { type: ['string', 'integer', 'null'], description: 'The seq or hash expected there' },
        found: { type: ['string', 'integer', 'null'], description: 'The seq or hash found there' },
      },
    },
  },
};

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly audit: AuditRepository,
    private readonly service: AuditService,
  ) {}

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('auditor')
  @ApiOperation({ summary: 'Audit entries, newest first: who (actor, actorRole, details.actorName), what, when, and their chain fields: ?limit=&cursor=' })
  @ApiPageQuery()
  @ApiAnswers(
    {
      status: 200,
      description: 'A page of audit entries, newest first',
      schema: page('AuditRow'),
    },
    ROLE,
    QUERY,
  )
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    const rows = await this.audit.list(this.db.em(), principal.tenant, limit + 1, cursor === undefined ? undefined : decodeIdCursor(cursor));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
  }

  @Get('verify')
  @Roles('auditor')
  @ApiOperation({ summary: "Walk the tenant's audit hash chain and name the first broken link (reported, never repaired)" })
  @ApiAnswers({ status: 200, description: 'The verdict: ok, or the first broken link', schema: verifySchema }, ROLE, QUERY)
  // No @QueryParams: it takes none, and QueryParamsGuard refuses any (http/query.ts).
  verify(@CurrentPrincipal() principal: Principal) {
    return this.service.verify(principal.tenant);
  }

  @Get('export')
  @QueryParams('from', 'to')
  @Roles('auditor')
  @ApiOperation({ summary: 'Audit rows from the first to the last with from <= at < to, in chain order without a gap, as NDJSON (one row with its chain fields per line)' })
  @ApiQuery({ name: 'from', required: true, schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'to', required: true, schema: { type: 'string', format: 'date-time' } })
  @ApiAnswers(
    {
      status: 200,
      description: 'NDJSON: one AuditRow (#/components/schemas/AuditRow) per line, each line ended by \\n',
      type: 'application/x-ndjson',
      schema: { type: 'string' },
      itemSchema: ref('AuditRow'),
    },
    ROLE,
    QUERY,
  )
  export(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>): StreamableFile {
    const q = new QueryParser(query);
    const from = q.dateTime('from');
    const to = q.dateTime('to');
    if (query.from === undefined || query.from === '') q.fail('from', 'is required');
    if (query.to === undefined || query.to === '') q.fail('to', 'is required');
    if (from && to && from >= to) q.fail('to', 'must be after from');
    q.done();
    // done() threw for a missing or bad one: this only narrows the types.
    if (!from || !to) throw new DomainError('VALIDATION_FAILED', 'Query is invalid', 'invalid');
    return new StreamableFile(Readable.from(this.service.export(principal.tenant, { from, to })), { type: 'application/x-ndjson' });
  }
}
