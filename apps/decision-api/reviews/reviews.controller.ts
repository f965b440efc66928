/** HTTP surface of the review queue (api-contract.md section 8). */
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { isUuid, NAME_PATTERN } from '../../../libs/names/index.js';
import { REVIEW_POSITION_DEADLINE, type Principal, type ReviewPosition } from '../../../libs/persistence/index.js';
import { REVIEW_STATES } from '../../../libs/reviews/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { decodeCursor, encodeCursor, isInstant } from '../http/cursor.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { QueryParams, QueryParser } from '../http/query.js';
import { ReviewsService } from './reviews.service.js';
import { ApiAnswers, ApiFilters, ApiPageQuery, IDEMPOTENT, JSON_BODY, page, QUERY, ref, ROLE } from '../openapi/contract.js';

const encodePosition = (p: ReviewPosition): string => encodeCursor({ p: p.part, d: p.deadline, i: p.id });
const decodePosition = (cursor: string): ReviewPosition =>
  decodeCursor(cursor, (v) =>
    (v.p === 'open' || v.p === 'closed') && typeof v.d === 'string' && REVIEW_POSITION_DEADLINE.test(v.d) && isInstant(v.d) && typeof v.i === 'string' && isUuid(v.i)
      ? { part: v.p, deadline: v.d, id: v.i }
      : undefined,
  );

@ApiTags('reviews')
@ApiBearerAuth()
@Controller('v1/reviews')
export class ReviewsController {
  constructor(private readonly reviews: ReviewsService) {}

  @Get()
  @QueryParams('state', 'assignee', 'overdue', 'type', 'minAmount', 'maxAmount', 'limit', 'cursor')
  @Roles('reviewer', 'auditor')
  @ApiOperation({
    summary: 'The review queue, open items first by SLA deadline: ?state=&assignee=&overdue=&type=&minAmount=&maxAmount=&limit=&cursor=',
    description: 'assignee: the key holding a live claim. overdue=true: open and past the deadline.',
  })
  @ApiFilters(
    { name: 'state', enum: [...REVIEW_STATES] },
    { name: 'assignee', schema: { type: 'string' }, description: 'The key id holding a live claim' },
    { name: 'overdue', enum: ['true', 'false'] },
    { name: 'type', schema: { type: 'string' } },
    { name: 'minAmount', schema: { type: 'integer', minimum: 0 } },
    { name: 'maxAmount', schema: { type: 'integer', minimum: 0 } },
  )
  @ApiPageQuery()
  @ApiAnswers({ status: 200, description: 'A page of review items, open first by deadline', schema: page('Review') }, ROLE, QUERY)
  async list(@CurrentPrincipal() p: Principal, @Query() query: Record<string, unknown>) {
    const q = new QueryParser(query);
    const amount = (name: string) => (q.string(name) === undefined ? undefined : q.int(name, 0, 0, Number.MAX_SAFE_INTEGER));
    const overdue = q.oneOf('overdue', ['true', 'false'] as const);
    const filter = {
      state: q.oneOf('state', REVIEW_STATES),
      assignee: q.matching('assignee', '^[\\x21-\\x7e]+$'),
      overdue: overdue === undefined ? undefined : overdue === 'true',
      type: q.matching('type', NAME_PATTERN),
      minAmount: amount('minAmount'),
      maxAmount: amount('maxAmount'),
    };
    if (filter.minAmount !== undefined && filter.maxAmount !== undefined && filter.minAmount > filter.maxAmount) q.fail('minAmount', 'must not exceed maxAmount');
    const { limit, cursor } = q.page();
    q.done();
    const defined = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
    const page = await this.reviews.list(p, defined, limit, cursor === undefined ? undefined : decodePosition(cursor));
    return { items: page.items, nextCursor: page.next ? encodePosition(page.next) : null };
  }

  @Get(':id')
  @Roles('reviewer', 'auditor')
  @ApiOperation({ summary: 'One review item with its approvals and, once closed, the decision that resolved it' })
  @ApiAnswers({ status: 200, description: 'The review item', schema: ref('Review') }, ROLE, 404)
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.reviews.get(p, id);
  }

  @Post(':id/claim')
  @Roles('reviewer')
  @IdempotentCommand()
  @ApiOperation({ summary: "Take the item for its lease (the item's leaseMinutes); another reviewer's live claim: 409 REVIEW_CLAIMED" })
  @ApiAnswers({ status: 200, description: 'The item, claimed by this key', schema: ref('Review') }, ROLE, IDEMPOTENT, 404, 409)
  claim(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Res() _answered: FastifyReply) {
    return this.reviews.claim(p, id);
  }

  @Post(':id/release')
  @Roles('reviewer')
  @IdempotentCommand()
  @ApiOperation({ summary: 'Give the item back (its holder only)' })
  @ApiAnswers({ status: 200, description: 'The item, unclaimed', schema: ref('Review') }, ROLE, IDEMPOTENT, 404, 409)
  release(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Res() _answered: FastifyReply) {
    return this.reviews.release(p, id);
  }

  @Post(':id/resolve')
  @Roles('reviewer')
  @IdempotentCommand({ decisionIdIn: 'resolutionDecisionId' })
  @ApiOperation({ summary: 'APPROVE (an amount up to the requested one) or DENY; four-eyes where two approvals are required' })
  @ApiBody({ schema: ref('ReviewResolution') })
  @ApiAnswers({ status: 200, description: 'The item: closed, or still open with this approval listed (four eyes)', schema: ref('Review') }, ROLE, JSON_BODY, IDEMPOTENT, 404, 409)
  resolve(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.reviews.resolve(p, id, body);
  }
}
