/**
 * Executes approved refunds (api-contract.md section 8): claims due refunds (one short transaction, committed before
 * any provider call), asks the provider with the refund's own idempotency key, and records the answer in a second
 * short transaction (shared by the answers that are ready together): SUCCEEDED with the ledger clawback, a retry
 * after a jittered backoff, or FAILED after the last attempt. No transaction is open while the provider is asked, so on PGlite (one connection) requests never wait for
 * a slow provider. A crash between the two transactions leaves the refund PROCESSING until its lease ends; then any
 * instance asks again with the same key, and the provider pays it once.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { nextStep, payoutIdempotencyKey, settled, type NextStep, type PaymentProvider } from '../../../libs/payments/index.js';
import { PayoutsRepository, type Clock, type Database, type PayoutJob } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { APP_CONFIG, CLOCK, DATABASE, PAYMENT_PROVIDER } from '../tokens.js';
import { PollLoop } from '../background/poll-loop.js';
import { Metrics } from '../metrics/metrics.js';

interface Outcome {
  job: PayoutJob;
  step: NextStep;
  resolve: () => void;
  reject: (e: unknown) => void;
}

@Injectable()
export class PayoutWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PayoutWorker');
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loop: PollLoop;
  /** The last poll filled every free slot: more refunds may be due. */
  private backlog = false;
  /** Provider answers waiting to be recorded, and how many recording transactions are running. */
  private readonly outcomes: Outcome[] = [];
  private recordings = 0;
  /**
   * Transactions the worker runs at once for claims, and again for recordings: a quarter of the pool, so requests keep
   * the rest. PGlite has one connection (its transactions take turns anyway): one.
   */
  private readonly lanes: number;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PAYMENT_PROVIDER) private readonly provider: PaymentProvider,
    private readonly payouts: PayoutsRepository,
    private readonly ledger: LedgerService,
    private readonly database: DatabaseAvailability,
    private readonly metrics: Metrics,
  ) {
    this.lanes = db.kind === 'pglite' ? 1 : Math.max(1, Math.floor(config.dbPoolSize / 4));
    this.loop = new PollLoop({
      // A full batch means more may be due: go on at once while slots are free (a freed slot wakes it too, see run).
      run: async () => (await this.poll()) && this.inFlight.size < this.config.payoutConcurrency,
      intervalMs: config.payoutPollMs,
      onError: (e) => {
        if (!this.database.report(e, false)) this.logger.warn({ msg: 'payout poll failed', err: e });
      },
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.payoutConcurrency > 0) this.loop.start(0);
  }

  /** Stops claiming, then lets the attempts in flight record their answers (each is bounded by the provider timeout). */
  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.loop.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Looks for due refunds now instead of at the next poll (after a refund became APPROVED or was retried by hand). */
  wake(): void {
    if (this.closed || this.config.payoutConcurrency === 0) return;
    this.loop.wake();
  }

  /**
   * Claims as many due refunds as there are free slots, in up to `lanes` transactions at once (SKIP LOCKED gives each
   * its own rows), and starts them; true when every slot was filled.
   */
  private async poll(): Promise<boolean> {
    const free = this.config.payoutConcurrency - this.inFlight.size;
    if (free <= 0) return false;
    const now = this.clock.now();
    const parts = Math.min(this.lanes, free);
    const sizes = Array.from({ length: parts }, (_, i) => Math.floor(free / parts) + (i < free % parts ? 1 : 0));
    const claimed = await Promise.all(sizes.map((n) => this.db.em().transactional((em) => this.payouts.claimDue(em, now, n, this.config.payoutLeaseMs))));
    const jobs = claimed.flat();
    this.backlog = jobs.length === free;
    for (const job of jobs) {
      const run: Promise<void> = this.execute(job)
        .catch((e: unknown) => {
          // The refund stays PROCESSING; its lease ends and it is asked again with the same key.
          if (!this.database.report(e, false)) this.logger.warn({ msg: `payout of refund ${job.refundId} not recorded`, err: e });
        })
        .finally(() => {
          this.inFlight.delete(run);
          // More may be due: claim again once half the slots are free (one claim for many, not one per finished refund).
          if (this.backlog && this.inFlight.size <= Math.floor(this.config.payoutConcurrency / 2)) this.wake();
        });
      this.inFlight.add(run);
    }
    return this.backlog;
  }

  /** One attempt: the provider's answer (never a rejection), then what it means, recorded with others that are ready. */
  private async execute(job: PayoutJob): Promise<void> {
    const result = await settled(
      this.provider.refund({ refundId: job.refundId, amount: job.amount, currency: job.currency, idempotencyKey: payoutIdempotencyKey(job.tenant, job.refundId) }),
    );
    const step = nextStep(result, job.attempt, { maxAttempts: this.config.payoutMaxAttempts, backoffMs: this.config.payoutBackoffMs }, Math.random, job.inDoubt);
    await new Promise<void>((resolve, reject) => {
      this.outcomes.push({ job, step, resolve, reject });
      this.flush();
    });
    // Counted once recorded (a recording that failed is retried by a later poll, and counted then).
    if (step.kind === 'retry') this.metrics.jobRetried('payout');
    else if (step.kind === 'fail') this.metrics.jobFailed('payout');
  }

  /**
   * Group commit: answers are recorded in up to `lanes` transactions at once, each taking a share of what is waiting
   * (one answer alone when the worker is quiet, many per commit when it is busy). If a transaction fails, its answers
   * are recorded one per transaction, so one refund that cannot be recorded holds back no other.
   */
  private flush(): void {
    while (this.recordings < this.lanes && this.outcomes.length > 0) {
      const batch = this.outcomes.splice(0, Math.ceil(this.outcomes.length / (this.lanes - this.recordings)));
      this.recordings++;
      void this.record(batch).finally(() => {
        this.recordings--;
        this.flush();
      });
    }
  }

  private async record(batch: Outcome[]): Promise<void> {
    try {
      await this.db.em().transactional(async (em) => {
        for (const o of batch) await this.apply(em, o.job, o.step);
      });
      for (const o of batch) o.resolve();
    } catch {
      for (const o of batch) {
        await this.db
          .em()
          .transactional((em) => this.apply(em, o.job, o.step))
          .then(o.resolve, o.reject);
      }
    }
  }

  private async apply(em: SqlEntityManager, job: PayoutJob, step: NextStep): Promise<void> {
    const at = this.clock.now();
    switch (step.kind) {
      case 'succeed':
        await this.payouts.succeed(em, job, {
          at,
          providerRef: step.providerRef,
          provider: this.provider.name,
          clawback: async (tx, refund) => ({
            ...(await this.ledger.clawback(tx, job.tenant, refund.reward, { refundId: refund.refundId, amount: refund.amount, currency: refund.currency, at: at.toISOString() })),
          }),
        });
        return;
      case 'retry':
        await this.payouts.reschedule(em, job, { nextAttemptAt: new Date(at.getTime() + step.delayMs), error: step.reason, definite: step.definite });
        return;
      case 'fail':
        await this.payouts.fail(em, job, { at, reason: step.reason });
        return;
    }
  }
}
