/** When a failed webhook delivery is tried again: exponential backoff with jitter, capped. */

export interface BackoffPolicy {
  /** Delay after the first failed attempt. */
  baseMs: number;
  /** No delay is longer than this (retries go on at this pace: delivery is at least once, in order). */
  maxMs: number;
  /** 0–1: the delay is drawn from [d·(1−jitter), d], so endpoints that failed together do not retry together. */
  jitter: number;
}

/** The delay after `failedAttempts` (≥ 1) failures; `random()` in [0, 1). */
export function retryDelayMs(failedAttempts: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 52);
  const full = Math.min(p.maxMs, p.baseMs * 2 ** exponent);
  return Math.round(full * (1 - p.jitter * random()));
}
