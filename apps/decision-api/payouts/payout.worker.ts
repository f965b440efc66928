/**
 * Executes approved refunds (api-contract.md section 8): claims due refunds (one short transaction, committed before
 * any provider call), asks the provider with the refund's own idempotency key, and records the answer in a second
 * short transaction: SUCCEEDED with the ledger clawback, a retry after a jittered backoff, or FAILED after the last
 * attempt. No transaction is open while the provider is asked, so on PGlite (one connection) requests never wait for
 * a slow provider. A crash between the two transactions leaves the refund PROCESSING until its lease ends; then any
 * instance asks again with the same key, and the provider pays it once.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { nextStep, payoutIdempotencyKey, settled, type PaymentProvider } from '../../../libs/payments/index.js';
import { PayoutsRepository, type Clock, type Database, type PayoutJob } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { APP_CONFIG, CLOCK, DATABASE, PAYMENT_PROVIDER } from '../tokens.js';

@Injectable()
export class PayoutWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PayoutWorker');
  private readonly inFlight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  /** A wake-up arrived while a poll was running: poll again right after it. */
  private again = false;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PAYMENT_PROVIDER) private readonly provider: PaymentProvider,
    private readonly payouts: PayoutsRepository,
    private readonly ledger: LedgerService,
    private readonly database: DatabaseAvailability,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.payoutConcurrency > 0) this.schedule(0);
  }

  /** Stops claiming, then lets the attempts in flight record their answers (each is bounded by the provider timeout). */
  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Looks for due refunds now instead of at the next poll (after a refund became APPROVED or was retried by hand). */
  wake(): void {
    if (this.closed || this.config.payoutConcurrency === 0) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .then((full) => full)
        .catch((e: unknown) => {
          if (!this.database.report(e, false)) this.logger.warn(`payout poll failed: ${(e as Error).message}`);
          return false;
        })
        .then((full) => {
          this.polling = undefined;
          const now = this.again || full;
          this.again = false;
          // A full batch means more may be due: go on as soon as a slot frees (see run) or at once.
          this.schedule(now && this.inFlight.size < this.config.payoutConcurrency ? 0 : this.config.payoutPollMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** Claims as many due refunds as there are free slots and starts them; true when every slot was filled. */
  private async poll(): Promise<boolean> {
    const free = this.config.payoutConcurrency - this.inFlight.size;
    if (free <= 0) return false;
    const jobs = await this.db.em().transactional((em) => this.payouts.claimDue(em, this.clock.now(), free, this.config.payoutLeaseMs));
    for (const job of jobs) {
      const run: Promise<void> = this.execute(job)
        .catch((e: unknown) => {
          // The refund stays PROCESSING; its lease ends and it is asked again with the same key.
          if (!this.database.report(e, false)) this.logger.warn(`payout of refund ${job.refundId} not recorded: ${(e as Error).message}`);
        })
        .finally(() => {
          this.inFlight.delete(run);
          if (jobs.length === free) this.wake();
        });
      this.inFlight.add(run);
    }
    return jobs.length === free;
  }

  /** One attempt: the provider's answer (never a rejection), then what it means, recorded in one transaction. */
  private async execute(job: PayoutJob): Promise<void> {
    const result = await settled(
      this.provider.refund({ refundId: job.refundId, amount: job.amount, currency: job.currency, idempotencyKey: payoutIdempotencyKey(job.tenant, job.refundId) }),
    );
    const step = nextStep(result, job.attempt, { maxAttempts: this.config.payoutMaxAttempts, backoffMs: this.config.payoutBackoffMs });
    const at = this.clock.now();
    await this.db.em().transactional(async (em) => {
      switch (step.kind) {
        case 'succeed':
          await this.payouts.succeed(em, job, {
            at,
            providerRef: step.providerRef,
            provider: this.provider.name,
            clawback: async (tx, refund) => ({
              ...(await this.ledger.clawback(tx, job.tenant, refund.reward, { refundId: refund.refundId, amount: refund.approvedAmount, currency: refund.currency, at: at.toISOString() })),
            }),
          });
          return;
        case 'retry':
          await this.payouts.reschedule(em, job, { nextAttemptAt: new Date(at.getTime() + step.delayMs), error: step.reason });
          return;
        case 'fail':
          await this.payouts.fail(em, job, { at, reason: step.reason });
          return;
      }
    });
  }
}
