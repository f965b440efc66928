/**
 * Sends webhook deliveries: an endpoint's events one after the other from its head (its lowest pending sequence), so
 * they arrive in order and a failing one holds back that endpoint alone; at most one attempt in flight per endpoint,
 * up to `concurrency` endpoints at once, none of it on a request's path. A claim leases the head and what follows it
 * (a run: two transactions per run, not per event) for the timeout plus a margin; no attempt starts that could outlast
 * the lease. An instance that dies mid-run leaves the run to be sent again after the lease (at least once; the lost
 * attempt is not counted). Plain class: it runs in the service's thread (PGlite) or in a worker thread of its own.
 */
import { envelopeOf, retryDelayMs, serialiseEnvelope, signDelivery } from '../../../libs/events/index.js';
import type { ClaimedRun, Clock, Database, EventsRepository, RunResult } from '../../../libs/persistence/index.js';
import { postWebhook } from './webhook-post.js';

/** Beyond the request timeout, how long a claim stays this instance's: time for a run of quick answers and the recording. */
const LEASE_MARGIN_MS = 5_000;
/** Deliveries claimed per endpoint at once (they are still sent one at a time, in order). */
const RUN = 100;
/**
 * During a run, how often the endpoint is looked up again: once it is deleted the run stops, so after DELETE answers
 * only the attempt under way and those begun within this long may still arrive (not the rest of the run).
 */
const RECHECK_MS = 100;

export interface DispatchSettings {
  webhookTimeoutMs: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
  webhookRetryJitterPercent: number;
  webhookConcurrency: number;
}

export class DispatchLoop {
  private readonly inFlight = new Map<string, Promise<void>>();
  private pass?: Promise<void>;
  private again = false;
  private closed = false;
  /** When this loop last had something to send (a claimed run, or one finishing); its start until then. */
  private activeAt: number;
  /** Whether this loop has claimed anything since it started. */
  private claimedAny = false;

  constructor(
    private readonly db: Database,
    private readonly repo: EventsRepository,
    private readonly clock: Clock,
    private readonly config: DispatchSettings,
    private readonly warn: (message: string, cause: unknown) => void,
    /** Attempts of a run once recorded: delivered (2xx) and failed (each retried later); for the metrics. */
    private readonly attempted: (delivered: number, failed: number) => void = () => undefined,
  ) {
    this.activeAt = clock.now().getTime();
  }

  /** Whether this loop has claimed anything since it started. */
  get everActive(): boolean {
    return this.claimedAny;
  }

  /** How long this loop has had nothing to send and nothing in flight (0 while it has). */
  idleForMs(): number {
    if (this.inFlight.size > 0 || this.pass) return 0;
    return Math.max(0, this.clock.now().getTime() - this.activeAt);
  }

  /** Looks for due deliveries now (coalesced: a kick during a pass runs one more pass after it). */
  kick(): void {
    if (this.closed) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.claim()
      .catch((e: unknown) => this.warn(`webhook dispatch failed: ${(e as Error).message}`, e))
      .finally(() => {
        this.pass = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops claiming; lets the runs in flight finish their current attempt and record (the rest is released). */
  async close(): Promise<void> {
    this.closed = true;
    await this.pass;
    // An attempt cut short here is retried after its lease by whichever instance runs next.
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async claim(): Promise<void> {
    const room = this.config.webhookConcurrency - this.inFlight.size;
    if (room <= 0) return;
    const now = this.clock.now();
    const leaseUntil = new Date(now.getTime() + this.config.webhookTimeoutMs + LEASE_MARGIN_MS);
    const runs = await this.db
      .em()
      .transactional((em) => this.repo.claimDue(em, { now, leaseUntil, busy: [...this.inFlight.keys()], limit: room, run: RUN }));
    if (runs.length > 0) {
      this.activeAt = this.clock.now().getTime();
      this.claimedAny = true;
    }
    for (const run of runs) {
      const sending = this.send(run, leaseUntil)
        .catch((e: unknown) => this.warn(`webhook result not recorded: ${(e as Error).message}`, e))
        .finally(() => {
          this.inFlight.delete(run.endpointId);
          this.activeAt = this.clock.now().getTime();
          // The endpoint's next events, if any, go now rather than at the next poll.
          this.kick();
        });
      this.inFlight.set(run.endpointId, sending);
    }
  }

  private async send(run: ClaimedRun, leaseUntil: Date): Promise<void> {
    const result: RunResult = { delivered: [], released: [], now: this.clock.now() };
    // The claim saw the endpoint live, under its lock.
    let checkedAt = this.clock.now().getTime();
    for (const [i, d] of run.deliveries.entries()) {
      // An attempt that could outlast the lease is left to the next claim (another instance may hold it by then).
      if (this.closed || this.clock.now().getTime() + this.config.webhookTimeoutMs > leaseUntil.getTime()) {
        result.released = run.deliveries.slice(i).map((x) => x.id);
        break;
      }
      if (this.clock.now().getTime() - checkedAt >= RECHECK_MS) {
        checkedAt = this.clock.now().getTime();
        // Deleted meanwhile: what is left was canceled; nothing more is sent.
        if (!(await this.repo.endpointLive(this.db.em(), run.endpointId))) {
          result.released = run.deliveries.slice(i).map((x) => x.id);
          break;
        }
      }
      const { statusCode, error } = await this.post(run, d.event);
      if (error === undefined) {
        result.delivered.push({ id: d.id, statusCode: statusCode!, redeliveries: d.redeliveries });
        continue;
      }
      const delay = retryDelayMs(d.attempts + 1, {
        baseMs: this.config.webhookRetryBaseMs,
        maxMs: this.config.webhookRetryMaxMs,
        jitter: this.config.webhookRetryJitterPercent / 100,
      });
      result.failed = { id: d.id, statusCode, error, retryAt: new Date(this.clock.now().getTime() + delay), redeliveries: d.redeliveries };
      result.released = run.deliveries.slice(i + 1).map((x) => x.id);
      break;
    }
    result.now = this.clock.now();
    await this.db.em().transactional((em) => this.repo.finishRun(em, result));
    this.attempted(result.delivered.length, result.failed ? 1 : 0);
  }

  /** One signed POST; a 2xx is success, anything else (status, timeout, refused connection) an error to retry. */
  private async post(run: ClaimedRun, event: ClaimedRun['deliveries'][number]['event']): Promise<{ statusCode: number | null; error?: string }> {
    const body = serialiseEnvelope(envelopeOf(event));
    try {
      const headers = { ...signDelivery(run.secret, event.id, this.clock.now(), body), 'content-type': 'application/json', 'user-agent': 'decision-platform-webhooks/1' };
      const status = await postWebhook(run.url, headers, body, this.config.webhookTimeoutMs);
      return status >= 200 && status <= 299 ? { statusCode: status } : { statusCode: status, error: `HTTP ${status}` };
    } catch (e) {
      const code = (e as { code?: string }).code;
      return { statusCode: null, error: code && !(e as Error).message.includes(code) ? `${(e as Error).message} (${code})` : (e as Error).message };
    }
  }

}
