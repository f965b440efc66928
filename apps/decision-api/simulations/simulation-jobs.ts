/**
 * Background simulation jobs of this instance: runs them in time slices, writes progress and a heartbeat to the job
 * row, stops on cancel (local or from another instance), and marks jobs whose worker is gone as failed.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { runSimulation, SimulationTally, type SimulationItem, type SimulationRunOptions } from '../../../libs/decisions/index.js';
import { SimulationsRepository, type Clock, type Database } from '../../../libs/persistence/index.js';
import { CLOCK, DATABASE } from '../tokens.js';
import { defaultReplayWorkers, replayWorkerFile, runReplayInWorkers, type ParallelReplay } from './replay-workers.js';

/** Progress (and the heartbeat with it) is written at most this often. */
export const PROGRESS_EVERY_MS = 250;
/** A running job without a heartbeat for this long has lost its worker (restart, crash). */
export const STALE_AFTER_MS = 15_000;
/** Results a background run keeps: the first changed ones, in case order. */
export const BACKGROUND_RESULTS_KEPT = 1_000;

export const INTERRUPTED = {
  code: 'SIMULATION_INTERRUPTED',
  message: 'The instance running this simulation stopped before it finished; start it again',
};

type StopReason = 'cancelled' | 'shutdown';

export interface JobSpec {
  id: string;
  pages: AsyncIterable<SimulationItem[]> | Iterable<SimulationItem[]>;
  candidate: SimulationRunOptions['candidate'];
  baseline?: SimulationRunOptions['baseline'];
  prepare?: SimulationRunOptions['prepare'];
  features?: SimulationRunOptions['features'];
  /** The same replay as stored rows and the candidate's content: decided on worker threads when this instance uses them. */
  parallel?: ParallelReplay;
}

@Injectable()
export class SimulationJobs implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SimulationJobs');
  private readonly running = new Map<string, { controller: AbortController; finished: Promise<void> }>();
  /** Worker threads a replay is decided on (0: in this thread, time-sliced). */
  replayWorkers = defaultReplayWorkers() >= 2 ? defaultReplayWorkers() : 0;
  private workersBusy = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: SimulationsRepository,
  ) {}

  /** Jobs left running by a stopped instance are failed on start (those whose heartbeat is already stale). */
  async onApplicationBootstrap(): Promise<void> {
    const failed = await this.failStale();
    if (failed.length) this.logger.warn(`marked ${failed.length} interrupted simulation(s) as failed: ${failed.join(', ')}`);
  }

  /** Shutting down: stop every job between two cases and record it as interrupted, before the database closes. */
  async onModuleDestroy(): Promise<void> {
    for (const job of this.running.values()) job.controller.abort('shutdown' satisfies StopReason);
    await Promise.all([...this.running.values()].map((j) => j.finished));
  }

  isRunningHere(id: string): boolean {
    return this.running.has(id);
  }

  /** Settles when the job running here has written its final state (at once if it is not running here). */
  async finished(id: string): Promise<void> {
    await this.running.get(id)?.finished;
  }

  /** Marks stale running jobs (all tenants, or one) as failed; answers their ids. */
  failStale(tenant?: string): Promise<string[]> {
    const now = this.clock.now();
    return this.repo.failStale(this.db.em(), new Date(now.getTime() - STALE_AFTER_MS), INTERRUPTED, now, tenant);
  }

  /** Stops a job running on this instance at its next slice (the row is already marked cancelled). */
  cancel(id: string): void {
    this.running.get(id)?.controller.abort('cancelled' satisfies StopReason);
  }

  /** Starts a job whose row (status running) is committed. Never throws: failures end up on the job row. */
  start(spec: JobSpec): void {
    const controller = new AbortController();
    const finished = this.execute(spec, controller).finally(() => this.running.delete(spec.id));
    this.running.set(spec.id, { controller, finished });
  }

  private async execute(spec: JobSpec, controller: AbortController): Promise<void> {
    const { id } = spec;
    let lastWrite = performance.now();
    let tally: SimulationTally | undefined;
    try {
      const onSlice = async (t: SimulationTally) => {
        tally = t;
        if (performance.now() - lastWrite < PROGRESS_EVERY_MS) return;
        lastWrite = performance.now();
        const stillRunning = await this.repo.progress(this.db.em(), id, { done: t.done, summary: t.summary(), now: this.clock.now() });
        if (!stillRunning) controller.abort('cancelled' satisfies StopReason);
      };
      // One replay on workers per process at a time (the rest run in this thread, time-sliced): every worker is an
      // isolate of its own (~40 MB) and a core taken from the decisions this instance answers.
      const file = spec.parallel && this.replayWorkers > 0 && !this.workersBusy ? replayWorkerFile() : undefined;
      if (file) this.workersBusy = true;
      const run =
        spec.parallel && file
          ? await runReplayInWorkers(spec.parallel, { file, workers: this.replayWorkers, keep: 'changed', maxKept: BACKGROUND_RESULTS_KEPT, signal: controller.signal, onSlice }).finally(() => {
              this.workersBusy = false;
            })
          : await runSimulation(spec.pages, {
              candidate: spec.candidate,
              ...(spec.baseline ? { baseline: spec.baseline } : {}),
              ...(spec.prepare && { prepare: spec.prepare }),
              ...(spec.features && { features: spec.features }),
              keep: (r) => r.changed,
              maxKept: BACKGROUND_RESULTS_KEPT,
              signal: controller.signal,
              onSlice,
            });
      const outcome = { done: run.tally.done, summary: run.tally.summary(), results: run.results, resultsTruncated: run.truncated, now: this.clock.now() };
      if (run.aborted && controller.signal.reason === 'shutdown') {
        await this.repo.finish(this.db.em(), id, { ...outcome, status: 'failed', error: INTERRUPTED });
        return;
      }
      // Completed, unless it was cancelled meanwhile: then record how far it got on the cancelled row.
      const completed = !run.aborted && (await this.repo.finish(this.db.em(), id, { ...outcome, status: 'completed', error: null }));
      if (!completed) await this.repo.finish(this.db.em(), id, { ...outcome, status: 'cancelled', error: null });
    } catch (e) {
      this.logger.error(`simulation ${id} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      const summary = (tally ?? new SimulationTally()).summary();
      try {
        await this.repo.finish(this.db.em(), id, {
          status: 'failed',
          done: tally?.done ?? 0,
          summary,
          results: [],
          resultsTruncated: false,
          error: { code: 'SIMULATION_FAILED', message: 'The simulation stopped on an unexpected error; it is logged on the server' },
          now: this.clock.now(),
        });
      } catch (inner) {
        this.logger.error(`simulation ${id}: could not record the failure: ${String(inner)}`);
      }
    }
  }
}
