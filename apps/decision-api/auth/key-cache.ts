/**
 * The keys this instance looked up a moment ago, so a request does not query the database for its key every time.
 * A revoked or rotated key must be refused on every instance within 5 s (api-contract.md §10): each revocation and
 * rotation is announced with NOTIFY, every instance LISTENs and drops the key at once (ApiKeySync), and an entry is
 * trusted for at most API_KEY_CACHE_MS (≤ 5 s) in case a notification is lost. A key's expiry (a rotation's overlap
 * end) is honoured to the millisecond whatever the cache holds.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Clock, Principal } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { APP_CONFIG, CLOCK } from '../tokens.js';

const MAX_ENTRIES = 10_000;

@Injectable()
export class ApiKeyCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();
  /** Bumped by every eviction: a lookup that started before one does not cache what it read (it may predate the change). */
  private epoch = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'apiKeyCacheMs'>,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  get(key: string): Principal | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= performance.now() || this.expired(hit.principal)) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.principal;
  }

  /** The epoch to hand back to `set`: taken before the lookup's query. */
  begin(): number {
    return this.epoch;
  }

  set(key: string, principal: Principal, since: number): void {
    if (this.config.apiKeyCacheMs <= 0 || since !== this.epoch) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { principal, until: performance.now() + this.config.apiKeyCacheMs });
  }

  /** Drops every cached key with this id (revoked, or given an expiry by a rotation). */
  evict(keyId: string): void {
    this.epoch += 1;
    for (const [key, hit] of this.entries) if (hit.principal.keyId === keyId) this.entries.delete(key);
  }

  /** After a lost LISTEN connection: anything may have been revoked meanwhile. */
  clear(): void {
    this.epoch += 1;
    this.entries.clear();
  }

  expired(p: Principal): boolean {
    return p.expiresAt != null && p.expiresAt.getTime() <= this.clock.now().getTime();
  }
}
