/** Roles (api-contract.md §2) and the decorators that declare what a route needs. */
import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../../../libs/persistence/index.js';

export const ROLES = ['service', 'author', 'publisher', 'reviewer', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ROLES_KEY = 'roles';
/** Any one of these roles grants access. `Roles()` with no role means any valid key. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

export const PUBLIC_KEY = 'public';
/** No API key needed (health probes, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export interface AuthedRequest {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!principal) throw new Error('route without a principal asked for one');
  return principal;
});
