/** HTTP surface of decision types (api-contract.md §7): guard, validated input, one service call. */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { CatalogueService } from '../catalogue/catalogue.service.js';
import { DecisionTypesService } from './decision-types.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, KEYED, QUERY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('decision-types')
@ApiBearerAuth()
@Controller('v1/decision-types')
export class DecisionTypesController {
  constructor(
    private readonly catalogue: CatalogueService,
    private readonly types: DecisionTypesService,
  ) {}

  @Post()
  @Roles('author')
  @ApiOperation({
    summary: 'Store a decision type (immutable per name@version) after its schema and semantic checks',
    description:
      '201 when stored; 200 with the stored type when identical content is sent again; 409 for other content; 422 naming every bad path. ' +
      'It is bound to packs and bundles (and type-checked across its pipeline) when a release names it.',
  })
  @IdempotentCommand()
  @ApiBody({ schema: ref('DecisionType') })
  @ApiAnswers(
    [
      { status: 201, description: 'Stored', schema: ref('DecisionType') },
      { status: 200, description: 'The identical type was stored already', schema: ref('DecisionType') },
    ],
    ROLE,
    JSON_BODY,
    IDEMPOTENT,
    409,
    422,
  )
  upload(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res() _answered: FastifyReply,
  ) {
    return this.catalogue.uploadType(principal, body);
  }

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles()
  @ApiOperation({ summary: "The active release's decision types, by name: name, version, outcomes and input schema; ?limit=&cursor=" })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: "A page of the active release's types", schema: ref('DecisionTypeList') }, KEYED, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    return this.types.list(principal, limit, cursor);
  }

  @Get(':name/schema')
  @Roles()
  @ApiOperation({ summary: 'The active input JSON Schema of a decision type' })
  @ApiAnswers({ status: 200, description: 'The input JSON Schema', schema: ref('JsonSchema') }, KEYED, 404)
  schema(@CurrentPrincipal() principal: Principal, @Param('name') name: string) {
    return this.types.schema(principal, name);
  }

  @Get(':name/:version')
  @Roles('author', 'auditor')
  @ApiOperation({ summary: 'One stored (or built-in) decision type, its document included' })
  @ApiAnswers({ status: 200, description: 'The decision type document', schema: ref('DecisionType') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Param('version') version: string) {
    return this.catalogue.getType(principal, name, version);
  }
}
