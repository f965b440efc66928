/** What-if runs: one case decided by a baseline and a candidate, compared, and tallied into transitions and reason-code changes. Framework-free. */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { DomainError } from '../errors/index.js';
import type { BoundDecisionType } from './types/pipeline.js';
import type { PlatformValues } from './types/features.js';

/**
 * A decision reduced to what a what-if compares: outcome, reason codes and the type's output fields (a refund's
 * riskScore, approvedAmount, tender). `ERROR` when the release refused to decide the case (its output fields null then).
 */
export interface SimulatedDecision {
  outcome: string;
  /** Reason codes in the order the decision gave them. */
  reasons: string[];
  error?: { code: string; message: string };
  [output: string]: unknown;
}

export interface SimulationResult {
  /** refundId for supplied cases; the stored decision's id for a replay. */
  caseRef: string;
  changed: boolean;
  baseline: SimulatedDecision;
  candidate: SimulatedDecision;
  /** Set for a replay: the stored decision's refundId. */
  refundId?: string;
}

export interface SimulationSummary {
  total: number;
  /** Cases whose outcome, reason codes or output fields (a refund's risk score, approved amount, tender) differ. */
  changed: number;
  /** `"<baseline>-><candidate>"` → cases, only for cases whose outcome changed; keys sorted. */
  transitions: Record<string, number>;
  /** Per reason code, in how many cases the candidate added it or no longer gives it. */
  reasonCodes: { added: Record<string, number>; removed: Record<string, number> };
  /** Outcome distribution on each side (keys sorted); its diagonal is what `transitions` leaves out. */
  outcomes: { baseline: Record<string, number>; candidate: Record<string, number> };
}

/** A stored or fresh decision (output fields at the top level, as in a decision document) as a SimulatedDecision. */
export function simulatedFrom(d: { outcome: string; reasons: readonly { code: string }[] } & Record<string, unknown>, outputNames: readonly string[]): SimulatedDecision {
  const out: SimulatedDecision = { outcome: d.outcome, reasons: d.reasons.map((r) => r.code) };
  for (const n of outputNames) out[n] = d[n] ?? null;
  return out;
}

export function simulatedError(code: string, message: string, outputNames: readonly string[]): SimulatedDecision {
  const out: SimulatedDecision = { outcome: 'ERROR', reasons: [] };
  for (const n of outputNames) out[n] = null;
  out.error = { code, message };
  return out;
}

/**
 * Decides `input` on `type` for a what-if: a refusal to decide (a DomainError, e.g. a case the candidate's input
 * schema rejects) becomes an ERROR decision instead of ending the run. Anything else is a bug and is thrown.
 */
export async function simulateDecision(input: unknown, type: BoundDecisionType, ctx: DecisionContext = {}): Promise<SimulatedDecision> {
  try {
    // A stored case holds pseudonyms where the type marks x-pii, and canonical forms where it marks x-canonical: a format
    // or length the raw value met is not theirs to meet (`a-b-c` met minLength 4, its form `ABC` need not). Nor is a stored
    // decision's case held to a refund lifecycle's checks of today (a currency since withdrawn from ISO 4217).
    const prepared = (path: string) => type.personal.some((f) => underField(path, f.path)) || type.canonical.some((f) => underField(path, f.path));
    const errors = ctx.prepare ? type.inputErrors(input, '') : type.inputErrors(input, '', ctx.stored !== true).filter((e) => !prepared(e.path));
    if (errors.length > 0) throw new DomainError('VALIDATION_FAILED', `${type.ref} case is invalid: ${errors.length} problem(s)`, 'invalid', errors);
    const seen = ctx.prepare ? ctx.prepare(input as Record<string, unknown>, type) : (input as Record<string, unknown>);
    const platform = ctx.features ? await ctx.features(seen, type) : ctx.platform;
    // A what-if compares outcomes, reasons and outputs: the explanation is never read, so none is built.
    const d = await type.decideValid(seen, platform, undefined, { trace: false });
    return simulatedFrom({ outcome: d.outcome, reasons: d.reasons, ...d.output }, type.outputNames);
  } catch (e) {
    if (e instanceof DomainError) return simulatedError(e.code, e.message, type.outputNames);
    throw e;
  }
}

/** `path` (a JSON pointer) is the field's or inside it; `*` in the field's path matches any array index. */
function underField(path: string, field: readonly string[]): boolean {
  const tokens = path.split('/').slice(1);
  if (tokens.length < field.length) return false;
  return field.every((t, i) => t === '*' ? /^[0-9]+$/.test(tokens[i]!) : t === tokens[i]);
}

/** How a what-if case becomes what a decision sees: its personal fields and the platform's feature values. */
export interface DecisionContext {
  /** A stored decision's case (a replay), not one being decided now (a supplied case, a shadow evaluation). */
  stored?: boolean;
  /** The case as a decision would see it (pseudonymized); given for supplied cases, not for stored ones. */
  prepare?: (input: Record<string, unknown>, type: BoundDecisionType) => Record<string, unknown>;
  /** The platform's values as the stored decision recorded them. */
  platform?: PlatformValues;
  /** The platform's values counted now, as of the case's time (a backtest); wins over `platform`. */
  features?: (input: Record<string, unknown>, type: BoundDecisionType) => Promise<PlatformValues>;
}

const COMPARED_APART = new Set(['outcome', 'reasons', 'error']);

/** Output fields of either side differ (compared as JSON values). */
function outputsDiffer(a: SimulatedDecision, b: SimulatedDecision): boolean {
  for (const k of Object.keys(a)) if (!COMPARED_APART.has(k) && valuesDiffer(a[k], b[k])) return true;
  for (const k of Object.keys(b)) if (!COMPARED_APART.has(k) && !Object.hasOwn(a, k) && valuesDiffer(undefined, b[k])) return true;
  return false;
}

/** As JSON values; the same value (most output fields: a number, a string, null) is settled without serializing it. */
function valuesDiffer(x: unknown, y: unknown): boolean {
  const u = x ?? null;
  const v = y ?? null;
  return u !== v && JSON.stringify(u) !== JSON.stringify(v);
}

function countCodes(codes: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of codes) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
}

/** Codes present in `b` and not in `a` (as sets: a code given twice is still one reason). */
function minus(b: readonly string[], a: readonly string[]): string[] {
  const inA = new Set(a);
  return [...new Set(b)].filter((c) => !inA.has(c)).sort();
}

/** What differs between two decisions of one case. Reason order does not count; how often a code appears does. */
export function compareDecisions(baseline: SimulatedDecision, candidate: SimulatedDecision): { changed: boolean; added: string[]; removed: string[] } {
  const added = minus(candidate.reasons, baseline.reasons);
  const removed = minus(baseline.reasons, candidate.reasons);
  let sameReasons = baseline.reasons.length === candidate.reasons.length;
  if (sameReasons) {
    const a = countCodes(baseline.reasons);
    for (const [code, n] of countCodes(candidate.reasons)) if (a.get(code) !== n) sameReasons = false;
  }
  const changed = baseline.outcome !== candidate.outcome || !sameReasons || outputsDiffer(baseline, candidate) || baseline.error?.code !== candidate.error?.code;
  return { changed, added, removed };
}

export function transitionKey(baseline: SimulatedDecision, candidate: SimulatedDecision): string {
  return `${baseline.outcome}->${candidate.outcome}`;
}

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

function sorted(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Accumulates a summary case by case, so a long run can report it at any point. */
export class SimulationTally {
  private total = 0;
  private changed = 0;
  private readonly transitions: Record<string, number> = {};
  private readonly added: Record<string, number> = {};
  private readonly removed: Record<string, number> = {};
  private readonly baselineOutcomes: Record<string, number> = {};
  private readonly candidateOutcomes: Record<string, number> = {};

  /** Counts one case and returns its result. */
  add(caseRef: string, baseline: SimulatedDecision, candidate: SimulatedDecision, refundId?: string): SimulationResult {
    const diff = compareDecisions(baseline, candidate);
    this.total++;
    bump(this.baselineOutcomes, baseline.outcome);
    bump(this.candidateOutcomes, candidate.outcome);
    if (diff.changed) this.changed++;
    if (baseline.outcome !== candidate.outcome) bump(this.transitions, transitionKey(baseline, candidate));
    for (const c of diff.added) bump(this.added, c);
    for (const c of diff.removed) bump(this.removed, c);
    return { caseRef, changed: diff.changed, baseline, candidate, ...(refundId !== undefined ? { refundId } : {}) };
  }

  get done(): number {
    return this.total;
  }

  /** Counts the cases another tally counted (a worker thread's part of a run): as if they had been added here. */
  absorb(part: SimulationSummary): void {
    this.total += part.total;
    this.changed += part.changed;
    const into = (m: Record<string, number>, from: Record<string, number>) => {
      for (const [k, n] of Object.entries(from)) m[k] = (m[k] ?? 0) + n;
    };
    into(this.transitions, part.transitions);
    into(this.added, part.reasonCodes.added);
    into(this.removed, part.reasonCodes.removed);
    into(this.baselineOutcomes, part.outcomes.baseline);
    into(this.candidateOutcomes, part.outcomes.candidate);
  }

  summary(): SimulationSummary {
    return {
      total: this.total,
      changed: this.changed,
      transitions: sorted(this.transitions),
      reasonCodes: { added: sorted(this.added), removed: sorted(this.removed) },
      outcomes: { baseline: sorted(this.baselineOutcomes), candidate: sorted(this.candidateOutcomes) },
    };
  }
}

/** One case to re-decide: a supplied case (baseline decided by a release) or a stored decision (baseline as answered then). */
export interface SimulationItem {
  caseRef: string;
  /** The case, as the decision type takes it. */
  input: unknown;
  /** The stored answer, for a replay; absent when the baseline release decides it now. */
  baseline?: SimulatedDecision;
  refundId?: string;
  /** A stored decision's feature values (what it was decided with). */
  platform?: PlatformValues;
}

export interface SimulationRunOptions {
  candidate: BoundDecisionType;
  /** Decides items that carry no stored baseline. */
  baseline?: BoundDecisionType;
  /** Which results to keep in memory (all of a small run, the changed ones of a big run); the tally counts every case. */
  keep?: (r: SimulationResult) => boolean;
  /** At most this many kept results; later ones are only counted. */
  maxKept?: number;
  /** Stops between two cases; the run then ends with `aborted: true`. */
  signal?: AbortSignal;
  /** Longest stretch of evaluation before yielding to the event loop (ms). Default 10. */
  sliceMs?: number;
  /** Supplied cases: pseudonymized as a decision would be. */
  prepare?: DecisionContext['prepare'];
  /** A backtest: each item's features counted from the history as of its time, per side (the types may differ). */
  features?: (item: SimulationItem, input: Record<string, unknown>, type: BoundDecisionType) => Promise<PlatformValues>;
  /** Called after each slice, between two cases; a rejected promise ends the run with that error. */
  onSlice?: (tally: SimulationTally) => Promise<void> | void;
}

export interface SimulationRun {
  tally: SimulationTally;
  results: SimulationResult[];
  /** More results matched `keep` than `maxKept` allowed. */
  truncated: boolean;
  aborted: boolean;
}

function contextOf(item: SimulationItem, o: SimulationRunOptions): DecisionContext {
  const features = o.features;
  return {
    ...(o.prepare ? { prepare: o.prepare } : { stored: true }),
    ...(item.platform && { platform: item.platform }),
    ...(features && { features: (input: Record<string, unknown>, type: BoundDecisionType) => features(item, input, type) }),
  };
}

/**
 * Re-decides every item of `pages` on the candidate (and, without a stored baseline, on the baseline), in time slices:
 * after `sliceMs` of work it yields a macrotask so the process keeps serving requests while a long run goes on.
 */
export async function runSimulation(pages: AsyncIterable<SimulationItem[]> | Iterable<SimulationItem[]>, o: SimulationRunOptions): Promise<SimulationRun> {
  const tally = new SimulationTally();
  const results: SimulationResult[] = [];
  const keep = o.keep ?? (() => true);
  const maxKept = o.maxKept ?? Number.POSITIVE_INFINITY;
  const sliceMs = o.sliceMs ?? 10;
  let truncated = false;
  let sliceStart = performance.now();
  for await (const page of pages) {
    for (const item of page) {
      if (o.signal?.aborted) return { tally, results, truncated, aborted: true };
      let baseline = item.baseline;
      if (!baseline) {
        if (!o.baseline) throw new Error(`simulation item ${item.caseRef} has no stored baseline and no baseline release was given`);
        baseline = await simulateDecision(item.input, o.baseline, contextOf(item, o));
      }
      const candidate = await simulateDecision(item.input, o.candidate, contextOf(item, o));
      const result = tally.add(item.caseRef, baseline, candidate, item.refundId);
      if (keep(result)) {
        if (results.length < maxKept) results.push(result);
        else truncated = true;
      }
      if (performance.now() - sliceStart >= sliceMs) {
        await nextMacrotask();
        await o.onSlice?.(tally);
        sliceStart = performance.now();
      }
    }
  }
  return { tally, results, truncated, aborted: false };
}
