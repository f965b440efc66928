/**
 * What-if runs of any decision type (api-contract.md §6, §7): validate, compile the candidate for the tenant, decide up to
 * 1,000 cases at once (201) and bigger runs in the background (202, then GET for progress). Nothing becomes a decision.
 */
import { Inject, Injectable } from '@nestjs/common';
import { isUuid } from '../../../libs/names/index.js';
import { DomainError, type ErrorDetail } from '../../../libs/errors/index.js';
import {
  DECISION_TYPE_NOT_FOUND,
  runSimulation,
  simulatedError,
  SchemaValidator,
  SimulationTally,
  type BoundDecisionType,
  type CompiledRelease,
  type ReleaseManifest,
  type SimulationItem,
  type SimulationRunOptions,
} from '../../../libs/decisions/index.js';
import { AuditRepository, FeatureHistoryRepository, SimulationsRepository, type Clock, type Database, type IdFactory, type Principal, type SimulationJob } from '../../../libs/persistence/index.js';
import { auditEntry } from '../audit/audit-entry.js';
import { encodeIdCursor } from '../http/cursor.js';
import { accepted, created, done, refusal, transactional, type TransactionalCommand } from '../commands/command.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { CLOCK, DATABASE, ID_FACTORY } from '../tokens.js';
import { replayItems, replayRows } from './replay-source.js';
import { PARALLEL_REPLAY_MIN_CASES, type ParallelReplay } from './replay-workers.js';
import { SimulationJobs, STALE_AFTER_MS } from './simulation-jobs.js';
import { Pseudonyms } from '../decisions/pseudonyms.js';
import { DEFAULT_REPLAY_LIMIT, simulationSchema } from './simulations.schemas.js';

/** Runs of at most this many cases are answered at once; bigger ones run in the background. */
export const SYNC_MAX_CASES = 1_000;
/** Background runs one tenant may have going at once. */
export const MAX_RUNNING_PER_TENANT = 2;
/** Validation errors listed in one answer (a 10,000-case body can have many more). */
const MAX_LISTED_ERRORS = 100;

interface SimulationRequest {
  /** The decision type. */
  domain: string;
  release: ReleaseManifest;
  cases?: Record<string, unknown>[];
  replay?: { from: string; to: string; limit?: number };
  features?: FeatureMode;
}

type FeatureMode = 'stored' | 'recompute' | 'none';

const requestValidator = new SchemaValidator<SimulationRequest>(simulationSchema, 'Simulation request');

function tooMany(e: DomainError): DomainError {
  return e.errors.length > MAX_LISTED_ERRORS
    ? new DomainError(e.code, `Simulation request is invalid: ${e.errors.length} problems, the first ${MAX_LISTED_ERRORS} listed`, e.kind, e.errors.slice(0, MAX_LISTED_ERRORS))
    : e;
}

interface Plan {
  mode: 'cases' | 'replay';
  total: number;
  pages: AsyncIterable<SimulationItem[]> | Iterable<SimulationItem[]>;
  candidate: BoundDecisionType;
  baseline?: BoundDecisionType;
  /** What the candidate is compared with, as recorded on the job (with the feature mode: the answer says which). */
  baselineInfo: Record<string, unknown>;
  prepare?: SimulationRunOptions['prepare'];
  features?: SimulationRunOptions['features'];
  /** A replay that needs nothing but the stored rows and the candidate (no recounted features): workers may decide it. */
  parallel?: ParallelReplay;
}

/** What a run needs besides its items: how supplied cases are pseudonymized, and a backtest's feature counts. */
function runContext(plan: Plan): Pick<SimulationRunOptions, 'prepare' | 'features'> {
  return { ...(plan.prepare && { prepare: plan.prepare }), ...(plan.features && { features: plan.features }) };
}

function parseRequest(body: unknown): SimulationRequest {
  let req: SimulationRequest;
  try {
    req = requestValidator.validate(body);
  } catch (e) {
    throw e instanceof DomainError ? tooMany(e) : e;
  }
  const errors: ErrorDetail[] = [];
  if ((req.cases === undefined) === (req.replay === undefined)) {
    errors.push({ path: req.cases ? '/replay' : '/cases', message: 'give either cases or replay, not both and not neither' });
  }
  if (req.cases && req.features === 'stored') errors.push({ path: '/features', message: 'supplied cases have no stored feature values: use recompute or none' });
  // A replay decides each stored case with the values it was decided with, or a backtest's: an empty history is no replay.
  if (req.replay && req.features === 'none') errors.push({ path: '/features', message: 'a replay uses the stored feature values (stored) or recounts them (recompute): none is for supplied cases' });
  if (req.replay && Date.parse(req.replay.from) >= Date.parse(req.replay.to)) {
    errors.push({ path: '/replay/to', message: 'must be after replay.from' });
  }
  if (errors.length) throw new DomainError('VALIDATION_FAILED', `Simulation request is invalid: ${errors[0]!.message}`, 'invalid', errors);
  return req;
}

/** The case's own name for itself (the type's caseRef field), else its position in the request. */
function caseRefOf(type: BoundDecisionType, c: unknown, index: number): string {
  const ref = type.caseRef?.(c);
  return typeof ref === 'string' || typeof ref === 'number' ? String(ref) : `#${index}`;
}

/** A component error names `/components/x`; in this request that is `/release/components/x`. */
function underRelease(e: unknown): unknown {
  if (!(e instanceof DomainError)) return e;
  return new DomainError(e.code, e.message, e.kind, e.errors.map((d) => ({ ...d, path: `/release${d.path === '/' ? '' : d.path}` })), e.extensions);
}

export function simulationView(j: SimulationJob): Record<string, unknown> {
  return {
    id: j.id,
    status: j.status,
    domain: j.domain,
    mode: j.mode,
    release: j.candidate,
    baseline: j.baseline,
    progress: { done: j.done, total: j.total },
    summary: j.summary,
    resultsKept: j.resultsKept,
    resultsTruncated: j.resultsTruncated,
    results: j.results,
    ...(j.error ? { error: j.error } : {}),
    createdAt: j.createdAt.toISOString(),
    finishedAt: j.finishedAt ? j.finishedAt.toISOString() : null,
  };
}


function notFound(id: string): DomainError {
  return new DomainError('SIMULATION_NOT_FOUND', `No simulation ${id}`, 'not_found');
}

@Injectable()
export class SimulationsService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly repo: SimulationsRepository,
    private readonly releases: ReleaseRegistry,
    private readonly jobs: SimulationJobs,
    private readonly history: FeatureHistoryRepository,
    private readonly pseudonyms: Pseudonyms,
    private readonly audit: AuditRepository,
  ) {}

  /**
   * Up to SYNC_MAX_CASES cases are decided before the key is claimed (a short transaction; decisions keep flowing
   * meanwhile) and stored as a completed job; a bigger run is stored as running and started after commit.
   */
  async create(principal: Principal, body: unknown): Promise<TransactionalCommand<unknown>> {
    const req = parseRequest(body);
    const tenant = principal.tenant;
    const now = this.clock.now();

    let plan: Plan;
    try {
      plan = await this.plan(tenant, req);
    } catch (e) {
      // Business refusals (an unknown component, an incomplete release) are stored and replayed like answers.
      if (e instanceof DomainError && e.kind === 'unprocessable') return refusal(e);
      throw e;
    }

    const job: SimulationJob = {
      id: this.ids.next(now),
      tenant,
      domain: req.domain,
      mode: plan.mode,
      status: 'running',
      candidate: { name: req.release.name, version: req.release.version, components: req.release.components },
      baseline: plan.baselineInfo,
      total: plan.total,
      done: 0,
      summary: new SimulationTally().summary(),
      results: [],
      resultsKept: plan.total <= SYNC_MAX_CASES ? 'all' : 'changed',
      resultsTruncated: false,
      error: null,
      createdBy: principal.keyId,
      createdAt: now,
      heartbeatAt: now,
      finishedAt: null,
    };

    if (plan.total <= SYNC_MAX_CASES) {
      const run = await runSimulation(plan.pages, { candidate: plan.candidate, ...(plan.baseline ? { baseline: plan.baseline } : {}), ...runContext(plan) });
      const finished: SimulationJob = { ...job, status: 'completed', done: run.tally.done, summary: run.tally.summary(), results: run.results, finishedAt: this.clock.now() };
      return transactional(async ({ em }) => {
        await this.repo.insert(em, finished);
        return created(simulationView(finished));
      });
    }

    return transactional(
      async ({ em }) => {
      const aliveSince = new Date(now.getTime() - STALE_AFTER_MS);
      await this.repo.lockStarts(em, tenant);
      if ((await this.repo.runningCount(em, tenant, aliveSince)) >= MAX_RUNNING_PER_TENANT) {
        throw new DomainError(
          'SIMULATIONS_BUSY',
          `This tenant already has ${MAX_RUNNING_PER_TENANT} simulations running; wait for one to finish or cancel one`,
          'rate_limited',
          [],
          { retryAfter: 5 },
        );
      }
      await this.repo.insert(em, job);
      return accepted({ id: job.id, status: job.status, progress: { done: 0, total: job.total } });
      },
      {
        // Only the request that created the job starts it (a replayed answer's job is already running or done).
        afterCommit: (o) => {
          if (o.result === 'accepted') {
            this.jobs.start({
              id: job.id,
              pages: plan.pages,
              candidate: plan.candidate,
              ...(plan.baseline ? { baseline: plan.baseline } : {}),
              ...runContext(plan),
              ...(plan.parallel && { parallel: plan.parallel }),
            });
          }
        },
      },
    );
  }

  private async plan(tenant: string, req: SimulationRequest): Promise<Plan> {
    let candidate: BoundDecisionType;
    let release: CompiledRelease;
    try {
      release = await this.releases.compileFor(tenant, req.release);
      candidate = release.decisionType(req.domain);
    } catch (e) {
      // A domain the candidate has no type for is a bad field of this request (400 naming /domain), not a missing resource.
      if (e instanceof DomainError && e.code === DECISION_TYPE_NOT_FOUND) throw new DomainError('VALIDATION_FAILED', e.message, 'invalid', [{ path: '/domain', message: e.message }]);
      throw underRelease(e);
    }
    const mode: FeatureMode = req.features ?? (req.cases ? 'none' : 'stored');
    const recompute: SimulationRunOptions['features'] =
      mode === 'recompute'
        ? (item, input, type) =>
            type.features
              ? this.history.values(this.db.em(), tenant, type.features.queries(input).map((q) => (req.replay ? { ...q, excludeDecision: item.caseRef } : q)))
              : Promise.resolve({})
        : undefined;
    const context = { ...(recompute && { features: recompute }) };
    if (req.cases) {
      const hash = this.pseudonyms.forTenant(tenant);
      // Supplied cases are seen as a decision would see them: canonical forms, personal fields as the tenant's pseudonyms.
      const prepare: SimulationRunOptions['prepare'] = (input, type) => type.prepare(input, hash);
      const errors = req.cases.flatMap((c, i) => candidate.inputErrors(c, `/cases/${i}`));
      if (errors.length > 0) throw tooMany(new DomainError('VALIDATION_FAILED', `Simulation request is invalid: ${errors.length} problem(s)`, 'invalid', errors));
      const active = this.releases.active(tenant);
      const baselineInfo = { kind: 'release', release: active.ref, features: mode };
      if (!active.hasType(req.domain)) {
        // A new type, simulated before it is ever activated: nothing decides it today, so each baseline is an ERROR.
        const none = simulatedError('DECISION_TYPE_NOT_FOUND', `the active release ${active.id} has no decision type ${req.domain}`, candidate.outputNames);
        const items = req.cases.map((c, i) => ({ caseRef: caseRefOf(candidate, c, i), input: c, baseline: none }));
        return { mode: 'cases', total: items.length, pages: [items], candidate, baselineInfo, prepare, ...context };
      }
      const items = req.cases.map((c, i) => ({ caseRef: caseRefOf(candidate, c, i), input: c }));
      return { mode: 'cases', total: items.length, pages: [items], candidate, baseline: active.decisionType(req.domain), baselineInfo, prepare, ...context };
    }
    const replay = req.replay!;
    const limit = replay.limit ?? DEFAULT_REPLAY_LIMIT;
    const window = { from: new Date(replay.from), to: new Date(replay.to) };
    const { total, more, purged, resolutions } = await this.repo.countReplay(this.db.em(), tenant, req.domain, window, limit);
    return {
      mode: 'replay',
      total,
      pages: replayItems(this.db, this.repo, tenant, candidate, window, total),
      // Generators: only the one the job iterates ever reads the database.
      ...(!recompute && total >= PARALLEL_REPLAY_MIN_CASES && { parallel: { rows: replayRows(this.db, this.repo, tenant, candidate, window, total), release: release.portable(), type: req.domain } }),
      candidate,
      baselineInfo: { kind: 'stored-decisions', from: window.from.toISOString(), to: window.to.toISOString(), limit, windowHasMore: more, purgedSkipped: purged, resolutionsSkipped: resolutions, features: mode },
      ...context,
    };
  }

  async get(principal: Principal, id: string): Promise<Record<string, unknown>> {
    let job = await this.find(principal.tenant, id);
    // A job whose worker vanished (another instance restarted, or crashed) is failed once its heartbeat is stale.
    if (job.status === 'running' && !this.jobs.isRunningHere(id) && this.clock.now().getTime() - job.heartbeatAt.getTime() > STALE_AFTER_MS) {
      await this.jobs.failStale(principal.tenant);
      job = await this.find(principal.tenant, id);
    }
    return simulationView(job);
  }

  async list(principal: Principal, limit: number, after?: string): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    const rows = await this.repo.list(this.db.em(), principal.tenant, limit + 1, after);
    const page = rows.slice(0, limit);
    const items = page.map((j) => {
      const { results: _results, ...summary } = simulationView(j);
      return summary;
    });
    const last = page[page.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
  }

  /** Cancels a running job: 200 with the job; a finished one is a 422 refusal; cancelling twice answers the cancelled job. */
  cancel(principal: Principal, id: string): TransactionalCommand<Record<string, unknown>> {
    if (!isUuid(id)) throw notFound(id);
    return transactional(
      async ({ em, now }) => {
        const r = await this.repo.cancel(em, principal.tenant, id, now);
        if (!r) throw notFound(id);
        if (!r.cancelled && (r.job.status === 'completed' || r.job.status === 'failed')) {
          throw new DomainError('SIMULATION_ALREADY_FINISHED', `Simulation ${id} already ${r.job.status}; there is nothing to cancel`, 'unprocessable', [], {
            simulationStatus: r.job.status,
          });
        }
        // The job's row names who created it (created_by); who stopped it is here.
        if (r.cancelled) await this.audit.append(em, auditEntry(principal, 'author', now, 'simulation.cancelled', 'simulation', id, {}));
        return done(simulationView(r.job));
      },
      { afterCommit: (o) => void (o.result === 'done' && this.jobs.cancel(id)) },
    );
  }

  private async find(tenant: string, id: string): Promise<SimulationJob> {
    const job = isUuid(id) ? await this.repo.get(this.db.em(), tenant, id) : null;
    if (!job) throw notFound(id);
    return job;
  }
}
