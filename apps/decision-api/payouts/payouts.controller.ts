/** Payout routes (api-contract.md section 8): the manual retry of a refund whose payout failed. */
import { Controller, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { PayoutsService } from './payouts.service.js';
import { ApiAnswers, IDEMPOTENT, ref, ROLE } from '../openapi/contract.js';

@ApiTags('refunds')
@ApiBearerAuth()
@Controller('v1/refunds')
export class PayoutsController {
  constructor(private readonly payouts: PayoutsService) {}

  @Post(':refundId/retry')
  @Roles('service')
  @ApiOperation({ summary: 'Retry the payout of a FAILED refund (back to PROCESSING, attempts reset, same provider idempotency key)' })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The refund, back to PROCESSING', schema: ref('Refund') }, ROLE, IDEMPOTENT, 404, 409)
  retry(@CurrentPrincipal() p: Principal, @Param('refundId') refundId: string, @Res() _answered: FastifyReply) {
    return this.payouts.retry(p, refundId);
  }
}
