/** HTTP surface of the reward ledger (api-contract.md §4). */
import { Body, Controller, Get, Param, Put, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { answerOf, IdempotentCommand, sendAnswer } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { decodeAccountsCursor, decodeEntriesCursor, LedgerService } from './ledger.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';


@ApiTags('ledger')
@ApiBearerAuth()
@Controller('v1/ledger')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Put('accounts/:accountId')
  @Roles('service')
  @ApiOperation({ summary: 'Open or update a reward account' })
  @ApiBody({ schema: ref('LedgerAccountRequest') })
  @ApiAnswers(
    [
      { status: 201, description: 'Opened', schema: ref('LedgerAccount') },
      { status: 200, description: 'Updated, or unchanged', schema: ref('LedgerAccount') },
    ],
    ROLE,
    JSON_BODY,
    404,
    409,
    422,
  )
  async open(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Body() body: unknown, @Res() reply: FastifyReply) {
    sendAnswer(reply, answerOf(await this.ledger.openAccount(p, accountId, body), reply.request.id));
  }

  @Post('accounts/:accountId/transactions')
  @Roles('service')
  @ApiOperation({ summary: 'Record a PENDING purchase' })
  @IdempotentCommand()
  @ApiBody({ schema: ref('LedgerPurchaseRequest') })
  @ApiAnswers({ status: 201, description: 'The PENDING transaction', schema: ref('LedgerTransaction') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  purchase(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.recordPurchase(p, accountId, body);
  }

  @Post('transactions/:transactionId/settle')
  @Roles('service')
  @ApiOperation({ summary: 'Settle a purchase (Algorithm 1 for instant programs)' })
  @IdempotentCommand()
  @ApiBody({ schema: ref('LedgerSettleRequest') })
  @ApiAnswers({ status: 200, description: 'The transaction, SETTLED (rewarded at once for instant programs)', schema: ref('LedgerTransaction') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  settle(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.settle(p, id, body);
  }

  @Post('transactions/:transactionId/refunds')
  @Roles('service')
  @ApiOperation({ summary: 'Refund (Algorithm 2: proportional clawback from the original reward)' })
  @IdempotentCommand()
  @ApiBody({ schema: ref('LedgerRefundRequest') })
  @ApiAnswers({ status: 201, description: 'The transaction after the refund, the adjustment and its entry', schema: ref('LedgerAdjustment') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  refund(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.refund(p, id, body);
  }

  @Post('transactions/:transactionId/chargebacks')
  @Roles('service')
  @ApiOperation({ summary: 'Chargeback (same adjustment as a refund; status CHARGEBACK)' })
  @IdempotentCommand()
  @ApiBody({ schema: ref('LedgerChargebackRequest') })
  @ApiAnswers({ status: 201, description: 'The transaction after the chargeback, the adjustment and its entry', schema: ref('LedgerAdjustment') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  chargeback(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.chargeback(p, id, body);
  }

  @Post('accounts/:accountId/redemptions')
  @Roles('service')
  @ApiOperation({ summary: 'Redeem (Algorithm 3 gate, an OPA policy; refused: 422 with code and reasons)' })
  @IdempotentCommand({ decisionIdIn: 'decisionId' })
  @ApiBody({ schema: ref('LedgerRedemptionRequest') })
  @ApiAnswers({ status: 201, description: 'Redeemed: the balance after it and the gate decision', schema: ref('Redemption') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  redeem(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.redeem(p, accountId, body);
  }

  @Post('accounts/:accountId/statements')
  @Roles('service')
  @ApiOperation({ summary: 'Close a statement period (Algorithm 4)' })
  @IdempotentCommand()
  @ApiBody({ schema: ref('LedgerStatementRequest') })
  @ApiAnswers({ status: 201, description: 'The closed period', schema: ref('LedgerStatement') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  statement(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.ledger.closeStatement(p, accountId, body);
  }

  @Get('accounts')
  @QueryParams('integrity', 'limit', 'cursor')
  @Roles('auditor')
  @ApiQuery({ name: 'integrity', required: true, enum: ['violated'] })
  @ApiPageQuery()
  @ApiOperation({
    summary: 'Accounts whose Reward Integrity verdict is false: ?integrity=violated&limit=&cursor=',
    description:
      'By account id. Each account with the figures, verdict and violating transactions of its last ledger write (the verdict is ' +
      'recorded on every write that can move it; an account not written since this was deployed is listed after its next write). ' +
      '`integrity=violated` is required: this is not a listing of every account.',
  })
  @ApiAnswers({ status: 200, description: 'A page of accounts whose Reward Integrity verdict is false', schema: page('ViolatedAccount') }, ROLE, QUERY)
  accounts(@CurrentPrincipal() p: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const integrity = q.oneOf('integrity', ['violated'] as const);
    if (integrity === undefined && !q.errors.some((e) => e.path === 'query:integrity')) q.fail('integrity', 'is required (violated)');
    const { limit, cursor } = q.page();
    q.done();
    return this.ledger.violatedAccounts(p, limit, cursor === undefined ? undefined : decodeAccountsCursor(cursor));
  }

  @Get('accounts/:accountId')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'Balance, net spend, net reward, the program bound and the Reward Integrity verdict' })
  @ApiAnswers({ status: 200, description: 'The account and its Reward Integrity verdict', schema: ref('LedgerAccount') }, ROLE, 404)
  account(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string) {
    return this.ledger.view(p, accountId);
  }

  @Get('accounts/:accountId/entries')
  @QueryParams('limit', 'cursor')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'Append-only entries, oldest first: ?limit=&cursor=' })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of entries, oldest first', schema: page('LedgerEntry') }, ROLE, QUERY, 404)
  entries(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    return this.ledger.entries(p, accountId, limit, cursor === undefined ? undefined : decodeEntriesCursor(cursor));
  }

  @Get('transactions/:transactionId')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'A transaction: status, amount, refunded, reward, originalReward' })
  @ApiAnswers({ status: 200, description: 'The transaction', schema: ref('LedgerTransaction') }, ROLE, 404)
  transaction(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string) {
    return this.ledger.transaction(p, id);
  }
}
