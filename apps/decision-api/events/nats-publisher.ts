/**
 * Publishes numbered events to JetStream when NATS_URL is set: subject `<prefix>.<tenant>.<type>`, header Nats-Msg-Id =
 * the event id, so the stream drops a republish (after a crash between the acknowledgement and our mark) within its
 * duplicate window. An event counts as published only once JetStream acknowledged it; until then it waits in the
 * outbox (nats_pending), whatever NATS is doing — decisions never wait for NATS. Each tenant's events go out one at a
 * time in sequence order, so the stream holds them in that order.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { JetStreamClient, NatsConnection } from 'nats';
import { envelopeOf, serialiseEnvelope, subjectOf } from '../../../libs/events/index.js';
import { EventsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';

/** Events read from the outbox per round trip. */
const BATCH = 200;
/** Before trying again to set up the stream (JetStream disabled, no permission…). */
const SETUP_RETRY_MS = 5_000;

@Injectable()
export class NatsPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('NatsPublisher');
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private pass?: Promise<void>;
  private again = false;
  private closed = false;
  private setupTimer?: NodeJS.Timeout;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: EventsRepository,
    private readonly database: DatabaseAvailability,
  ) {}

  get enabled(): boolean {
    return this.config.natsUrl !== undefined;
  }

  /** Connects in the background: a NATS that is down delays publication, never the service's start. */
  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    void this.setup();
  }

  private async setup(): Promise<void> {
    try {
      // Imported here, not at the top: the client is ~4 MB of RSS an instance without NATS_URL does not load.
      const { connect, nanos, StorageType } = await import('nats');
      // Keeps reconnecting for ever; publishes fail meanwhile and events wait in the outbox.
      this.nc ??= await connect({ servers: this.config.natsUrl, name: 'decision-api', reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: true });
      if (this.closed) return;
      const jsm = await this.nc.jetstreamManager();
      const name = this.config.natsStream;
      const exists = await jsm.streams.info(name).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await jsm.streams
          .add({ name, subjects: [`${this.config.natsSubjectPrefix}.>`], duplicate_window: nanos(this.config.natsDuplicateWindowMs), storage: StorageType.File })
          .catch(async (e: unknown) => {
            // Another instance created it meanwhile.
            if (!(await jsm.streams.info(name).then(() => true, () => false))) throw e;
          });
      }
      this.js = this.nc.jetstream();
      this.kick();
    } catch (e) {
      if (this.closed) return;
      this.logger.warn({ msg: `NATS setup failed; retrying in ${SETUP_RETRY_MS} ms`, err: e });
      this.setupTimer = setTimeout(() => void this.setup(), SETUP_RETRY_MS);
      this.setupTimer.unref();
    }
  }

  /** Publishes what is pending now (coalesced like the dispatcher's kick). */
  kick(): void {
    if (this.closed || !this.js) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.publishPending()
      .catch((e: unknown) => {
        if (!this.database.report(e, false)) this.logger.warn({ msg: 'NATS publish pass failed', err: e });
      })
      .finally(() => {
        this.pass = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async publishPending(): Promise<void> {
    const js = this.js!;
    for (;;) {
      const events = await this.repo.natsPending(this.db.em(), BATCH);
      const published: string[] = [];
      let stalled = false;
      for (const e of events) {
        if (this.closed) break;
        try {
          // A duplicate acknowledgement (already stored) counts as published too.
          await js.publish(subjectOf(this.config.natsSubjectPrefix, e.tenant, e.type), serialiseEnvelope(envelopeOf(e)), {
            msgID: e.id,
            timeout: this.config.natsAckTimeoutMs,
          });
          published.push(e.id);
        } catch (err) {
          // Stop here: a later event of this tenant must not overtake this one. The next poll tries again.
          this.logger.warn({ msg: 'NATS publish failed (events wait in the outbox)', err });
          stalled = true;
          break;
        }
      }
      await this.db.em().transactional((em) => this.repo.natsPublished(em, published, this.clock.now()));
      if (stalled || this.closed || events.length < BATCH) return;
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.setupTimer) clearTimeout(this.setupTimer);
    await this.pass;
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}
