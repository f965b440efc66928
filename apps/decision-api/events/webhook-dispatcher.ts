/**
 * The Nest face of the webhook dispatcher (see dispatch-loop.ts for what it does). On PostgreSQL it runs in a worker
 * thread of its own (webhook-worker.ts), so an endpoint's one-after-the-other round trips do not wait behind
 * decisions on the service's event loop; on PGlite (one connection, in this thread) or with WEBHOOK_WORKER=false it
 * runs here.
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

/** Pause before starting a worker again after it ended on its own. */
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
  private worker?: Worker;
  private stopped?: Promise<void>;
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
    this.spawn(file);
  }

  /** Starts the worker; one that dies (its database would not open, say) is started again after a pause. */
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
    };
    const worker = new Worker(file, { workerData: settings, name: 'webhook-dispatcher', resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: unknown) => {
        if (m === 'stopped') void worker.terminate().finally(resolve);
        else if (typeof m === 'object' && m !== null && 'warn' in m) this.logger.warn(String(m.warn));
        else if (typeof m === 'object' && m !== null && 'attempts' in m) {
          const [delivered, failed] = m.attempts as [number, number];
          this.metrics.webhookAttempts(delivered, failed);
        }
      });
      worker.once('exit', () => {
        resolve();
        if (this.closing) return;
        this.logger.warn(`webhook worker ended; starting another in ${RESPAWN_MS} ms`);
        setTimeout(() => {
          if (!this.closing) this.spawn(file);
        }, RESPAWN_MS).unref();
      });
    });
    worker.on('error', (e: Error) => this.logger.warn({ msg: 'webhook worker failed', err: e }));
    // A process that never closes the app must still be able to exit.
    worker.unref();
    this.worker = worker;
  }

  /** Looks for due deliveries now. */
  kick(): void {
    if (this.loop) this.loop.kick();
    else this.worker?.postMessage('kick');
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.loop?.close();
    if (this.worker) {
      this.worker.postMessage('stop');
      const timer = setTimeout(() => void this.worker?.terminate(), this.config.webhookTimeoutMs + 5_000);
      await this.stopped;
      clearTimeout(timer);
    }
  }
}
