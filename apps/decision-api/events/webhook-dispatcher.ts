/**
 * The Nest face of the webhook dispatcher (see dispatch-loop.ts for what it does). On PostgreSQL it runs in a worker
 * thread of its own (webhook-worker.ts), so an endpoint's one-after-the-other round trips do not wait behind
 * decisions on the service's event loop; on PGlite (one connection, in this thread) or with WEBHOOK_WORKER=false it
 * runs here.
 *
 * The worker runs only while there is something to send. While it is not running, every OUTBOX_POLL_MS and on each
 * kick (the outbox relay's, a redelivery's) the dispatcher asks PostgreSQL whether any endpoint's head is due
 * (EventsRepository.anyDue, one small read, at most one at a time) and starts it if so; it ends itself after
 * WEBHOOK_WORKER_IDLE_MS with nothing to send, or sooner when it never found anything (another instance's worker took
 * what was due: each instance's probe sees the same deliveries). A kick that reaches a worker already ending is not
 * lost: the next probe asks again. The probe has a timer of its own, so retries fall due even while the relay is
 * failing or draining a backlog.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EventsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import type { AppConfig } from '../config.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { DispatchLoop } from './dispatch-loop.js';
import type { WorkerSettings } from './webhook-worker.js';
import { Metrics } from '../metrics/metrics.js';

/**
 * The worker's compiled file: next to this one in dist/; from the TypeScript sources (the tests), the build's copy.
 * Undefined when there is none (then the dispatcher runs in this thread).
 */
function workerFile(): string | undefined {
  const candidates = [new URL('./webhook-worker.js', import.meta.url), new URL('../../../dist/apps/decision-api/events/webhook-worker.js', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((f) => existsSync(f));
}

/** Pause before starting a worker again after one died (not after one that ended idle). */
const RESPAWN_MS = 2_000;

/**
 * The worker's young generation, in MiB. Left to V8, a second isolate sizes it like the main thread's (tens of MiB of
 * RSS) although it allocates little (one delivery at a time per endpoint); a small one keeps the instance's memory down.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

@Injectable()
export class WebhookDispatcher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebhookDispatcher');
  private loop?: DispatchLoop;
  /** The worker's compiled file, when the dispatcher runs in a worker. */
  private file?: string;
  private worker?: Worker;
  private stopped?: Promise<void>;
  /** The due-work probe under way while no worker runs (one at a time). */
  private probing?: Promise<void>;
  /** No worker is started before this (ms since the epoch): a pause after one ended on its own, not idle. */
  private restartAfter = 0;
  /** When the last probe started (ms since the epoch): the timer and the relay's kicks share one probe per interval. */
  private probedAt = 0;
  private probeTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: EventsRepository,
    private readonly database: DatabaseAvailability,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const file = this.db.kind === 'postgresql' && this.config.webhookWorker ? workerFile() : undefined;
    if (!file) {
      this.loop = new DispatchLoop(
        this.db,
        this.repo,
        this.clock,
        this.config,
        (message, cause) => {
          if (!this.database.report(cause, false)) this.logger.warn(message);
        },
        (delivered, failed) => this.metrics.webhookAttempts(delivered, failed),
      );
      return;
    }
    this.file = file;
    this.metrics.webhookWorkerRunning(false);
    this.probeTimer = setInterval(() => {
      if (!this.worker) this.wake(file);
    }, this.config.outboxPollMs);
    this.probeTimer.unref();
  }

  /**
   * Starts the worker. One that ends idle is started again by the next kick that finds work; one that dies (its
   * database would not open, say) no sooner than RESPAWN_MS later.
   */
  private spawn(file: string): void {
    const c = this.config;
    const settings: WorkerSettings = {
      databaseUrl: c.databaseUrl,
      pollMs: c.outboxPollMs,
      timeouts: { acquireMs: c.dbAcquireTimeoutMs, statementMs: c.dbStatementTimeoutMs, idleInTransactionMs: c.dbIdleInTransactionTimeoutMs },
      preparedStatements: c.dbPreparedStatements,
      pipelineBegin: c.dbPipelineBegin,
      webhookTimeoutMs: c.webhookTimeoutMs,
      webhookRetryBaseMs: c.webhookRetryBaseMs,
      webhookRetryMaxMs: c.webhookRetryMaxMs,
      webhookRetryJitterPercent: c.webhookRetryJitterPercent,
      webhookConcurrency: c.webhookConcurrency,
      idleMs: c.webhookWorkerIdleMs,
    };
    const worker = new Worker(file, { workerData: settings, name: 'webhook-dispatcher', resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    let idle = false;
    this.stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: unknown) => {
        if (m === 'stopped' || m === 'idle') {
          idle = m === 'idle';
          void worker.terminate().finally(resolve);
        } else if (typeof m === 'object' && m !== null && 'warn' in m) this.logger.warn(String(m.warn));
        else if (typeof m === 'object' && m !== null && 'attempts' in m) {
          const [delivered, failed] = m.attempts as [number, number];
          this.metrics.webhookAttempts(delivered, failed);
        }
      });
      worker.once('exit', () => {
        resolve();
        if (this.worker === worker) this.worker = undefined;
        this.metrics.webhookWorkerRunning(false);
        if (this.closing || idle) return;
        this.logger.warn(`webhook worker ended; starting another when there is work, in ${RESPAWN_MS} ms at the soonest`);
        this.restartAfter = this.clock.now().getTime() + RESPAWN_MS;
      });
    });
    worker.on('error', (e: Error) => this.logger.warn(`webhook worker failed: ${e.stack ?? e.message}`));
    // A process that never closes the app must still be able to exit.
    worker.unref();
    this.worker = worker;
    this.metrics.webhookWorkerStarted();
  }

  /** No worker running: asks whether anything is due, and starts one if so. */
  private wake(file: string): void {
    const now = this.clock.now();
    const t = now.getTime();
    // A kick from a redelivery or the relay right after the timer's probe waits for the next one (≤ OUTBOX_POLL_MS / 2).
    if (this.probing || this.closing || t < this.restartAfter || t - this.probedAt < this.config.outboxPollMs / 2) return;
    this.probedAt = t;
    // One read: no transaction of its own.
    this.probing = this.repo
      .anyDue(this.db.em(), now)
      .then((due) => {
        if (due && !this.worker && !this.closing) this.spawn(file);
      })
      .catch((e: unknown) => {
        if (!this.database.report(e, false)) this.logger.warn({ msg: 'webhook dispatch failed', err: e });
      })
      .finally(() => {
        this.probing = undefined;
      });
  }

  /** Looks for due deliveries now. */
  kick(): void {
    if (this.loop) this.loop.kick();
    else if (this.worker) this.worker.postMessage('kick');
    else if (this.file) this.wake(this.file);
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    clearInterval(this.probeTimer);
    await this.loop?.close();
    await this.probing;
    const worker = this.worker;
    if (worker) {
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), this.config.webhookTimeoutMs + 5_000);
      await this.stopped;
      clearTimeout(timer);
    }
  }
}
