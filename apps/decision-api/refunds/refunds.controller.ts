/** HTTP surface of refunds (api-contract.md section 8). */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { REFUND_STATES } from '../../../libs/refunds/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeCursor } from '../http/cursor.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { RefundsService } from './refunds.service.js';
import { ApiAnswers, ApiFilters, ApiPageQuery, DATE_TIME, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

/** Ids are the caller's (a case's customerId, orderId): any text up to 255 characters that PostgreSQL can hold. */
function callerId(q: QueryParser, name: string): string | undefined {
  const v = q.string(name);
  if (v !== undefined && (v.length > 255 || v.includes('\u0000'))) q.fail(name, 'must be 1 to 255 characters, without NUL');
  return v;
}

@ApiTags('refunds')
@ApiBearerAuth()
@Controller('v1/refunds')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Get()
  @QueryParams('state', 'customerId', 'orderId', 'from', 'to', 'limit', 'cursor')
  @Roles('service', 'reviewer', 'auditor')
  @ApiOperation({ summary: 'List refunds, newest first: ?state=&customerId=&orderId=&from=&to=&limit=&cursor=' })
  @ApiFilters(
    { name: 'state', enum: [...REFUND_STATES] },
    { name: 'customerId', schema: { type: 'string', maxLength: 255 } },
    { name: 'orderId', schema: { type: 'string', maxLength: 255 } },
    { name: 'from', schema: DATE_TIME },
    { name: 'to', schema: DATE_TIME },
  )
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of refunds, newest first', schema: page('Refund') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const parsed = {
      state: q.oneOf('state', REFUND_STATES),
      customerId: callerId(q, 'customerId'),
      orderId: callerId(q, 'orderId'),
      from: q.dateTime('from'),
      to: q.dateTime('to'),
      ...q.page(),
    };
    q.done();
    const after =
      parsed.cursor === undefined
        ? undefined
        : decodeCursor(parsed.cursor, (v) => {
            const at = typeof v.at === 'string' ? new Date(v.at) : undefined;
            // What a position can be (this list issued it): a time PostgreSQL can hold, an id without NUL.
            const held = at !== undefined && !Number.isNaN(at.getTime()) && at.getUTCFullYear() >= 1 && at.getUTCFullYear() <= 9999;
            return held && typeof v.id === 'string' && !v.id.includes('\u0000') ? { createdAt: at, refundId: v.id } : undefined;
          });
    return this.refunds.list(principal, { ...parsed, after });
  }

  @Get(':refundId')
  @Roles('service', 'reviewer', 'auditor')
  @ApiOperation({ summary: 'The refund: state, amounts, the decisions about it and its transition history' })
  @ApiParam({ name: 'refundId', example: 'rf_1001' })
  @ApiAnswers({ status: 200, description: 'The refund, its decisions and history', schema: ref('Refund') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('refundId') refundId: string) {
    return this.refunds.get(principal, refundId);
  }

  @Post(':refundId/cancel')
  @Roles('service')
  @IdempotentCommand()
  @ApiOperation({ summary: 'Cancel a refund before processing starts (IN_REVIEW or APPROVED); otherwise 409 INVALID_TRANSITION' })
  @ApiBody({ required: false, schema: ref('RefundCancelRequest') })
  @ApiAnswers({ status: 200, description: 'The refund, CANCELED', schema: ref('Refund') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  cancel(@CurrentPrincipal() principal: Principal, @Param('refundId') refundId: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.refunds.cancel(principal, refundId, body);
  }
}
