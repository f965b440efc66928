/**
 * Shadow evaluation: a live decision of any type, once its answer is committed, is decided again on the tenant's shadow
 * release and the difference stored. Off the request path (setImmediate, a bounded in-memory queue): it can never
 * change or fail an answer. A crash or shutdown loses what is still queued; the report then counts fewer decisions.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  compareDecisions,
  simulatedError,
  simulatedFrom,
  simulateDecision,
  type PlatformValues,
  type BoundDecisionType,
  type CompiledRelease,
} from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { ReleaseActivationsRepository, type ActivationRow, type Clock, type Database, type Principal } from '../../../libs/persistence/index.js';
import { DatabaseAvailability } from '../health/database-availability.js';
import { Metrics, type ShadowResult } from '../metrics/metrics.js';
import { CLOCK, DATABASE } from '../tokens.js';

/** Decisions waiting for their shadow evaluation, at most; beyond it new ones are dropped and counted. */
const MAX_QUEUE = 10_000;
const SAMPLES = 20;

export interface ShadowJob {
  tenant: string;
  decisionId: string;
  /** The decision type's name and the case as stored. */
  type: BoundDecisionType;
  input: unknown;
  /** The live decision: outcome, reasons and the type's output fields at the top level. */
  baseline: { outcome: string; reasons: readonly { code: string }[] } & Record<string, unknown>;
  shadow: { row: ActivationRow; release: CompiledRelease };
  /** The platform's feature values the live decision used: the shadow decides on the same history. */
  platform?: PlatformValues;
}

@Injectable()
export class ShadowService implements OnModuleDestroy {
  private readonly logger = new Logger('ShadowService');
  private readonly queue: ShadowJob[] = [];
  private draining?: Promise<void>;
  private closed = false;
  /**
   * Since start, on this instance: evaluations stored, shadow releases failing to decide (stored as errors),
   * evaluations not stored (an unexpected failure), and decisions dropped because the queue was full.
   */
  readonly counters = { evaluated: 0, shadowErrors: 0, failed: 0, dropped: 0 };

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: ReleaseActivationsRepository,
    private readonly database: DatabaseAvailability,
    private readonly metrics: Metrics,
  ) {}

  /** Queues a committed decision for its shadow evaluation; never throws, never waits. */
  submit(job: ShadowJob): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.counters.dropped++;
      this.metrics.shadowDrop(job.tenant);
      if (this.counters.dropped % 1000 === 1) this.logger.warn(`shadow queue full: ${this.counters.dropped} decision(s) not shadow-evaluated so far`);
      return;
    }
    this.queue.push(job);
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Waits until everything queued so far is evaluated and stored (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async onModuleDestroy(): Promise<void> {
    // Finish what is queued (a few ms each) so the database is not closed under an insert; take nothing new.
    this.closed = true;
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        try {
          this.metrics.shadowEvaluated(job.tenant, await this.evaluate(job));
          this.counters.evaluated++;
        } catch (e) {
          this.counters.failed++;
          this.metrics.shadowEvaluated(job.tenant, 'not_stored');
          // The database away: the outage monitor logs that once, not once per queued evaluation.
          if (!this.database.report(e, false)) this.logger.error({ msg: `shadow evaluation of decision ${job.decisionId} not stored`, err: e });
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async evaluate(job: ShadowJob): Promise<ShadowResult> {
    const names = job.type.outputNames;
    const baseline = simulatedFrom(job.baseline, names);
    let shadow;
    try {
      // simulateDecision turns a refusal to decide (a DomainError, also: the shadow release lacks this type) into an
      // ERROR decision; anything else is caught here.
      shadow = await simulateDecision(job.input, job.shadow.release.decisionType(job.type.name), job.platform ? { platform: job.platform } : {});
    } catch (e) {
      shadow = e instanceof DomainError ? simulatedError(e.code, e.message, names) : simulatedError('SHADOW_FAILED', (e as Error).message, names);
    }
    const failed = shadow.outcome === 'ERROR';
    if (failed && this.counters.shadowErrors++ % 100 === 0) {
      // The first failure and every 100th: a broken shadow release must not flood the log (the report counts them all).
      // The code only: an error's message may echo the case's values; the stored evaluation keeps it for the report.
      this.logger.warn(`shadow ${job.shadow.release.id} failed on decision ${job.decisionId}: ${shadow.error?.code}`);
    }
    const diff = compareDecisions(baseline, shadow);
    await this.repo.insertShadowEvaluation(this.db.em(), {
      tenant: job.tenant,
      shadowSeq: job.shadow.row.seq,
      decisionId: job.decisionId,
      baselineOutcome: baseline.outcome,
      shadowOutcome: failed ? null : shadow.outcome,
      // A failure is counted as an error, not as a changed decision.
      changed: !failed && diff.changed,
      reasonsAdded: failed ? [] : diff.added,
      reasonsRemoved: failed ? [] : diff.removed,
      error: failed ? `${shadow.error?.code}: ${shadow.error?.message}` : null,
      at: this.clock.now(),
    });
    return failed ? 'error' : diff.changed ? 'changed' : 'same';
  }

  /** The tenant's newest shadow session (running or stopped) and what it found. */
  async report(principal: Principal) {
    const em = this.db.em();
    const session = await this.repo.latestShadowSession(em, principal.tenant);
    if (!session?.started.release) throw new DomainError('SHADOW_NOT_FOUND', 'No release has been put in shadow for this tenant', 'not_found');
    const tally = await this.repo.shadowTally(em, principal.tenant, session.started.seq);
    const recent = await this.repo.shadowSamples(em, principal.tenant, session.started.seq, SAMPLES);
    return {
      shadow: session.started.release,
      running: session.ended === null,
      since: session.started.at.toISOString(),
      until: session.ended ? session.ended.at.toISOString() : null,
      total: tally.total,
      changed: tally.changed,
      errors: tally.errors,
      transitions: tally.transitions,
      reasonCodes: tally.reasonCodes,
      // What the stored counts miss, as seen by the instance answering (queues are per instance, in memory).
      instance: { queued: this.queue.length, dropped: this.counters.dropped, notStored: this.counters.failed },
      recent: recent.map((r) => ({
        decisionId: r.decisionId,
        baseline: r.baselineOutcome,
        shadow: r.shadowOutcome,
        reasonCodes: { added: r.reasonsAdded, removed: r.reasonsRemoved },
        ...(r.error ? { error: r.error } : {}),
        at: r.at.toISOString(),
      })),
    };
  }
}
