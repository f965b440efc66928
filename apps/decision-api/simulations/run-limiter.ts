/** Bounds how many runs of one kind share this process's event loop at once; the rest wait their turn or are refused. */
import { DomainError } from '../../../libs/errors/index.js';

/**
 * At most `running` runs at once, `waiting` more queued in arrival order; beyond that a run is refused at once with
 * `refusal()`. Each run yields to the event loop between slices, so what other requests wait for grows with the number
 * of runs in progress: this keeps it bounded however many arrive.
 */
export class RunLimiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly running: number,
    private readonly waiting: number,
    private readonly refusal: () => DomainError,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.running) this.active++;
    else if (this.queue.length < this.waiting) await new Promise<void>((resolve) => this.queue.push(resolve));
    else throw this.refusal();
    try {
      return await fn();
    } finally {
      // A finished run hands its place to the next in line; only when nobody waits does a place free up.
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
