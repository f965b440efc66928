/** HTTP surface of releases (api-contract.md §5): create, activate, roll back, shadow, and read what is active. */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeCursor, isInstant } from '../http/cursor.js';
import { isName, isSemver } from '../../../libs/names/index.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { ActivationService } from './activation.service.js';
import { ReleasesService } from './releases.service.js';
import { ShadowService } from './shadow.service.js';
import { ApiAnswers, ApiPageQuery, IDEMPOTENT, JSON_BODY, KEYED, page, QUERY, ref, ROLE } from '../openapi/contract.js';

/** The instant a releases cursor carries, as the list writes it (toISOString). */
const RELEASES_CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

@ApiTags('releases')
@ApiBearerAuth()
@Controller('v1/releases')
export class ReleasesController {
  constructor(
    private readonly releases: ReleasesService,
    private readonly activation: ActivationService,
    private readonly shadow: ShadowService,
  ) {}

  @Post()
  @Roles('author')
  @ApiOperation({
    summary: 'Store a release naming exact component versions; every one must resolve for this tenant and the whole must compile',
    description: '201 when stored; 200 when identical content is sent again; 409 for other content.',
  })
  @IdempotentCommand()
  @ApiBody({ schema: ref('ReleaseManifest') })
  @ApiAnswers(
    [
      { status: 201, description: 'Stored', schema: ref('Release') },
      { status: 200, description: 'The identical release was stored already', schema: ref('Release') },
    ],
    ROLE,
    JSON_BODY,
    IDEMPOTENT,
    404,
    409,
    422,
  )
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res() _answered: FastifyReply,
  ) {
    return this.releases.createRelease(principal, body);
  }

  @Get()
  @QueryParams('limit', 'cursor')
  @Roles('author', 'publisher', 'auditor')
  @ApiOperation({
    summary: "The tenant's stored releases, newest first, and the built-in release: ?limit=&cursor=",
    description: '`builtin` is the release that decides until the tenant activates one (GET /v1/releases/active says which decides now).',
  })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: "A page of the tenant's releases, and the built-in one", schema: ref('ReleaseList') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    const after =
      cursor === undefined
        ? undefined
        : decodeCursor(cursor, (v) =>
            typeof v.at === 'string' && RELEASES_CURSOR_AT.test(v.at) && isInstant(v.at) && typeof v.name === 'string' && isName(v.name) && typeof v.version === 'string' && v.version.length <= 100 && isSemver(v.version)
              ? { createdAt: v.at, name: v.name, version: v.version }
              : undefined,
          );
    return this.releases.listReleases(principal, limit, after);
  }

  @Get('activations')
  @QueryParams('limit', 'cursor')
  @Roles('author', 'publisher', 'auditor')
  @ApiOperation({ summary: "The tenant's activation history, newest first: activations, rollbacks, shadow starts and stops: ?limit=&cursor=" })
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of the activation history, newest first', schema: page('ReleaseActivation') }, ROLE, QUERY)
  activations(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const { limit, cursor } = q.page();
    q.done();
    const before = cursor === undefined ? undefined : decodeCursor(cursor, (v) => (Number.isSafeInteger(v.seq) && (v.seq as number) > 0 ? (v.seq as number) : undefined));
    return this.activation.history(principal, limit, before);
  }

  @Get('active')
  @Roles()
  @ApiOperation({ summary: 'The release deciding for this tenant now (the built-in one until the tenant activates another)' })
  @ApiAnswers({ status: 200, description: 'The active release', schema: ref('ActiveRelease') }, KEYED)
  active(@CurrentPrincipal() principal: Principal) {
    return this.activation.active(principal);
  }

  @Post('rollback')
  @Roles('publisher')
  @ApiOperation({ summary: 'Back to the release the active one replaced (422 NO_PREVIOUS_RELEASE if none)' })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The release active again (rolledBack names the one replaced)', schema: ref('ActiveRelease') }, ROLE, IDEMPOTENT)
  rollback(
    @CurrentPrincipal() principal: Principal,
    @Res() _answered: FastifyReply,
  ) {
    return this.activation.rollback(principal);
  }

  @Get('shadow/report')
  @Roles('author', 'publisher', 'auditor')
  @ApiOperation({ summary: 'What the newest shadow release would have decided differently on live refund decisions' })
  @ApiAnswers({ status: 200, description: 'The shadow report', schema: ref('ShadowReport') }, ROLE, 404)
  report(@CurrentPrincipal() principal: Principal) {
    return this.shadow.report(principal);
  }

  @Delete('shadow')
  @Roles('publisher')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop the shadow evaluation (its report stays readable)' })
  @ApiAnswers({ status: 200, description: 'Shadow evaluation stopped', schema: ref('ShadowStopped') }, ROLE)
  stopShadow(@CurrentPrincipal() principal: Principal) {
    return this.activation.stopShadow(principal);
  }

  @Get(':name/:version')
  @Roles('author', 'publisher', 'auditor')
  @ApiOperation({ summary: 'One release (stored by the tenant or built in)' })
  @ApiAnswers({ status: 200, description: 'The release', schema: ref('Release') }, ROLE, 404)
  get(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Param('version') version: string) {
    return this.releases.getRelease(principal, name, version);
  }

  @Post(':name/:version/activate')
  @Roles('publisher')
  @ApiOperation({
    summary: "Make this release decide for the tenant, on every instance within 5 s; refused unless its packs' test cases pass and it serves every domain",
  })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The active release (changed: false when it was active already)', schema: ref('ActiveRelease') }, ROLE, IDEMPOTENT, 404)
  activate(
    @CurrentPrincipal() principal: Principal,
    @Param('name') name: string,
    @Param('version') version: string,
    @Res() _answered: FastifyReply,
  ) {
    return this.activation.activate(principal, { name, version });
  }

  @Post(':name/:version/shadow')
  @Roles('publisher')
  @ApiOperation({ summary: 'Also evaluate live refund decisions on this release, recording differences; never changes an answer' })
  @IdempotentCommand()
  @ApiAnswers({ status: 200, description: 'The shadow release, evaluated from now on', schema: ref('Shadow') }, ROLE, IDEMPOTENT, 404)
  startShadow(
    @CurrentPrincipal() principal: Principal,
    @Param('name') name: string,
    @Param('version') version: string,
    @Res() _answered: FastifyReply,
  ) {
    return this.activation.startShadow(principal, { name, version });
  }
}
