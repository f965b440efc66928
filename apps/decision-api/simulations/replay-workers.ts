/**
 * A big replay decided by worker threads: this thread reads the stored decisions (as JSON text) and hands them out in
 * batches; each worker compiled the candidate release from the same content and decides its batches exactly as
 * runSimulation would here. Batches are folded back in case order, so the tally, the kept results and where they are
 * truncated are those of a run in this thread; only the speed differs (one evaluation per core).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SimulationTally, type PortableRelease, type SimulationResult, type SimulationRun, type SimulationRunOptions } from '../../../libs/decisions/index.js';
import type { ReplayRow } from '../../../libs/persistence/index.js';
import type { ReplayBatch, ReplayWorkerData, ReplayWorkerMessage } from './replay-worker.js';

/** Stored decisions per batch: ~20 ms of work, so progress and a cancel are seen often and the workers stay even. */
const BATCH_ROWS = 250;
/** Batches handed to one worker ahead of its answers: it never waits for this thread between two. */
const AHEAD = 2;

/**
 * The worker's compiled file: next to this one in dist/; from the TypeScript sources (the tests), the build's copy.
 * Undefined when there is none (then replays run in the service's thread).
 */
export function replayWorkerFile(): string | undefined {
  const candidates = [new URL('./replay-worker.js', import.meta.url), new URL('../../../dist/apps/decision-api/simulations/replay-worker.js', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((f) => existsSync(f));
}

/**
 * Replays this big or bigger go to workers. Each worker spends ~0.5 CPU-s starting (loading the modules, compiling the
 * release) and more warming its JIT up: measured here, 20,000 cases in this thread cost about what starting two workers
 * adds, so a smaller replay stays in the service's thread.
 */
export const PARALLEL_REPLAY_MIN_CASES = 20_000;

/** Worker threads a replay uses by default: one per core, two at most (this thread and the database need some too). */
export function defaultReplayWorkers(): number {
  return Math.min(2, availableParallelism());
}

export interface ParallelReplay {
  rows: AsyncIterable<ReplayRow[]>;
  release: PortableRelease;
  /** The decision type's component name in that release. */
  type: string;
}

export interface WorkerRunOptions extends Pick<SimulationRunOptions, 'signal' | 'onSlice' | 'maxKept'> {
  file: string;
  workers: number;
  keep: 'all' | 'changed';
}

interface Pending {
  resolve(m: ReplayWorkerMessage): void;
  reject(e: Error): void;
}

class ReplayThread {
  readonly worker: Worker;
  private readonly waiting = new Map<number, Pending>();
  readonly ready: Promise<void>;
  inFlight = 0;
  private failure: Error | undefined;

  constructor(file: string, data: ReplayWorkerData) {
    this.worker = new Worker(file, { workerData: data, name: 'replay' });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: ReplayWorkerMessage) => {
        if ('ready' in m) resolve();
        else if ('failed' in m) reject(new Error(`replay worker could not compile the release: ${m.failed}`));
        else {
          const p = this.waiting.get(m.seq);
          this.waiting.delete(m.seq);
          this.inFlight--;
          p?.resolve(m);
        }
      });
      const fail = (e: Error) => {
        this.failure ??= e;
        reject(e);
        for (const p of this.waiting.values()) p.reject(e);
        this.waiting.clear();
      };
      this.worker.on('error', fail);
      // An answer that cannot be deserialized would otherwise leave its batch, and the run, waiting forever.
      this.worker.on('messageerror', fail);
      this.worker.on('exit', (code) => fail(new Error(`replay worker exited (code ${code})`)));
    });
    this.ready.catch(() => undefined);
  }

  send(batch: ReplayBatch): Promise<ReplayWorkerMessage> {
    if (this.failure) return Promise.reject(this.failure);
    this.inFlight++;
    const answer = new Promise<ReplayWorkerMessage>((resolve, reject) => this.waiting.set(batch.seq, { resolve, reject }));
    this.worker.postMessage(batch);
    return answer;
  }
}

/**
 * Decides `replay.rows` on worker threads. Stops between two batches when `signal` aborts (`aborted: true`, the cases
 * folded in so far counted); `onSlice` runs after each batch is folded in. A worker's failure fails the run.
 */
export async function runReplayInWorkers(replay: ParallelReplay, o: WorkerRunOptions): Promise<SimulationRun> {
  const maxKept = o.maxKept ?? Number.POSITIVE_INFINITY;
  const data: ReplayWorkerData = { release: replay.release, type: replay.type, keep: o.keep, maxKept: Number.isFinite(maxKept) ? maxKept : 2 ** 31 };
  const threads = Array.from({ length: Math.max(1, o.workers) }, () => new ReplayThread(o.file, data));
  const tally = new SimulationTally();
  const results: SimulationResult[] = [];
  let truncated = false;
  // Answers in the order the batches were handed out: folded in that order whatever order they arrive in.
  const answers: Promise<ReplayWorkerMessage>[] = [];
  let folded = 0;
  const foldNext = async (): Promise<void> => {
    const m = await answers[folded]!;
    answers[folded] = undefined as unknown as Promise<ReplayWorkerMessage>;
    folded++;
    if ('error' in m) throw new Error(`replay worker failed: ${m.error}`);
    if (!('summary' in m)) throw new Error('replay worker answered out of turn');
    tally.absorb(m.summary);
    for (const r of m.kept) {
      if (results.length < maxKept) results.push(r);
      else truncated = true;
    }
    await o.onSlice?.(tally);
  };
  let pages: AsyncIterator<ReplayRow[]> | undefined;
  try {
    // The first page is read while the workers start (each spends ~0.3 s loading modules and compiling the release).
    pages = replay.rows[Symbol.asyncIterator]();
    const first = pages.next();
    first.catch(() => undefined); // awaited below; a worker that fails to start first must not leave it unhandled
    await Promise.all(threads.map((t) => t.ready));
    let seq = 0;
    for (let next = await first; !next.done; next = await pages.next()) {
      const page = next.value;
      for (let i = 0; i < page.length; i += BATCH_ROWS) {
        // Fold in what has come back before handing out more than every worker can hold.
        while (answers.length - folded >= threads.length * AHEAD) await foldNext();
        if (o.signal?.aborted) return { tally, results, truncated, aborted: true };
        const thread = threads.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
        const answer = thread.send({ seq, rows: page.slice(i, i + BATCH_ROWS) });
        answer.catch(() => undefined); // awaited in turn by foldNext; a run that stops early must not leave it unhandled
        answers.push(answer);
        seq++;
      }
    }
    while (folded < answers.length) {
      if (o.signal?.aborted) return { tally, results, truncated, aborted: true };
      await foldNext();
    }
    return { tally, results, truncated, aborted: false };
  } finally {
    // As for-await would on an early return or a failure: the reader stops (its prefetched page is left to settle).
    try {
      void Promise.resolve(pages?.return?.(undefined)).catch(() => undefined);
    } finally {
      await Promise.all(threads.map((t) => t.worker.terminate()));
    }
  }
}
