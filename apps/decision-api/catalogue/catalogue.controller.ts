/** HTTP surface of rule packs and policy bundles (api-contract.md §5): guard, validated input, one service call. */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { CatalogueService } from './catalogue.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('releases')
@ApiBearerAuth()
@Controller('v1/rule-packs')
export class RulePacksController {
  constructor(private readonly catalogue: CatalogueService) {}

  @Post()
  @Roles('author')
  @ApiOperation({
    summary: 'Store a rule pack (immutable per name@version) after schema, type check, compile and its own test cases',
    description: '201 when stored; 200 with the stored pack when identical content is sent again; 409 for other content.',
  })
  @IdempotentCommand()
  @ApiBody({ schema: ref('RulePack') })
  @ApiAnswers(
    [
      { status: 201, description: 'Stored', schema: ref('RulePackSummary') },
      { status: 200, description: 'The identical pack was stored already', schema: ref('RulePackSummary') },
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
    return this.catalogue.uploadPack(principal, body);
  }

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('author', 'auditor')
  @ApiOperation({ summary: "The tenant's rule packs and the built-in ones, by name then version: ?limit=&cursor=" })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of rule packs', schema: page('RulePackSummary') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    return this.catalogue.listPacks(principal, limit, cursor);
  }

  @Get(':name/:version')
  @Roles('author', 'auditor')
  @ApiOperation({ summary: 'One rule pack, its content included' })
  @ApiAnswers({ status: 200, description: 'The pack', schema: ref('StoredRulePack') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Param('version') version: string) {
    return this.catalogue.getPack(principal, name, version);
  }
}

@ApiTags('releases')
@ApiBearerAuth()
@Controller('v1/policy-bundles')
export class PolicyBundlesController {
  constructor(private readonly catalogue: CatalogueService) {}

  @Post()
  @QueryParams('name', 'version')
  @Roles('author')
  @ApiOperation({
    summary: 'Store a policy bundle (opa build -t wasm output) after loading it and a smoke test of each entrypoint',
    description: '201 when stored; 200 when the identical bytes are sent again; 409 for other bytes; 413 over 10 MiB.',
  })
  @IdempotentCommand()
  @ApiQuery({ name: 'name', required: true, schema: { type: 'string' } })
  @ApiQuery({ name: 'version', required: true, schema: { type: 'string' }, description: 'Semantic version' })
  @ApiConsumes('application/gzip', 'application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiAnswers(
    [
      { status: 201, description: 'Stored', schema: ref('PolicyBundle') },
      { status: 200, description: 'The identical bundle was stored already', schema: ref('PolicyBundle') },
    ],
    ROLE,
    QUERY,
    IDEMPOTENT,
    409,
    413,
    415,
    422,
  )
  upload(
    @CurrentPrincipal() principal: Principal,
    @Query() query: Record<string, unknown>,
    @Body() body: unknown,
    @Res() _answered: FastifyReply,
  ) {
    const q = new QueryParser(query);
    const parsed = { name: q.string('name'), version: q.string('version') };
    q.done();
    return this.catalogue.uploadBundle(principal, parsed, body);
  }

  @Get(':name/:version')
  @Roles('author', 'auditor')
  @ApiOperation({ summary: "One policy bundle's metadata (hash, size, entrypoints)" })
  @ApiAnswers({ status: 200, description: 'The bundle metadata', schema: ref('PolicyBundle') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Param('version') version: string) {
    return this.catalogue.getBundle(principal, name, version);
  }
}
