/** HTTP surface of what-if simulations (api-contract.md §6): guard, validated input, one service call, mapped output. */
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { jsonStream } from '../http/json-stream.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { LedgerSimulationService } from './ledger-simulation.service.js';
import { decodeIdCursor } from '../http/cursor.js';
import { SimulationsService } from './simulations.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('v1/simulations')
export class SimulationsController {
  constructor(
    private readonly simulations: SimulationsService,
    private readonly ledger: LedgerSimulationService,
  ) {}

  @Post()
  @Roles('author')
  @ApiOperation({
    summary: 'What-if: decide cases (or replay stored decisions) on a candidate release and compare with the baseline',
    description: 'Up to 1,000 cases: 201 with the full result. More: 202 {id, status: "running", progress}; poll GET /v1/simulations/{id}.',
  })
  @IdempotentCommand()
  @ApiBody({ schema: ref('SimulationRequest') })
  @ApiAnswers(
    [
      { status: 201, description: 'Up to 1,000 cases: the finished simulation', schema: ref('Simulation') },
      { status: 202, description: 'More: accepted and running; poll GET /v1/simulations/{id}', schema: ref('Simulation') },
    ],
    ROLE,
    JSON_BODY,
    IDEMPOTENT,
    404,
    429,
  )
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res() _answered: FastifyReply,
  ) {
    return this.simulations.create(principal, body);
  }

  @Post('ledger')
  @Roles('author')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run a reward program on a ledger event script (isolated, in memory) and answer the final account state and its integrity',
    description: 'Stores nothing, so no Idempotency-Key is needed.',
  })
  @ApiBody({ schema: ref('LedgerSimulationRequest') })
  @ApiAnswers({ status: 200, description: 'The final account state and its integrity', schema: ref('LedgerSimulationResult') }, ROLE, JSON_BODY, 422)
  async ledgerWhatIf(@CurrentPrincipal() principal: Principal, @Body() body: unknown) {
    // Answers reach about 10 MB: streamed, so serialising one does not hold the event loop.
    return jsonStream(await this.ledger.simulate(principal, body));
  }

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('author')
  @ApiOperation({ summary: 'Simulation jobs, newest first, without results: ?limit=&cursor=' })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of simulation jobs, without results', schema: page('Simulation') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    return this.simulations.list(principal, limit, cursor === undefined ? undefined : decodeIdCursor(cursor));
  }

  @Get(':id')
  @Roles('author')
  @ApiOperation({ summary: 'A simulation: status and progress while running, then summary and results' })
  @ApiAnswers({ status: 200, description: 'The simulation', schema: ref('Simulation') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.simulations.get(principal, id);
  }

  @Post(':id/cancel')
  @Roles('author')
  @ApiOperation({ summary: 'Cancel a running simulation (it stops between two cases and keeps its partial summary)' })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The simulation, canceled (or as it finished)', schema: ref('Simulation') }, ROLE, IDEMPOTENT, 404)
  cancel(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Res() _answered: FastifyReply,
  ) {
    return this.simulations.cancel(principal, id);
  }
}
