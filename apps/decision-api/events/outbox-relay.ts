/**
 * The outbox relay: every OUTBOX_POLL_MS, numbers the events committed since (one instance at a time: a transaction-
 * scoped advisory lock per batch, so it works on PGlite's single connection too and a crashed holder releases it at
 * once) and hands them to the sinks — webhook deliveries written in the same transaction, and the NATS mark — then
 * wakes the dispatcher and the NATS publisher. The poll also drives retries that fell due. It polls rather than
 * LISTENs: a NOTIFY from every event's transaction would take PostgreSQL's global notify lock at each decision's
 * commit, a cost on the hot path for a wake-up the poll already gives within OUTBOX_POLL_MS.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EventsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { NatsPublisher } from './nats-publisher.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { PollLoop } from '../background/poll-loop.js';

@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('OutboxRelay');
  private readonly loop: PollLoop;
  private closed = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: EventsRepository,
    private readonly dispatcher: WebhookDispatcher,
    private readonly nats: NatsPublisher,
    database: DatabaseAvailability,
  ) {
    this.loop = new PollLoop({
      run: () => this.tick(),
      intervalMs: config.outboxPollMs,
      onError: (e) => {
        if (!database.report(e, false)) this.logger.warn({ msg: 'outbox relay failed', err: e });
      },
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.loop.stop();
  }

  /** Relays until the outbox is drained (or another instance holds the relay), then wakes the sinks. */
  async tick(): Promise<void> {
    for (;;) {
      const batch = await this.db
        .em()
        .transactional((em) => this.repo.relayBatch(em, { limit: this.config.outboxBatchSize, nats: this.nats.enabled, now: this.clock.now() }));
      if (batch === null || batch.length < this.config.outboxBatchSize || this.closed) break;
    }
    this.dispatcher.kick();
    this.nats.kick();
  }
}
