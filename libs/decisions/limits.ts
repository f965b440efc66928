/**
 * What one decision may store and answer. Packs are bounded at upload (libs/rules/limits.ts), but a trace also holds fact
 * values, parameters and what policies answer, so its size is bounded where it is made: no decision answer or stored
 * document is megabytes because of its trace. The README's "Limits" section lists this.
 */
import { approxJsonBytes } from '../rules/limits.js';
import type { TraceEntry } from './outcome.js';

export const DECISION_LIMITS = Object.freeze({
  /** A decision's trace as JSON (the shipped refund release's is about 6.5 KB; a 250-rule pack's about 160 KB). */
  maxTraceBytes: 256 * 1024,
});

/** The `rule` of the entry that ends a trace cut to the limit. */
export const TRACE_LIMIT_RULE = 'trace-limit';

/**
 * The trace as it is stored and answered: unchanged within `maxBytes`; over it, every entry keeps only what it is and
 * whether it fired (`source`, `rule`, `fired`), as many as fit, and a last entry says so. The same trace always gives
 * the same result, so a replay compares equal.
 */
export function boundTrace(trace: TraceEntry[], maxBytes: number = DECISION_LIMITS.maxTraceBytes): TraceEntry[] {
  if (approxJsonBytes(trace, maxBytes) <= maxBytes) return trace;
  const room = maxBytes - 512; // for the closing entry
  const kept: TraceEntry[] = [];
  let bytes = 2;
  for (const entry of trace) {
    const slim: TraceEntry = { source: entry.source, rule: entry.rule, fired: entry.fired };
    bytes += approxJsonBytes(slim, room) + 1;
    if (bytes > room) break;
    kept.push(slim);
  }
  kept.push({
    source: 'platform',
    rule: TRACE_LIMIT_RULE,
    fired: true,
    message: `the full trace is over ${Math.round(maxBytes / 1024)} KiB: entries keep source, rule and fired only`,
    entries: trace.length,
    kept: kept.length,
  });
  return kept;
}
