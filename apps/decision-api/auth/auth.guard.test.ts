import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { systemClock, type ApiKeysRepository, type Database, type Principal } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { AuthGuard } from './auth.guard.js';
import { MemoryWindowStore, type WindowStore } from '../../../libs/rate-limits/index.js';
import { ApiKeyRateLimit, FailedAuthLimiter } from './rate-limiter.js';
import { ApiKeyCache } from './key-cache.js';
import { Metrics } from '../metrics/metrics.js';

/** A guard over a key store whose lookups wait until released, so requests overlap as they do under a burst. */
function guardWithSlowStore(burst: number, shared: { store?: WindowStore; pending?: (() => void)[]; lookups?: { n: number } } = {}) {
  const pending: (() => void)[] = shared.pending ?? [];
  const counter = shared.lookups ?? { n: 0 };
  const repo = {
    findByKey: async (_em: unknown, key: string): Promise<Principal | undefined> => {
      counter.n++;
      await new Promise<void>((r) => pending.push(r));
      return key === 'good' ? ({ keyId: 'k1', tenant: 'acme', roles: ['service'] } as unknown as Principal) : undefined;
    },
  } as unknown as ApiKeysRepository;
  const db = { em: () => ({}) } as unknown as Database;
  const config = { rateLimitPerKey: 1_000, rateLimitWindowS: 1, rateLimitLeasePercent: 10, apiKeyCacheMs: 2_000 } as AppConfig;
  const store = shared.store ?? new MemoryWindowStore();
  const guard = new AuthGuard(
    new Reflector(),
    db,
    new ApiKeyRateLimit(config, store, new Metrics()),
    repo,
    new FailedAuthLimiter({ authFailuresPerMinute: 1, authFailureBurst: burst }, store, new Metrics()),
    new ApiKeyCache(config, systemClock),
    systemClock,
  );
  const ctx = (key: string | undefined) =>
    ({
      getHandler: () => () => undefined,
      getClass: () => class {},
      switchToHttp: () => ({ getRequest: () => ({ ip: '10.0.0.9', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } }) }),
    }) as unknown as ExecutionContext;
  const release = async () => {
    // A lookup starts after its reservation (a store call, a few promise turns away).
    await new Promise((r) => setImmediate(r));
    while (pending.length > 0) {
      pending.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { guard, ctx, release, lookups: () => counter.n };
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

  it('wrong keys sent at once to two instances: no more lookups in all than the address has failures (the shared window is charged first)', async () => {
    const store = new MemoryWindowStore();
    const pending: (() => void)[] = [];
    const lookups = { n: 0 };
    const a = guardWithSlowStore(5, { store, pending, lookups });
    const b = guardWithSlowStore(5, { store, pending, lookups });
    const answers = Array.from({ length: 40 }, (_, i) => codeOf((i % 2 ? a : b).guard.canActivate(a.ctx(`wrong-${i}`))));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    await a.release();
    const codes = await Promise.all(answers);
    expect(lookups.n).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(35);
  });

  it('requests without any credential are counted on the instance only: no store call, 429 once its bucket is empty', async () => {
    let leases = 0;
    const memory = new MemoryWindowStore();
    const counting: WindowStore = { lease: (k, want, limit) => (leases++, memory.lease(k, want, limit)) };
    const g = guardWithSlowStore(3, { store: counting });
    const codes: unknown[] = [];
    for (let i = 0; i < 5; i++) codes.push(await codeOf(g.guard.canActivate(g.ctx(undefined))));
    expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(leases).toBe(0);
    expect(g.lookups()).toBe(0);
  });
});
