/** GET /v1/audit: the tenant's audit log, newest first (activations, rollbacks, shadows, uploads, keys). */
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditRepository, type Database, type Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor.js';
import { QueryParser } from '../http/query.js';
import { DATABASE } from '../tokens.js';
import { ApiAnswers, ApiPageQuery, page, QUERY, ROLE } from '../openapi/contract.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly audit: AuditRepository,
  ) {}

  @Get()
  @Roles('auditor')
  @ApiOperation({ summary: 'Audit entries, newest first: who (API key id, details.actorName), what, when: ?limit=&cursor=' })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of audit entries, newest first', schema: page('AuditEntry') }, ROLE, QUERY)
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const limit = q.int('limit', 50, 1, 500);
    const cursor = q.string('cursor');
    q.done();
    const rows = await this.audit.list(this.db.em(), principal.tenant, limit + 1, cursor === undefined ? undefined : decodeIdCursor(cursor));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((e) => ({ ...e, at: e.at.toISOString() })),
      nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null,
    };
  }
}
