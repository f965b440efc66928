/**
 * GET /metrics (api-contract.md §10): Prometheus text. Open on the service port unless METRICS_TOKEN is set; then it
 * needs `Authorization: Bearer <METRICS_TOKEN>`: none → 401, another → 403. Not an API-key route: a tenant's key
 * cannot read it, and what it shows is operational (labels: tenants, types, outcomes, releases, reason codes).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject, Ip, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../../libs/errors/index.js';
import { FailedAuthLimiter } from '../auth/rate-limiter.js';
import { Public } from '../auth/roles.js';
import { ApiAnswers, METRICS_TOKEN_SCHEME } from '../openapi/contract.js';
import { QueryCheckedByHandler, refuseUnknownQuery } from '../http/query.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG } from '../tokens.js';
import { Metrics } from './metrics.js';
import { MetricsScrape } from './metrics-scrape.js';

// Digests, not the strings: timingSafeEqual needs equal lengths, and equal-length digests keep the compare constant-time.
const digest = (s: string) => createHash('sha256').update(s).digest();

@ApiTags('operations')
@Controller()
@Public() // METRICS_TOKEN below, not an API key
@QueryCheckedByHandler() // after METRICS_TOKEN: 401/403 before any 400
export class MetricsController {
  private readonly token?: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly scrape: MetricsScrape,
    private readonly metrics: Metrics,
    private readonly failedAuth: FailedAuthLimiter,
  ) {
    if (config.metricsToken) this.token = digest(config.metricsToken);
  }

  @Get('metrics')
  @ApiOperation({
    summary: 'Prometheus metrics of this instance (text format 0.0.4)',
    description: 'Open unless METRICS_TOKEN is set; then send Authorization: Bearer <METRICS_TOKEN> (missing: 401, wrong: 403).',
  })
  // Optional credentials: open ({}) unless METRICS_TOKEN is set, then its bearer token.
  @ApiSecurity({})
  @ApiSecurity(METRICS_TOKEN_SCHEME)
  @ApiAnswers(
    { status: 200, description: 'Prometheus text exposition format', type: 'text/plain', schema: { type: 'string' } },
    400,
    401, // METRICS_TOKEN is set and no bearer token was sent
    403, // the bearer token is not METRICS_TOKEN
    429,
  )
  async get(@Headers('authorization') authorization: string | undefined, @Ip() address: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (this.token) await this.authorise(authorization, address, this.token);
    refuseUnknownQuery(req.url, req.query);
    const text = await this.scrape.render();
    reply.status(200).header('content-type', this.metrics.contentType).send(text);
  }

  /**
   * Guesses at the token spend the same per-address budget as API keys and ADMIN_TOKEN (429 once it is gone). The
   * token is compared first (in memory, constant time): only failures touch the budget, so a flood of wrong tokens from
   * an address Prometheus shares (a NAT, a proxy) cannot lock the right token out.
   */
  private async authorise(authorization: string | undefined, address: string, token: Buffer): Promise<void> {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (given && timingSafeEqual(digest(given), token)) return;
    this.failedAuth.check(address);
    // No token: nothing guessed, so this instance's bucket only (no store call).
    if (!given) throw this.failedAuth.missing(address, new DomainError('UNAUTHENTICATED', 'Send Authorization: Bearer <METRICS_TOKEN>', 'unauthenticated'));
    throw await this.failedAuth.failed(address, new DomainError('FORBIDDEN', 'This is not the metrics token', 'forbidden'));
  }
}
