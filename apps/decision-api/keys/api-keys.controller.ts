/** /v1/api-keys: a tenant's admin lists, revokes and rotates the tenant's keys (api-contract.md §10). */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('admin')
  @ApiOperation({
    summary: "The tenant's API keys, newest first: ?limit=&cursor=",
    description: 'Each key as {id, name, roles, createdAt, revokedAt, expiresAt, approvalLimit, rotatedFrom}; never the key or its hash.',
  })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: "A page of the tenant's keys, newest first", schema: page('ApiKey') }, ROLE, QUERY)
  list(@CurrentPrincipal() p: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    return this.keys.list(p, limit, cursor);
  }

  @Post(':id/revoke')
  @Roles('admin')
  @IdempotentCommand()
  @ApiOperation({
    summary: 'Revoke a key of the tenant (an admin may revoke its own)',
    description:
      'Answers the key with revokedAt set (200; revoking it again answers it unchanged). Every instance refuses the key (401) within 5 s. ' +
      "Another tenant's key id: 404.",
  })
  @ApiAnswers({ status: 200, description: 'The key, revokedAt set (unchanged when revoked already)', schema: ref('ApiKey') }, ROLE, IDEMPOTENT, 404)
  revoke(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Res() _answered: FastifyReply) {
    return this.keys.revoke(p, id);
  }

  @Post(':id/rotate')
  @Roles('admin')
  @IdempotentCommand()
  @ApiOperation({
    summary: 'Rotate a key: a successor with the same name, roles and approval limit; the old key works until now + overlapSeconds',
    description:
      'Answers 201 {id, key, rotatedFrom, name, roles, approvalLimit, expiresAt}: `key` is the new key, shown once; `expiresAt` is when the old ' +
      'key (rotatedFrom) stops working. Keys exist only as hashes, so the stored answer has no `key`: replaying the same Idempotency-Key ' +
      'answers the same body WITHOUT `key` (a caller that lost the first answer rotates the new key, or revokes it). ' +
      'overlapSeconds defaults to API_KEY_ROTATION_OVERLAP_S and may not exceed API_KEY_ROTATION_MAX_OVERLAP_S. A key already rotated, ' +
      'revoked or expired: 409. An admin may rotate its own key.',
  })
  @ApiBody({ schema: ref('ApiKeyRotation'), required: false })
  @ApiAnswers({ status: 201, description: 'The successor key; `key` in the first answer only', schema: ref('RotatedApiKey') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  rotate(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.keys.rotate(p, id, body);
  }
}
