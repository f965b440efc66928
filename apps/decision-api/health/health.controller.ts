/** Liveness and readiness probes; no key needed. */
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { DomainError } from '../../../libs/errors/index.js';
import type { Database } from '../../../libs/persistence/index.js';
import { Public } from '../auth/roles.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { DATABASE } from '../tokens.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly releases: ReleaseRegistry,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz() {
    try {
      await this.db.ping();
    } catch (e) {
      throw new DomainError('NOT_READY', `database unreachable: ${(e as Error).message}`, 'unavailable');
    }
    if (!this.releases.ready) throw new DomainError('NOT_READY', 'release not loaded', 'unavailable');
    return { status: 'ready', store: this.db.kind, release: this.releases.builtinRelease.ref };
  }
}
