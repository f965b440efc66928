/**
 * Request hashes stored before they were keyed (bare sha256 of the request: guessable from a small body such as an
 * erasure's raw customer id) are re-keyed once, in the background after start: each becomes the tenant's HMAC of the
 * old digest (idempotent-command.ts, rekeyedHash), which a retry of that request still matches. Pages in key order; a
 * row another instance re-keyed meanwhile is left as it found it.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { IdempotencyRepository, type Database } from '../../../libs/persistence/index.js';
import { Pseudonyms } from '../decisions/pseudonyms.js';
import { DATABASE } from '../tokens.js';
import { rekeyedHash } from './idempotent-command.js';

const PAGE = 500;

@Injectable()
export class LegacyRequestHashes implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LegacyRequestHashes.name);
  private closed = false;
  private running: Promise<number> | undefined;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly repo: IdempotencyRepository,
    private readonly pseudonyms: Pseudonyms,
  ) {}

  onApplicationBootstrap(): void {
    // Never in the way of the start: a failure is logged, and the next start tries again.
    void this.run().catch((e: unknown) => this.logger.error({ msg: 'request hashes could not be re-keyed (the next start tries again)', err: e }));
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
  }

  /** Re-keys every legacy hash; answers how many it changed. */
  run(): Promise<number> {
    this.running ??= this.rekeyAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async rekeyAll(): Promise<number> {
    let after: { tenant: string; key: string } | undefined;
    let changed = 0;
    while (!this.closed) {
      const rows = await this.repo.legacyHashes(this.db.em(), after, PAGE);
      for (const r of rows) {
        if (this.closed) break;
        await this.repo.replaceHash(this.db.em(), r.tenant, r.key, r.requestHash, rekeyedHash(r.requestHash, this.pseudonyms.requestKey(r.tenant)));
        changed++;
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1];
    }
    if (changed > 0) this.logger.log(`${changed} request hash(es) stored before keyed hashes re-keyed`);
    return changed;
  }
}
