/**
 * What a driver error means for the caller: the one place that decides "the database is away (or too slow), answer
 * 503 and retry" from "a bug, answer 500". And the outage monitor: one log line when an outage starts, one when the
 * database answers again, instead of a stack trace per refused request.
 */
import { DomainError } from '../errors/index.js';
import { STALE_STATEMENT } from './prepared-statements.js';

export const DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE';

/**
 * The error code of a wait for a pooled connection that ran out while every connection of the pool was open and in
 * use (database.ts, `markBusyPool`): the database answers, this instance has more work in flight than connections.
 */
export const POOL_BUSY = 'DB_POOL_BUSY';

/**
 * How an error leaves the database: `outage` (away: refused, reset, terminated, not answering), `timeout` (a statement
 * it cancelled), `contention` (a transaction it aborted to break a deadlock or a serialization conflict: the same
 * request succeeds when sent again) or `busy` (no pooled connection came free in time while all of them were working, or
 * the requests ahead on the same row kept it too long: keyed-queue.ts).
 */
export interface DatabaseFault {
  kind: 'outage' | 'timeout' | 'contention' | 'busy';
  /** One line for logs and the problem's detail: what the driver said, without a stack. */
  reason: string;
}

// SQLSTATE classes and codes (PostgreSQL appendix A): 08 connection exception, 53 insufficient resources (53300 too
// many connections), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P05 idle session timeout.
// Not 08P01 (protocol violation): that is how the server refuses a NUL byte in a parameter, the client's input.
const OUTAGE_SQLSTATE = /^(08(?!P01)...|53...|57P0[1-5])$/;
// The server is up but gave up on our work: a statement over statement_timeout (57014), a transaction left idle over
// idle_in_transaction_session_timeout (25P03).
const TIMEOUT_SQLSTATE = new Set(['57014', '25P03']);
// The server aborted our transaction to let another proceed: deadlock_detected (40P01), serialization_failure (40001),
// lock_not_available (55P03). Lock order is kept the same on every path; this is the net under it, never a 500. Also a
// named statement whose prepared copy went stale on its connection (prepared-statements.ts drops that connection).
const CONTENTION_SQLSTATE = new Set(['40P01', '40001', '55P03', ...STALE_STATEMENT]);
// Socket errors of Node's net/dns on the way to the server.
const OUTAGE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
// node-postgres and pg-pool report these without a code: a dead or unanswering connection, a pool that cannot hand
// one out within the acquire timeout, a client-side read timeout, a pool closed under a request during shutdown.
const OUTAGE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool|Connection terminated by user)$/;

/** The fault an error stands for, looking through wrappers (`cause`, AggregateError's `errors`), or undefined. */
export function databaseFault(e: unknown, depth = 0): DatabaseFault | undefined {
  if (depth > 4 || typeof e !== 'object' || e === null) return undefined;
  if (e instanceof DomainError) return undefined;
  const { code, message } = e as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message.split('\n')[0]!.slice(0, 200) : '';
  if (typeof code === 'string') {
    if (code === POOL_BUSY) return { kind: 'busy', reason: text };
    if (OUTAGE_SQLSTATE.test(code) || OUTAGE_ERRNO.has(code)) return { kind: 'outage', reason: `${text || code} (${code})` };
    if (TIMEOUT_SQLSTATE.has(code)) return { kind: 'timeout', reason: `${text} (${code})` };
    if (CONTENTION_SQLSTATE.has(code)) return { kind: 'contention', reason: `${text} (${code})` };
  }
  if (OUTAGE_MESSAGE.test(text)) return { kind: 'outage', reason: text };
  for (const inner of [(e as { cause?: unknown }).cause, ...((e as { errors?: unknown }).errors instanceof Array ? (e as { errors: unknown[] }).errors : [])]) {
    const f = databaseFault(inner, depth + 1);
    if (f) return f;
  }
  return undefined;
}

/** The answer to a request that needed the database while it was away: 503 with a Retry-After, never a stack. */
export function databaseUnavailable(fault: DatabaseFault, retryAfterSeconds: number): DomainError {
  const detail =
    fault.kind === 'timeout'
      ? 'The database did not answer in time; retry shortly'
      : fault.kind === 'contention'
        ? 'The database aborted this request to resolve a conflict with a concurrent one; nothing was written: retry it as is'
        : fault.kind === 'busy'
          ? 'No database connection of this instance came free for this request in time (a busy pool, or earlier requests on the same row); retry shortly'
          : 'The database is unavailable; retry shortly (a request sent with an Idempotency-Key can be retried as is)';
  return new DomainError(DATABASE_UNAVAILABLE, detail, 'unavailable', [], { retryAfter: retryAfterSeconds });
}

/** A busy pool is logged at most this often. */
export const BUSY_LOG_EVERY_MS = 10_000;

export interface OutageLog {
  warn(message: string): void;
  log(message: string): void;
}

export interface OutageMonitorOptions {
  /** A bounded check of the database (its own connection and timeout): resolves when it answers. */
  probe(): Promise<void>;
  log: OutageLog;
  /** How often the probe runs while the database is away. */
  probeEveryMs: number;
  retryAfterSeconds: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
}

/**
 * Follows the database's availability from the errors requests and background work meet. The first outage error
 * logs one line and starts probing; the first probe that succeeds logs one line with the outage's length and how many
 * answers were refused. A statement timeout is a 503 too, but no outage: the server answered.
 */
export class OutageMonitor {
  private since: number | undefined;
  private refused = 0;
  private busyLoggedAt: number | undefined;
  private busyRefused = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: OutageMonitorOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  /** Whether an outage is in progress (from the first error until a probe succeeds). */
  get down(): boolean {
    return this.since !== undefined;
  }

  /**
   * The 503 for `e` when it is a database fault (recording it: the first of an outage is logged), else undefined.
   * `counted` says whether this refused a request (background work passes false).
   */
  report(e: unknown, counted = true): DomainError | undefined {
    const fault = databaseFault(e);
    if (!fault) return undefined;
    if (fault.kind === 'timeout') {
      // Not an outage, and worth seeing: which work is too slow. One line, no stack.
      if (counted) this.o.log.warn(`database statement timed out: ${fault.reason}`);
    } else if (fault.kind === 'contention') {
      // Not an outage either; a deadlock means two paths took locks in different orders: worth a line.
      if (counted) this.o.log.warn(`database aborted a transaction: ${fault.reason}`);
    } else if (fault.kind === 'busy') {
      // Not an outage: the database answers, this instance has more work in flight than connections. A saturated pool
      // refuses many requests at once: one line, then at most one every BUSY_LOG_EVERY_MS with how many it refused.
      if (!counted) return databaseUnavailable(fault, this.o.retryAfterSeconds);
      this.busyRefused++;
      const t = this.now();
      if (this.busyLoggedAt === undefined || t - this.busyLoggedAt >= BUSY_LOG_EVERY_MS) {
        const since = this.busyLoggedAt === undefined ? '' : ` (${this.busyRefused} since the last such line)`;
        this.o.log.warn(`database pool busy: ${fault.reason}; answering 503 ${DATABASE_UNAVAILABLE}${since}`);
        this.busyLoggedAt = t;
        this.busyRefused = 0;
      }
    } else {
      if (this.since === undefined) {
        this.since = this.now();
        this.refused = 0;
        this.o.log.warn(`database unavailable: ${fault.reason}; answering 503 ${DATABASE_UNAVAILABLE} until it answers again`);
        this.schedule();
      }
      if (counted) this.refused++;
    }
    return databaseUnavailable(fault, this.o.retryAfterSeconds);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.probing || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.probeOnce();
    }, this.o.probeEveryMs);
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    if (this.since === undefined || this.stopped) return;
    this.probing = true;
    let ok = false;
    try {
      await this.o.probe();
      ok = true;
    } catch {
      // still away: the next probe will tell
    } finally {
      this.probing = false;
    }
    if (ok && this.since !== undefined) {
      const seconds = ((this.now() - this.since) / 1000).toFixed(1);
      this.o.log.log(`database available again after ${seconds} s (${this.refused} answers were 503 ${DATABASE_UNAVAILABLE})`);
      this.since = undefined;
      return;
    }
    this.schedule();
  }
}
