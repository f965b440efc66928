/** HTTP surface of decisions (api-contract.md §3): guard, validated input, one service call, mapped output. */
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { refundCaseSchema } from '../../../libs/decisions/index.js';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotencyKey, JSON_TYPE } from '../http/idempotency.service.js';
import { QueryParser } from '../http/query.js';
import { sendAnswer } from '../http/send.js';
import { decodeIdCursor } from '../http/cursor.js';
import { DecisionsService, DOMAINS, OUTCOMES } from './decisions.service.js';

@ApiTags('decisions')
@ApiBearerAuth()
@Controller('v1/decisions')
export class DecisionsController {
  constructor(private readonly decisions: DecisionsService) {}

  @Post('refund')
  @Roles('service')
  @ApiOperation({ summary: 'Decide a refund case (APPROVE, DENY or REVIEW) and store the decision' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: { type: 'object', required: ['case'], properties: { case: refundCaseSchema as object } } })
  async refund(
    @CurrentPrincipal() principal: Principal,
    @IdempotencyKey() idempotencyKey: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    sendAnswer(reply, await this.decisions.decideRefund(principal, body, idempotencyKey));
  }

  @Get()
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'List decisions, newest first: ?domain=&outcome=&from=&to=&limit=&cursor=' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const parsed = {
      domain: q.oneOf('domain', DOMAINS),
      outcome: q.oneOf('outcome', OUTCOMES),
      from: q.dateTime('from'),
      to: q.dateTime('to'),
      limit: q.int('limit', 50, 1, 500),
      cursor: q.string('cursor'),
    };
    q.done();
    const after = parsed.cursor === undefined ? undefined : decodeIdCursor(parsed.cursor);
    return this.decisions.list(principal, { ...parsed, after });
  }

  @Get(':id')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'The stored decision, trace included, exactly as first answered' })
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    reply.status(200).header('content-type', JSON_TYPE).send(await this.decisions.get(principal, id));
  }

  @Post(':id/replay')
  @Roles('auditor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Re-evaluate the stored case under the release versions the decision pinned' })
  replay(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.decisions.replay(principal, id);
  }
}
