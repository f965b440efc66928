/**
 * Record time and record ids, injected so callers can be tested with fixed ones (OPA's `EvalTime` and
 * `decisionIDFactory`). Business time never comes from here: it is part of each request.
 */
import { uuidv7 } from './ids.js';

/** The wall clock that stamps records: createdAt, uploadedAt, activation and audit times. */
export interface Clock {
  now(): Date;
}

/** Mints record ids: UUIDv7 carrying `at`, so ids sort like the times they were minted at. */
export interface IdFactory {
  next(at: Date): string;
}

export const systemClock: Clock = { now: () => new Date() };

export const uuidv7Ids: IdFactory = { next: (at) => uuidv7(at.getTime()) };
