/** Operator calls under /v1/admin, authorised by ADMIN_TOKEN; absent token → these routes do not exist (404). */
import { Body, Controller, Headers, HttpCode, Inject, Ip, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { timingSafeEqual, createHash } from 'node:crypto';
import { DomainError } from '../../../libs/errors/index.js';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { ADMIN_TOKEN_ACTOR } from '../../../libs/audit/index.js';
import { ApiKeysRepository, AuditRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import { FailedAuthLimiter } from '../auth/rate-limiter.js';
import { Public, ROLES, type Role } from '../auth/roles.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { QueryCheckedByHandler, refuseUnknownQuery } from '../http/query.js';
import { ADMIN_TOKEN_SCHEME, ApiAnswers, JSON_BODY, ref } from '../openapi/contract.js';

export const issueKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant', 'roles', 'name'],
  properties: {
    tenant: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ROLES } },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    // A reviewer's approval limit in minor units; absent or null: no limit.
    approvalLimit: { type: ['integer', 'null'], minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const;
const issueKey = new SchemaValidator<{ tenant: string; roles: Role[]; name: string; approvalLimit?: number | null }>(issueKeySchema, 'API key request');

// Compare digests, not the strings: equal-length inputs keep the comparison constant-time.
const digest = (s: string) => createHash('sha256').update(s).digest();

@ApiTags('admin')
@ApiBearerAuth(ADMIN_TOKEN_SCHEME)
@Controller('v1/admin')
@Public() // authorised by ADMIN_TOKEN below, not by an API key
@QueryCheckedByHandler() // after ADMIN_TOKEN: without it these routes must look absent, whatever the query
export class AdminController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly keys: ApiKeysRepository,
    private readonly audit: AuditRepository,
    private readonly failedAuth: FailedAuthLimiter,
  ) {}

  /**
   * Issues an API key. Not idempotent by design: replaying the answer would mean storing the key in clear, and the
   * key must exist only as a hash. A retried call issues another key; unused keys can simply be ignored.
   */
  @Post('api-keys')
  @HttpCode(201)
  @ApiOperation({ summary: 'Issue an API key for a tenant (shown once; stored only as a hash)' })
  @ApiBody({ schema: ref('ApiKeyRequest') })
  @ApiAnswers({ status: 201, description: 'The key, shown once', schema: ref('IssuedApiKey') }, JSON_BODY, 401, 404, 429, 503)
  async issue(@Headers('authorization') authorization: string | undefined, @Ip() address: string, @Req() req: FastifyRequest, @Body() body: unknown) {
    await this.authorise(authorization, address);
    refuseUnknownQuery(req.url, req.query);
    const input = issueKey.validate(body);
    const now = this.clock.now();
    return this.db.em().transactional(async (em) => {
      const { id, key } = await this.keys.issue(em, { ...input, now });
      await this.audit.append(em, {
        tenant: input.tenant,
        actor: ADMIN_TOKEN_ACTOR,
        action: 'api_key.issued',
        subjectType: 'api_key',
        subjectId: id,
        details: { name: input.name, roles: input.roles, approvalLimit: input.approvalLimit ?? null },
        at: now,
      });
      // The answer callers already rely on, with approvalLimit only when one was asked for.
      const answer = { id, key, tenant: input.tenant, roles: input.roles, name: input.name };
      return input.approvalLimit === undefined ? answer : { ...answer, approvalLimit: input.approvalLimit };
    });
  }

  /** Guesses at the token share the per-address budget of failed credentials with API keys (429 once it is spent). */
  private async authorise(authorization: string | undefined, address: string): Promise<void> {
    const token = this.config.adminToken;
    // Without ADMIN_TOKEN the admin surface is absent, exactly like an unknown route.
    if (!token) throw new DomainError('NOT_FOUND', 'Route not found', 'not_found');
    this.failedAuth.check(address);
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!given) {
      throw this.failedAuth.missing(address, new DomainError('UNAUTHENTICATED', 'Send Authorization: Bearer <ADMIN_TOKEN>', 'unauthenticated'));
    }
    if (!timingSafeEqual(digest(given), digest(token))) {
      throw await this.failedAuth.failed(address, new DomainError('UNAUTHENTICATED', 'Admin token is not valid', 'unauthenticated'));
    }
  }
}
