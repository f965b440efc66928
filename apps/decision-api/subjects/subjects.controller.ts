/** /v1/subjects: data subjects' rights (right to erasure); a subject's decisions are listed by GET /v1/decisions?customer=. */
import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { IdempotentCommand } from '../http/idempotent-command.js';
import { SubjectsService } from './subjects.service.js';
import { ApiAnswers, IDEMPOTENT, JSON_BODY, ref, ROLE } from '../openapi/contract.js';

@ApiTags('subjects')
@ApiBearerAuth()
@Controller('v1/subjects')
export class SubjectsController {
  constructor(private readonly subjects: SubjectsService) {}

  @Post('erasure')
  @Roles('admin')
  @IdempotentCommand()
  @ApiOperation({
    summary: "Erase a data subject's personal data: {customer: <raw id>}",
    description:
      "Every decision of the customer keeps outcome, reasons and document; its case loses the fields its pinned type marks x-pii (set to null) " +
      "and its replay answers 410 DECISION_ERASED. The customer's history rows are deleted, its refunds' customerId becomes \"erased\", and " +
      'the audit log records who erased it. Answers 200 {subject (the pseudonym), decisions, historyEvents, refunds, erasedAt}; erasing again finds nothing left (zeros).',
  })
  @ApiBody({ schema: ref('ErasureRequest') })
  @ApiAnswers({ status: 200, description: 'What was erased (zeros when nothing was left)', schema: ref('Erasure') }, ROLE, JSON_BODY, IDEMPOTENT)
  erase(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Res() _answered: FastifyReply) {
    return this.subjects.erase(p, body);
  }
}
