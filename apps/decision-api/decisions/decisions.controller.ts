/** HTTP surface of decisions (api-contract.md §3, §7): guard, validated input, one service call, mapped output. */
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand, JSON_TYPE } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { decodeIdCursor } from '../http/cursor.js';
import { DecisionsService } from './decisions.service.js';
import { NAME_PATTERN } from '../../../libs/names/index.js';
import { ApiAnswers, ApiFilters, ApiPageQuery, DATE_TIME, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

/** name@version of a release (names kebab-case, versions semver). */
const RELEASE_REF_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*@[0-9A-Za-z.+-]{1,100}$';
/** A name and a version may each be 100 characters long, so the reference may be 201. */
const RELEASE_REF_MAX_LENGTH = 201;
const REASON_CODE_PATTERN = '^[A-Z][A-Z0-9_]{0,99}$';

@ApiTags('decisions')
@ApiBearerAuth()
@Controller('v1/decisions')
export class DecisionsController {
  constructor(private readonly decisions: DecisionsService) {}

  @Post('refund')
  @Roles('service')
  @IdempotentCommand({ decisionIdIn: 'id' })
  @ApiOperation({ summary: 'Decide a refund case (APPROVE, DENY or REVIEW) and store the decision: the built-in refund type of POST /v1/decisions/{type}' })
  @ApiBody({ schema: ref('RefundDecisionRequest') })
  @ApiAnswers({ status: 201, description: 'The decision, stored (a replay of the Idempotency-Key answers it again, Idempotent-Replayed: true)', schema: ref('Decision') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  refund(@CurrentPrincipal() principal: Principal, @Body() body: unknown, @Res() answered: FastifyReply) {
    return this.decisions.decide(principal, 'refund', body, answered.request);
  }

  @Post(':type')
  @Roles('service')
  @ApiOperation({
    summary: 'Decide a case of a decision type of the active release (refund: APPROVE, DENY or REVIEW) and store the decision',
    description: 'The case must match the type\'s input schema (GET /v1/decision-types/{type}/schema). Unknown type: 404 DECISION_TYPE_NOT_FOUND.',
  })
  @IdempotentCommand({ decisionIdIn: 'id' })
  @ApiParam({ name: 'type', example: 'refund', description: 'a decision type of the active release' })
  @ApiBody({ schema: ref('DecisionRequest') })
  @ApiAnswers({ status: 201, description: 'The decision, stored, with its type', schema: ref('Decision') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  decide(@CurrentPrincipal() principal: Principal, @Param('type') type: string, @Body() body: unknown, @Res() answered: FastifyReply) {
    // The request hears the decision's id (its access line logs it).
    return this.decisions.decide(principal, type, body, answered.request);
  }

  @Get()
  @QueryParams('type', 'domain', 'outcome', 'release', 'reasonCode', 'from', 'to', 'limit', 'cursor', 'customer')
  @Roles('service', 'auditor')
  @ApiOperation({
    summary: 'List decisions, newest first: ?type=&outcome=&release=&reasonCode=&from=&to=&limit=&cursor=&customer= (domain= is the v1 name of type=)',
    description:
      "customer=<the raw customer id>: that data subject's decisions (a subject-access request), found through the platform's history " +
      "under the tenant's pseudonym of the id (types marking it x-pii) or the id itself; decisions of types that record no history are not found.",
  })
  @ApiFilters(
    { name: 'type', schema: { type: 'string' }, description: 'A decision type' },
    { name: 'domain', schema: { type: 'string' }, description: 'The v1 name of type=' },
    { name: 'outcome', schema: { type: 'string' }, description: "One of the type's outcomes" },
    { name: 'release', schema: { type: 'string', pattern: RELEASE_REF_PATTERN }, description: 'The release the decision pinned, as name@version' },
    { name: 'reasonCode', schema: { type: 'string', pattern: REASON_CODE_PATTERN }, description: "One of the decision's reason codes" },
    { name: 'from', schema: DATE_TIME },
    { name: 'to', schema: DATE_TIME },
    { name: 'customer', schema: { type: 'string', minLength: 1, maxLength: 255 }, description: 'The raw customer id (a subject-access request)' },
  )
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of decisions, newest first, without traces', schema: page('DecisionSummary') }, ROLE, QUERY)
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const type = q.matching('type', NAME_PATTERN);
    const domain = q.matching('domain', NAME_PATTERN);
    if (type !== undefined && domain !== undefined && type !== domain) q.fail('domain', 'names another type than type=');
    const parsed = {
      domain: type ?? domain,
      outcome: q.oneOf('outcome', this.decisions.outcomes(principal)),
      release: releaseRef(q.matching('release', RELEASE_REF_PATTERN, RELEASE_REF_MAX_LENGTH)),
      reasonCode: q.matching('reasonCode', REASON_CODE_PATTERN),
      from: q.dateTime('from'),
      to: q.dateTime('to'),
      ...q.page(),
      customer: q.string('customer'),
    };
    // A customer id as a case may hold it (the refund type's customerId: 1 to 255 characters).
    // PostgreSQL text holds no NUL: such an id was never stored, and matching it would be a driver error (500).
    // `?customer=` with nothing after it is a lookup of nobody, refused: as absent (the rule for every other filter), a
    // subject-access request built from a blank id would list every decision of the tenant.
    if (query['customer'] === '' || (parsed.customer !== undefined && (parsed.customer.length > 255 || parsed.customer.includes('\u0000')))) {
      q.fail('customer', 'must be 1 to 255 characters, without NUL');
    }
    q.done();
    const after = parsed.cursor === undefined ? undefined : decodeIdCursor(parsed.cursor);
    return this.decisions.list(principal, { ...parsed, after });
  }

  @Get(':id')
  @Roles('service', 'auditor', 'reviewer')
  @ApiOperation({
    summary: 'The stored decision, trace included, exactly as first answered',
    description: 'A reviewer (without the service or auditor role) reads only decisions that opened a review item; any other is 404 to them.',
  })
  @ApiAnswers({ status: 200, description: 'The stored decision', schema: ref('Decision') }, ROLE, 404)
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const document = await this.decisions.get(principal, id);
    reply.request.decisionId = id;
    reply.status(200).header('content-type', JSON_TYPE).send(document);
  }

  @Post(':id/replay')
  @Roles('auditor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Re-evaluate the stored case under the release versions the decision pinned' })
  @ApiAnswers({ status: 200, description: 'Whether the pinned release decides the stored case the same way, and both answers', schema: ref('DecisionReplay') }, ROLE, 404, 410, 422)
  async replay(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    const replayed = await this.decisions.replay(principal, id);
    req.decisionId = id;
    return replayed;
  }
}


function releaseRef(ref: string | undefined): { name: string; version: string } | undefined {
  if (ref === undefined) return undefined;
  const at = ref.indexOf('@');
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}
