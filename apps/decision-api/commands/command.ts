/**
 * What a state-changing service call returns: a Command, i.e. the effect to apply (inside the transaction that holds
 * the Idempotency-Key claim) and what happened, in domain words. Services never choose status codes, never see the
 * idempotency record and never serialise an answer: the idempotent-command mechanism (http/idempotent-command.ts) is
 * the one place that does, for every such route.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { DomainError } from '../../../libs/errors/index.js';
import type { IdempotencyClaim } from '../../../libs/persistence/index.js';

/**
 * What a command did. `created`: a new object exists; `unchanged`: the object already existed exactly so, or a state
 * change that was already in place (the same content sent again); `done`: a state change on an existing object;
 * `accepted`: work started that finishes later; `refused`: a business refusal that is committed with whatever the
 * command wrote before deciding to refuse (a refused redemption keeps its decision row). A refusal that must leave
 * nothing behind is thrown as a DomainError instead: the effect is rolled back and the refusal stored all the same.
 */
export type Outcome<T = unknown> =
  | {
      readonly result: 'created' | 'unchanged' | 'done' | 'accepted';
      readonly value: T;
      readonly json?: string;
      /**
       * Fields shown to this request only (an issued API key): sent after `value`'s, never stored with the answer, so
       * a replay answers `value` alone. Transactional commands only.
       */
      readonly secret?: Record<string, unknown>;
    }
  | { readonly result: 'refused'; readonly error: DomainError };

export const created = <T>(value: T): Outcome<T> => ({ result: 'created', value });
export const unchanged = <T>(value: T): Outcome<T> => ({ result: 'unchanged', value });
export const done = <T>(value: T): Outcome<T> => ({ result: 'done', value });
export const accepted = <T>(value: T): Outcome<T> => ({ result: 'accepted', value });
export const refused = (error: DomainError): Outcome<never> => ({ result: 'refused', error });
/** Created, with fields that must exist in clear only in this one response (see Outcome.secret). */
export const createdWithSecret = <T>(value: T, secret: Record<string, unknown>): Outcome<T> => ({ result: 'created', value, secret });
/** A value already serialised once (a decision document, stored and answered as the same text). */
export const createdJson = <T>(value: T, json: string): Outcome<T> => ({ result: 'created', value, json });

/** What the effect of a command gets: the transaction holding the claim, the record time and the key of this request. */
export interface CommandContext {
  readonly em: SqlEntityManager;
  readonly now: Date;
  /** The Idempotency-Key, for rows that record which request made them. */
  readonly key: string;
}

/** The claim a command writes in its own statement (the decision hot path): key, request hash, path, and the row's time. */
export interface StatementContext {
  readonly claim: IdempotencyClaim;
  readonly now: Date;
}

/** After commit, for the request that performed the effect only (a replay does nothing): e.g. start a job, refresh a cache. */
type AfterCommit<T> = (outcome: Outcome<T>) => void | Promise<void>;

/** The usual command: the mechanism claims the key, runs `apply` in a savepoint of the same transaction, stores the answer. */
export interface TransactionalCommand<T = unknown> {
  readonly kind: 'transactional';
  apply(ctx: CommandContext): Promise<Outcome<T>>;
  afterCommit?(outcome: Outcome<T>): void | Promise<void>;
  /**
   * The effect throws every refusal before its first write (the ledger: it stages its writes and flushes them last), so
   * there is nothing to roll back and the mechanism runs it without a savepoint (two round trips fewer).
   */
  readonly refusesBeforeWriting?: boolean;
  /**
   * The row the effect locks (e.g. `ledger-account:<id>`), when the route names it. Commands of one tenant with the same
   * queueKey run one at a time in this process, waiting in memory for their turn instead of on a pooled connection for
   * the row's lock (libs/persistence/keyed-queue.ts).
   */
  readonly queueKey?: string;
}

/**
 * The fast path: the command claims the key and writes its row in ONE statement (a claim the mechanism never made).
 * `taken`: another request holds the key; the mechanism replays its answer. The answer must be `createdJson`: it is
 * the stored row's text.
 */
export interface StatementCommand<T = unknown> {
  readonly kind: 'statement';
  applyClaimed(ctx: StatementContext): Promise<Outcome<T> | 'taken'>;
  afterCommit?(outcome: Outcome<T>): void | Promise<void>;
}

export type Command<T = unknown> = TransactionalCommand<T> | StatementCommand<T>;

export const transactional = <T>(
  apply: (ctx: CommandContext) => Promise<Outcome<T>>,
  o: { afterCommit?: AfterCommit<T>; refusesBeforeWriting?: boolean; queueKey?: string } = {},
): TransactionalCommand<T> => ({ kind: 'transactional', apply, ...o });

/** A command that is refused whatever happens; the refusal is stored and replayed like any answer. */
export const refusal = (error: DomainError): TransactionalCommand<never> => transactional(() => Promise.reject(error));
