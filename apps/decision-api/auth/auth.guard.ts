/** Authenticates `Authorization: Bearer <key>`, rate-limits per key, and checks the route's roles. */
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../../libs/errors/index.js';
import { ApiKeysRepository, type Principal } from '../../../libs/persistence/index.js';
import { CLOCK, DATABASE } from '../tokens.js';
import type { Clock, Database } from '../../../libs/persistence/index.js';
import { ApiKeyCache } from './key-cache.js';
import { PUBLIC_KEY, ROLES_KEY, type AuthedRequest, type Role } from './roles.js';
import { ApiKeyRateLimit, FailedAuthLimiter } from './rate-limiter.js';

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly inflight = new Map<string, { reserved: Promise<void>; lookup: Promise<Principal | undefined> }>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(DATABASE) private readonly db: Database,
    private readonly perKey: ApiKeyRateLimit,
    private readonly repo: ApiKeysRepository,
    private readonly failedAuth: FailedAuthLimiter,
    // Keys are looked up on every request; the cache keeps that off the database (revocation drops entries: key-cache.ts).
    private readonly cache: ApiKeyCache,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const handler = ctx.getHandler();
    const cls = ctx.getClass();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [handler, cls])) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest & AuthedRequest>();
    const key = bearer(req);
    // A key seen valid a moment ago passes; anything else from an address out of failures is refused before the query.
    let principal = key ? this.cache.get(key) : undefined;
    if (!principal) {
      if (!key) {
        this.failedAuth.check(req.ip);
        // Nothing to guess and no query: counted on this instance only (no store call per credential-less request).
        throw this.failedAuth.missing(req.ip, new DomainError('UNAUTHENTICATED', 'Send Authorization: Bearer <api key>', 'unauthenticated'));
      }
      principal = await this.lookupLimited(key, req.ip);
    }
    // A held token almost always (no waiting); one request per lease waits for the shared store.
    if (!(this.perKey.tryTake(principal.keyId) ?? (await this.perKey.take(principal.keyId)))) throw this.perKey.refusal(principal.keyId);
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [handler, cls]) ?? [];
    if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) {
      throw new DomainError('FORBIDDEN', `This call needs one of the roles: ${roles.join(', ')}`, 'forbidden');
    }
    req.principal = principal;
    return true;
  }

  /**
   * The key's principal, or the 401 (429 once the address is out of failures). A lookup holds one failure of the
   * address's budget, local and shared, while it runs (given back when the key is valid or the lookup fails), so a burst
   * of wrong keys sent at once to any instances reaches the database no more often than the budget allows; the same key
   * sent at once shares one lookup.
   */
  private async lookupLimited(key: string, address: string): Promise<Principal> {
    const joined = this.inflight.get(key);
    if (joined) {
      // The request that started it was refused before its query (its address is out of failures): go on our own.
      if (!(await joined.reserved.then(() => true, () => false))) return this.lookupLimited(key, address);
      // Joined another request's lookup: no query of its own, but a wrong key is still a failure of this address.
      const principal = await joined.lookup;
      if (principal) return principal;
      throw await this.failedAuth.failed(address, new DomainError('UNAUTHENTICATED', 'API key is not valid', 'unauthenticated'));
    }
    // In the map before the reservation's store call, so the same key sent at once waits for this one lookup.
    const reserved = this.failedAuth.reserve(address);
    const entry = {
      reserved,
      lookup: reserved.then(() =>
        this.lookup(key).then(
          (p) => {
            if (p) this.failedAuth.refund(address);
            return p;
          },
          (e: unknown) => {
            this.failedAuth.refund(address);
            throw e;
          },
        ),
      ),
    };
    // Registered before any joiner's handler, so a joiner retrying after a refused reservation no longer finds it.
    reserved.catch(() => this.inflight.delete(key));
    entry.lookup.finally(() => this.inflight.delete(key)).catch(() => undefined);
    this.inflight.set(key, entry);
    const principal = await entry.lookup;
    if (principal) return principal;
    throw await this.failedAuth.failed(address, new DomainError('UNAUTHENTICATED', 'API key is not valid', 'unauthenticated'), { reserved: true });
  }

  private async lookup(key: string): Promise<Principal | undefined> {
    const since = this.cache.begin();
    const principal = await this.repo.findByKey(this.db.em(), key, this.clock.now());
    // Only hits are cached: a key issued a moment after a failed try must work at once.
    if (!principal) return undefined;
    this.cache.set(key, principal, since);
    return principal;
  }
}
