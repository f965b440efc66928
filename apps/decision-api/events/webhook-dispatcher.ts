/**
 * Sends webhook deliveries: each endpoint's head (its lowest pending sequence) only, so events reach an endpoint in
 * order and a failing one holds back that endpoint alone; at most one attempt in flight per endpoint, up to
 * `webhookConcurrency` endpoints at once, none of it on a request's path. A claim is a lease (timeout plus a margin):
 * an instance that dies mid-attempt leaves the delivery to be retried (at least once).
 */
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { envelopeOf, retryDelayMs, serialiseEnvelope, signDelivery } from '../../../libs/events/index.js';
import { EventsRepository, type ClaimedDelivery, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';

/** Beyond the request timeout, how long a claim stays another instance's (the recording of the result). */
const LEASE_MARGIN_MS = 5_000;

@Injectable()
export class WebhookDispatcher implements OnModuleDestroy {
  private readonly logger = new Logger('WebhookDispatcher');
  private readonly inFlight = new Map<string, Promise<void>>();
  private pass?: Promise<void>;
  private again = false;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: EventsRepository,
    private readonly database: DatabaseAvailability,
  ) {}

  /** Looks for due deliveries now (coalesced: a kick during a pass runs one more pass after it). */
  kick(): void {
    if (this.closed) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.claim()
      .catch((e: unknown) => this.warn(`webhook dispatch failed: ${(e as Error).message}`, e))
      .finally(() => {
        this.pass = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.pass;
    // An attempt cut short here is retried after its lease by whichever instance runs next.
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async claim(): Promise<void> {
    const room = this.config.webhookConcurrency - this.inFlight.size;
    if (room <= 0) return;
    const now = this.clock.now();
    const claimed = await this.db.em().transactional((em) =>
      this.repo.claimDue(em, {
        now,
        leaseUntil: new Date(now.getTime() + this.config.webhookTimeoutMs + LEASE_MARGIN_MS),
        busy: [...this.inFlight.keys()],
        limit: room,
      }),
    );
    for (const c of claimed) {
      const attempt = this.send(c)
        .catch((e: unknown) => this.warn(`webhook result not recorded: ${(e as Error).message}`, e))
        .finally(() => {
          this.inFlight.delete(c.endpointId);
          // The endpoint's next event, if any, goes now rather than at the next poll.
          this.kick();
        });
      this.inFlight.set(c.endpointId, attempt);
    }
  }

  private async send(c: ClaimedDelivery): Promise<void> {
    const body = serialiseEnvelope(envelopeOf(c.event));
    let statusCode: number | null = null;
    let error: string | undefined;
    try {
      const res = await fetch(c.url, {
        method: 'POST',
        headers: { ...signDelivery(c.secret, c.event.id, this.clock.now(), body), 'content-type': 'application/json', 'user-agent': 'decision-platform-webhooks/1' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.webhookTimeoutMs),
      });
      statusCode = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      error = (e as Error).name === 'TimeoutError' ? `no answer within ${this.config.webhookTimeoutMs} ms` : cause ? `${(e as Error).message} (${cause})` : (e as Error).message;
    }
    const now = this.clock.now();
    await this.db.em().transactional(async (em) => {
      if (error === undefined) await this.repo.delivered(em, c.id, statusCode!, now);
      else {
        const delay = retryDelayMs(c.attempts, {
          baseMs: this.config.webhookRetryBaseMs,
          maxMs: this.config.webhookRetryMaxMs,
          jitter: this.config.webhookRetryJitterPercent / 100,
        });
        await this.repo.failed(em, c.id, { statusCode, error, retryAt: new Date(now.getTime() + delay) });
      }
    });
  }

  private warn(message: string, cause: unknown): void {
    if (!this.database.report(cause, false)) this.logger.warn(message);
  }
}
