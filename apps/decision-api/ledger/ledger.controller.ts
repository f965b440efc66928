/** HTTP surface of the reward ledger (api-contract.md §4). */
import { Body, Controller, Get, Param, Put, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotencyKey, type HttpAnswer } from '../http/idempotency.service.js';
import { QueryParser } from '../http/query.js';
import { sendAnswer } from '../http/send.js';
import { ledgerSchemas } from './ledger.schemas.js';
import { decodeEntriesCursor, LedgerService } from './ledger.service.js';

const route = (req: FastifyRequest) => req.url.split('?')[0] ?? req.url;

@ApiTags('ledger')
@ApiBearerAuth()
@Controller('v1/ledger')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  private async post(
    principal: Principal,
    idempotencyKey: string,
    req: FastifyRequest,
    body: unknown,
    reply: FastifyReply,
    call: (c: { principal: Principal; key: string; route: string; body: unknown }) => Promise<HttpAnswer>,
  ): Promise<void> {
    sendAnswer(reply, await call({ principal, key: idempotencyKey, route: route(req), body }));
  }

  @Put('accounts/:accountId')
  @Roles('service')
  @ApiOperation({ summary: 'Open or update a reward account' })
  @ApiBody({ schema: ledgerSchemas.account as object })
  async open(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Body() body: unknown, @Res() reply: FastifyReply) {
    const r = await this.ledger.openAccount(p, accountId, body);
    reply.status(r.status).send(r.body);
  }

  @Post('accounts/:accountId/transactions')
  @Roles('service')
  @ApiOperation({ summary: 'Record a PENDING purchase' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.purchase as object })
  purchase(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.recordPurchase(c, accountId));
  }

  @Post('transactions/:transactionId/settle')
  @Roles('service')
  @ApiOperation({ summary: 'Settle a purchase (Algorithm 1 for instant programs)' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.settle as object })
  settle(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.settle(c, id));
  }

  @Post('transactions/:transactionId/refunds')
  @Roles('service')
  @ApiOperation({ summary: 'Refund (Algorithm 2: proportional clawback from the original reward)' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.refund as object })
  refund(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.refund(c, id));
  }

  @Post('transactions/:transactionId/chargebacks')
  @Roles('service')
  @ApiOperation({ summary: 'Chargeback (same adjustment as a refund; status CHARGEBACK)' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.chargeback as object })
  chargeback(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.chargeback(c, id));
  }

  @Post('accounts/:accountId/redemptions')
  @Roles('service')
  @ApiOperation({ summary: 'Redeem (Algorithm 3 gate, an OPA policy; refused: 422 with code and reasons)' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.redemption as object })
  redeem(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.redeem(c, accountId));
  }

  @Post('accounts/:accountId/statements')
  @Roles('service')
  @ApiOperation({ summary: 'Close a statement period (Algorithm 4)' })
  @ApiHeader({ name: 'Idempotency-Key', required: true })
  @ApiBody({ schema: ledgerSchemas.statement as object })
  statement(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @IdempotencyKey() key: string, @Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    return this.post(p, key, req, body, reply, (c) => this.ledger.closeStatement(c, accountId));
  }

  @Get('accounts/:accountId')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'Balance, net spend, net reward, the program bound and the Reward Integrity verdict' })
  account(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string) {
    return this.ledger.view(p, accountId);
  }

  @Get('accounts/:accountId/entries')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'Append-only entries, oldest first: ?limit=&cursor=' })
  entries(@CurrentPrincipal() p: Principal, @Param('accountId') accountId: string, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const limit = q.int('limit', 50, 1, 500);
    const cursor = q.string('cursor');
    q.done();
    return this.ledger.entries(p, accountId, limit, cursor === undefined ? undefined : decodeEntriesCursor(cursor));
  }

  @Get('transactions/:transactionId')
  @Roles('service', 'auditor')
  @ApiOperation({ summary: 'A transaction: status, amount, refunded, reward, originalReward' })
  transaction(@CurrentPrincipal() p: Principal, @Param('transactionId') id: string) {
    return this.ledger.transaction(p, id);
  }
}
