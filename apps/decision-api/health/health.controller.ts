/** Liveness and readiness probes; no key needed. */
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../../../libs/errors/index.js';
import type { Database } from '../../../libs/persistence/index.js';
import { Public } from '../auth/roles.js';
import type { AppConfig } from '../config.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { APP_CONFIG, DATABASE } from '../tokens.js';
import { ApiAnswers, ref } from '../openapi/contract.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly releases: ReleaseRegistry,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiAnswers({ status: 200, description: 'Alive', schema: ref('Health') }, 400)
  healthz() {
    return { status: 'ok' };
  }

  /** Answers within DB_PROBE_TIMEOUT_MS whatever the database does: the check has its own connection and deadline. */
  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: the database answers and the release is loaded' })
  @ApiAnswers({ status: 200, description: 'Ready', schema: ref('Ready') }, 400, 503)
  async readyz() {
    try {
      await this.db.check(this.config.dbProbeTimeoutMs);
    } catch (e) {
      throw new DomainError('NOT_READY', `database unreachable: ${(e as Error).message}`, 'unavailable', [], { retryAfter: this.config.dbRetryAfterS });
    }
    if (!this.releases.ready) throw new DomainError('NOT_READY', 'release not loaded', 'unavailable');
    return { status: 'ready', store: this.db.kind, release: this.releases.builtinRelease.ref, tenants: this.tenantReleases() };
  }

  /**
   * The releases tenants decide on, as a bounded summary: this route needs no key, so it names no tenant and no
   * tenant's release (GET /metrics has them per tenant: decision_platform_active_release_info). `activated`: tenants
   * deciding on a release they activated; `builtin`: tenants on the built-in one (rolled back to it, or only a shadow
   * started); `unavailable`: tenants whose activated release this instance cannot load (their decisions are refused
   * 503 RELEASE_UNAVAILABLE). Tenants that never activated or shadowed a release are in none of them.
   */
  private tenantReleases(): { activated: number; builtin: number; unavailable: number } {
    const builtin = this.releases.builtinRelease;
    const counts = { activated: 0, builtin: 0, unavailable: 0 };
    for (const t of this.releases.tenantReleases()) {
      if (!t.release) counts.unavailable++;
      else if (t.release.id === builtin.id) counts.builtin++;
      else counts.activated++;
    }
    return counts;
  }
}
