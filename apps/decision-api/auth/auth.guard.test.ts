import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { systemClock, type ApiKeysRepository, type Database, type Principal } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { AuthGuard } from './auth.guard.js';
import { MemoryWindowStore } from '../../../libs/rate-limits/index.js';
import { ApiKeyRateLimit, FailedAuthLimiter } from './rate-limiter.js';
import { ApiKeyCache } from './key-cache.js';
import { Metrics } from '../metrics/metrics.js';

/** A guard over a key store whose lookups wait until released, so requests overlap as they do under a burst. */
function guardWithSlowStore(burst: number) {
  const pending: (() => void)[] = [];
  let lookups = 0;
  const repo = {
    findByKey: async (_em: unknown, key: string): Promise<Principal | undefined> => {
      lookups++;
      await new Promise<void>((r) => pending.push(r));
      return key === 'good' ? ({ keyId: 'k1', tenant: 'acme', roles: ['service'] } as unknown as Principal) : undefined;
    },
  } as unknown as ApiKeysRepository;
  const db = { em: () => ({}) } as unknown as Database;
  const config = { rateLimitPerKey: 1_000, rateLimitWindowS: 1, rateLimitLeasePercent: 10, apiKeyCacheMs: 2_000 } as AppConfig;
  const store = new MemoryWindowStore();
  const guard = new AuthGuard(
    new Reflector(),
    db,
    new ApiKeyRateLimit(config, store, new Metrics()),
    repo,
    new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: burst }, store, new Metrics()),
    new ApiKeyCache(config, systemClock),
    systemClock,
  );
  const ctx = (key: string) =>
    ({
      getHandler: () => () => undefined,
      getClass: () => class {},
      switchToHttp: () => ({ getRequest: () => ({ ip: '10.0.0.9', headers: { authorization: `Bearer ${key}` } }) }),
    }) as unknown as ExecutionContext;
  const release = async () => {
    while (pending.length > 0) {
      pending.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { guard, ctx, release, lookups: () => lookups };
}

const codeOf = (p: Promise<boolean>) => p.then(() => 'ok', (e: { code?: string }) => e.code);

describe('AuthGuard and the failed-credential budget', () => {
  it('wrong keys sent at once: no more lookups than the address has failures left, the rest 429 before any query', async () => {
    const g = guardWithSlowStore(5);
    const answers = Array.from({ length: 50 }, (_, i) => codeOf(g.guard.canActivate(g.ctx(`wrong-${i}`))));
    await new Promise((r) => setImmediate(r));
    await g.release();
    const codes = await Promise.all(answers);
    expect(g.lookups()).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(45);
  });

  it('a valid key sent many times at once is looked up once and never refused', async () => {
    const g = guardWithSlowStore(2);
    const answers = Array.from({ length: 30 }, () => codeOf(g.guard.canActivate(g.ctx('good'))));
    await new Promise((r) => setImmediate(r));
    await g.release();
    expect(new Set(await Promise.all(answers))).toEqual(new Set(['ok']));
    expect(g.lookups()).toBe(1);
    // and a valid key's lookup spent nothing: the address still has its whole budget for typos
    const typos = await Promise.all([codeOf(g.guard.canActivate(g.ctx('typo-1'))), codeOf(g.guard.canActivate(g.ctx('typo-2')))].map(async (p) => (await g.release(), p)));
    expect(typos).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED']);
  });
});
