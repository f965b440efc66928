/**
 * PayoutWorker over strict fakes: what it asks the provider, what it records for each answer, that answers ready
 * together share one transaction, and that one refund whose recording fails holds back no other.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { payoutIdempotencyKey, type PaymentProvider, type ProviderResult, type RefundRequest } from '../../../libs/payments/index.js';
import type { Database, PayoutJob, PayoutsRepository } from '../../../libs/persistence/index.js';
import { loadConfig, type AppConfig } from '../config.js';
import type { DatabaseAvailability } from '../health/database-availability.js';
import type { LedgerService } from '../ledger/ledger.service.js';
import { strict } from '../test-support/strict.js';
import { PayoutWorker } from './payout.worker.js';
import { Metrics } from '../metrics/metrics.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const job = (refundId: string, attempt = 1, inDoubt = false): PayoutJob => ({ tenant: 't1', refundId, amount: 500, currency: 'EUR', reward: null, attempt, inDoubt });

interface Harness {
  worker: PayoutWorker;
  asked: RefundRequest[];
  recorded: { kind: string; refundId: string; tx: number; detail: unknown }[];
  transactions: () => number;
}

function harness(o: { jobs: PayoutJob[]; answer: (r: RefundRequest) => Promise<ProviderResult>; failRecording?: Set<string>; config?: Partial<AppConfig> }): Harness {
  const config = { ...loadConfig({}), payoutMaxAttempts: 3, payoutBackoffMs: 1000, payoutConcurrency: 8, payoutPollMs: 60_000, ...o.config };
  let txCount = 0;
  let pending = [...o.jobs];
  const recorded: Harness['recorded'] = [];
  const asked: RefundRequest[] = [];
  const db = strict<Database>('db', {
    kind: 'postgresql',
    em: () =>
      strict<SqlEntityManager>('em', {
        // Commits what fn recorded when it resolves; rolls it back when it throws, as a database transaction would.
        transactional: (async (fn: (em: SqlEntityManager) => Promise<unknown>) => {
          const tx = ++txCount;
          const staged: Harness['recorded'] = [];
          const result = await fn(strict<SqlEntityManager>('tx', { id: tx, staged } as never));
          recorded.push(...staged);
          return result;
        }) as never,
      }),
  });
  const record = (kind: string) => (em: SqlEntityManager, j: PayoutJob, detail: unknown) => {
    if (o.failRecording?.has(j.refundId)) throw new Error(`cannot record ${j.refundId}`);
    const tx = em as unknown as { id: number; staged: Harness['recorded'] };
    tx.staged.push({ kind, refundId: j.refundId, tx: tx.id, detail });
    return Promise.resolve(true);
  };
  const payouts = strict<PayoutsRepository>('payouts', {
    claimDue: (_em: SqlEntityManager, now: Date, limit: number) => {
      expect(now).toEqual(NOW);
      const taken = pending.slice(0, limit);
      pending = pending.slice(limit);
      return Promise.resolve(taken);
    },
    succeed: record('succeed'),
    reschedule: record('reschedule'),
    fail: record('fail'),
  });
  const provider = strict<PaymentProvider>('provider', {
    name: 'fake',
    refund: async (r) => {
      asked.push(r);
      return o.answer(r);
    },
  });
  const availability = strict<DatabaseAvailability>('availability', { report: () => undefined });
  const worker = new PayoutWorker(db, config, { now: () => NOW }, provider, payouts, strict<LedgerService>('ledger'), availability, new Metrics());
  return { worker, asked, recorded, transactions: () => txCount };
}

/** Runs one poll and waits for every attempt it started to be recorded. */
async function pollOnce(h: Harness): Promise<void> {
  const w = h.worker as unknown as { poll(): Promise<boolean>; inFlight: Set<Promise<void>> };
  await w.poll();
  await Promise.all([...w.inFlight]);
}

describe('PayoutWorker', () => {
  it('asks the provider with the refund id, amount, currency and the key of (tenant, refundId); records the success', async () => {
    const h = harness({ jobs: [job('rf-1')], answer: () => Promise.resolve({ status: 'succeeded', providerRef: 're_1' }) });
    await pollOnce(h);
    expect(h.asked).toEqual([{ refundId: 'rf-1', amount: 500, currency: 'EUR', idempotencyKey: payoutIdempotencyKey('t1', 'rf-1') }]);
    expect(h.recorded).toEqual([{ kind: 'succeed', refundId: 'rf-1', tx: expect.any(Number), detail: expect.objectContaining({ at: NOW, providerRef: 're_1', provider: 'fake' }) }]);
  });

  it('answers that are ready together are recorded in one transaction', async () => {
    const jobs = ['a', 'b', 'c', 'd'].map((id) => job(id));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({ jobs, answer: async (r) => (await gate, { status: 'succeeded', providerRef: `re_${r.refundId}` }), config: { dbPoolSize: 4 } });
    const w = h.worker as unknown as { poll(): Promise<boolean>; inFlight: Set<Promise<void>> };
    await w.poll();
    const claims = h.transactions();
    release();
    await Promise.all([...w.inFlight]);
    expect(h.recorded.map((r) => r.refundId).sort()).toEqual(['a', 'b', 'c', 'd']);
    // One lane (pool of 4 → 1): the first answer is recorded at once, the three that came meanwhile share the next commit.
    expect(h.transactions() - claims).toBe(2);
    expect(new Set(h.recorded.filter((r) => r.refundId !== 'a').map((r) => r.tx)).size).toBe(1);
  });

  it('a retryable failure is rescheduled after a jittered backoff; after the last attempt it is FAILED with the reason', async () => {
    const h = harness({ jobs: [job('early', 1), job('last', 3)], answer: () => Promise.resolve({ status: 'failed', reason: 'HTTP 503', retryable: true }) });
    await pollOnce(h);
    const early = h.recorded.find((r) => r.refundId === 'early')!;
    expect(early.kind).toBe('reschedule');
    const delay = (early.detail as { nextAttemptAt: Date }).nextAttemptAt.getTime() - NOW.getTime();
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1000);
    expect(h.recorded.find((r) => r.refundId === 'last')).toMatchObject({ kind: 'fail', detail: { at: NOW, reason: 'HTTP 503' } });
  });

  it('a retryable failure after the last attempt of a refund in doubt (an earlier call may have paid) is rescheduled, not failed', async () => {
    const h = harness({ jobs: [job('doubt', 3, true)], answer: () => Promise.resolve({ status: 'failed', reason: 'HTTP 503', retryable: true }) });
    await pollOnce(h);
    expect(h.recorded).toEqual([expect.objectContaining({ kind: 'reschedule', refundId: 'doubt', detail: expect.objectContaining({ definite: true }) })]);
  });

  it('a provider that throws is an unknown answer: rescheduled, never failed', async () => {
    const h = harness({ jobs: [job('boom', 3)], answer: () => Promise.reject(new Error('socket hang up')) });
    await pollOnce(h);
    expect(h.recorded).toEqual([expect.objectContaining({ kind: 'reschedule', refundId: 'boom', detail: expect.objectContaining({ error: expect.stringContaining('socket hang up') }) })]);
  });

  it('one refund that cannot be recorded holds back no other (its batch is recorded one by one)', async () => {
    const h = harness({
      jobs: ['ok-1', 'bad', 'ok-2'].map((id) => job(id)),
      answer: () => Promise.resolve({ status: 'succeeded', providerRef: 're' }),
      failRecording: new Set(['bad']),
      config: { dbPoolSize: 4 },
    });
    await pollOnce(h);
    expect(h.recorded.map((r) => r.refundId).sort()).toEqual(['ok-1', 'ok-2']);
  });
});
