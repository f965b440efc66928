/** HTTP surface of refunds (api-contract.md section 8). */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { REFUND_STATES } from '../../../libs/refunds/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeCursor } from '../http/cursor.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParser } from '../http/query.js';
import { RefundsService } from './refunds.service.js';

/** Ids are the caller's (refundId, customerId): any printable text up to 255 characters. */
const ID_PATTERN = '^[\\x20-\\x7e]{1,255}$';

@ApiTags('refunds')
@ApiBearerAuth()
@Controller('v1/refunds')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Get()
  @Roles('service', 'reviewer', 'auditor')
  @ApiOperation({ summary: 'List refunds, newest first: ?state=&customerId=&orderId=&from=&to=&limit=&cursor=' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const parsed = {
      state: q.oneOf('state', REFUND_STATES),
      customerId: q.matching('customerId', ID_PATTERN),
      orderId: q.matching('orderId', ID_PATTERN),
      from: q.dateTime('from'),
      to: q.dateTime('to'),
      limit: q.int('limit', 50, 1, 500),
      cursor: q.string('cursor'),
    };
    q.done();
    const after =
      parsed.cursor === undefined
        ? undefined
        : decodeCursor(parsed.cursor, (v) => {
            const at = typeof v.at === 'string' ? new Date(v.at) : undefined;
            return at && !Number.isNaN(at.getTime()) && typeof v.id === 'string' ? { createdAt: at, refundId: v.id } : undefined;
          });
    return this.refunds.list(principal, { ...parsed, after });
  }

  @Get(':refundId')
  @Roles('service', 'reviewer', 'auditor')
  @ApiOperation({ summary: 'The refund: state, amounts, the decisions about it and its transition history' })
  @ApiParam({ name: 'refundId', example: 'rf_1001' })
  get(@CurrentPrincipal() principal: Principal, @Param('refundId') refundId: string) {
    return this.refunds.get(principal, refundId);
  }

  @Post(':refundId/cancel')
  @Roles('service')
  @IdempotentCommand()
  @ApiOperation({ summary: 'Cancel a refund before processing starts (IN_REVIEW or APPROVED); otherwise 409 INVALID_TRANSITION' })
  @ApiBody({ required: false, schema: { type: 'object', properties: { reason: { type: 'string' } } } })
  cancel(@CurrentPrincipal() principal: Principal, @Param('refundId') refundId: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.refunds.cancel(principal, refundId, body);
  }
}
