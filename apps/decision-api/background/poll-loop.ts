/**
 * A background task run every `intervalMs` (release catch-up, the outbox relay, the overdue sweeper, the payout
 * worker): one run at a time, never overlapping; `wake()` asks for a run now (or right after the one under way); a
 * failure goes to `onError` and the next run retries; `stop()` cancels the next run and waits for the current one.
 * Its timer does not keep the process alive.
 */
export interface PollLoopOptions {
  /** One run. `true`: there is more to do now (a full batch), run again at once instead of after the interval. */
  run: () => Promise<boolean | void>;
  intervalMs: number;
  onError: (e: unknown) => void;
}

export class PollLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly o: PollLoopOptions) {}

  /** The first run after `delayMs` (0: at once). */
  start(delayMs = this.o.intervalMs): void {
    this.schedule(delayMs);
  }

  /** A run now; when one is under way, another right after it. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.o
        .run()
        .then((more) => more === true, (e: unknown) => {
          this.o.onError(e);
          return false;
        })
        .then((more) => {
          this.running = undefined;
          const now = more || this.again;
          this.again = false;
          this.schedule(now ? 0 : this.o.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }
}
