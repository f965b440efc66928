/** HTTP surface of webhooks (api-contract.md §9). */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams } from '../http/query.js';
import { WebhooksService } from './webhooks.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Register an endpoint for some event types; the answer carries its signing secret (whsec_…)' })
  @ApiBody({ schema: ref('WebhookRequest') })
  @IdempotentCommand()
  @ApiAnswers({ status: 201, description: 'The endpoint and its signing secret (shown once)', schema: ref('CreatedWebhook') }, ROLE, JSON_BODY, IDEMPOTENT)
  create(@CurrentPrincipal() principal: Principal, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.webhooks.create(principal, body);
  }

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('admin')
  @ApiOperation({ summary: "The tenant's endpoints (without secrets)" })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: "A page of the tenant's endpoints", schema: page('Webhook') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    return this.webhooks.list(principal, query);
  }

  @Delete(':id')
  @Roles('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint: nothing more is sent to it' })
  @ApiAnswers({ status: 204, description: 'Deleted' }, ROLE, 404)
  async delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    await this.webhooks.delete(principal, id);
  }

  @Get(':id/deliveries')
  @QueryParams('limit', 'cursor')
  @Roles('admin')
  @ApiOperation({ summary: "The endpoint's delivery log, newest event first" })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of deliveries, newest event first', schema: page('WebhookDelivery') }, ROLE, QUERY, 404)
  deliveries(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.webhooks.deliveries(principal, id, query);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @Roles('admin')
  @ApiOperation({ summary: 'Send this delivery again now, before anything later the endpoint is owed (after the run under way, if one holds it)' })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The delivery, scheduled now', schema: ref('WebhookDelivery') }, ROLE, IDEMPOTENT, 404, 409)
  redeliver(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('deliveryId') deliveryId: string, @Res() _answered: FastifyReply) {
    return this.webhooks.redeliver(principal, id, deliveryId);
  }
}
