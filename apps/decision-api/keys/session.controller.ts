/** GET /v1/session: the key presenting itself (tenant, name, roles). The console's sign-in asks it before keeping a key. */
import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../../../libs/persistence/index.js';
import { CurrentPrincipal, Roles } from '../auth/roles.js';
import { ApiAnswers, KEYED, ref } from '../openapi/contract.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/session')
export class SessionController {
  @Get()
  @Roles()
  @ApiOperation({
    summary: 'Who this key is: tenant, key id, name, roles, approval limit and expiry (any valid key)',
    description: 'Never the key or its hash. A wrong, revoked or expired key answers 401 like every other route.',
  })
  @ApiAnswers({ status: 200, description: 'The key presenting itself', schema: ref('Session') }, KEYED)
  session(@CurrentPrincipal() p: Principal) {
    return {
      tenant: p.tenant,
      keyId: p.keyId,
      name: p.name,
      roles: p.roles,
      approvalLimit: p.approvalLimit ?? null,
      expiresAt: p.expiresAt ? p.expiresAt.toISOString() : null,
    };
  }
}
