/**
 * The tenants' pseudonymizers (libs/decisions/types/personal-data.ts): one HMAC key per tenant, derived from the
 * configured master secret (PSEUDONYM_SECRET) or, when none is configured, from one generated into the database.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { pseudonymizer, tenantKey, type Pseudonymizer } from '../../../libs/decisions/index.js';
import { FeatureHistoryRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';

@Injectable()
export class Pseudonyms implements OnModuleInit {
  private readonly log = new Logger(Pseudonyms.name);
  private master: Buffer | undefined;
  private readonly byTenant = new Map<string, Pseudonymizer>();
  private readonly requestKeys = new Map<string, KeyObject>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly history: FeatureHistoryRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.pseudonymSecret) {
      this.master = Buffer.from(this.config.pseudonymSecret, 'utf8');
      return;
    }
    this.master = await this.history.storedSecret(this.db.em(), this.clock.now());
    this.log.warn('PSEUDONYM_SECRET is not set: personal fields are hashed with a key kept in the database; set it in production');
  }

  /**
   * The tenant's key for the hash stored with an Idempotency-Key (http/idempotent-command.ts): from the same master
   * secret as its pseudonyms, under another label, so neither key says anything about the other.
   */
  requestKey(tenant: string): KeyObject {
    let k = this.requestKeys.get(tenant);
    if (!k) {
      if (!this.master) throw new Error('Pseudonyms used before the module initialised');
      k = createSecretKey(createHmac('sha256', this.master).update(`requests:${tenant}`, 'utf8').digest());
      this.requestKeys.set(tenant, k);
    }
    return k;
  }

  /** The tenant's keyed hash: pii_<base64url HMAC-SHA256>. */
  forTenant(tenant: string): Pseudonymizer {
    let p = this.byTenant.get(tenant);
    if (!p) {
      if (!this.master) throw new Error('Pseudonyms used before the module initialised');
      p = pseudonymizer(tenantKey(this.master, tenant));
      this.byTenant.set(tenant, p);
    }
    return p;
  }
}

/**
 * The keys a subject's raw id may be stored under in the history: the tenant's pseudonym (types marking the field
 * x-pii) and the raw value itself (types that do not).
 */
export function subjectKeys(hash: Pseudonymizer, raw: string): string[] {
  return [hash(raw), raw];
}
