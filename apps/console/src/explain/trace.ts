/**
 * Reads a stored decision's trace (the list of steps the pipeline recorded) into the parts the explanation shows:
 * the rules and their conditions, the risk signals and score, the platform's features, other steps. Classified by
 * the shape each step records, not by decision type, so a type shipped as data is explained too.
 */

export interface Condition {
  fact: string;
  path?: string;
  operator: string;
  /** The value compared against (the threshold), after a param or fact reference was resolved. */
  value: unknown;
  /** Where the threshold came from: a pack parameter (a table's also names the key it looked up) or another fact. */
  valueFrom?: { param?: string; key?: string | null; default?: boolean; fact?: string; path?: string };
  factValue?: unknown;
  result?: boolean;
  evaluated?: boolean;
}

export type ConditionNode = Condition | { all?: ConditionNode[]; any?: ConditionNode[]; not?: ConditionNode; result?: boolean };

export interface RuleStep {
  kind: 'rule';
  source: string;
  rule: string;
  fired: boolean;
  priority?: number;
  event?: { type: string; params?: { code?: string; message?: string; [k: string]: unknown } };
  conditions?: ConditionNode;
}

export interface SignalStep {
  kind: 'signal';
  source: string;
  code: string;
  fired: boolean;
  fact?: string;
  operator?: string;
  weight: number;
  value?: unknown;
  threshold?: unknown;
}

export interface ScoreStep {
  kind: 'score';
  source: string;
  score: number;
  band?: string;
}

export interface FeatureStep {
  kind: 'feature';
  source: string;
  feature: string;
  value: unknown;
  from?: string;
  entity?: string;
  window?: string;
  platform?: unknown;
  caller?: unknown;
  detail?: string;
}

export interface OtherStep {
  kind: 'other';
  source: string;
  rule: string;
  fired: boolean;
  fields: Record<string, unknown>;
}

export type Step = RuleStep | SignalStep | ScoreStep | FeatureStep | OtherStep;

type Raw = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function classify(trace: unknown): Step[] {
  if (!Array.isArray(trace)) return [];
  return trace.map((entry): Step => {
    const e = (entry ?? {}) as Raw;
    const source = str(e.source);
    const fired = e.fired === true;
    // The platform's own features only: a policy's signal may name the feature it compared (giftcard-abuse does), and
    // is no feature of this decision.
    if (typeof e.feature === 'string' && (source === 'platform@features' || str(e.rule).startsWith('feature.'))) {
      return { kind: 'feature', source, feature: e.feature, value: e.value, from: str(e.from) || undefined, entity: str(e.entity) || undefined, window: str(e.window) || undefined, platform: e.platform, caller: e.caller, detail: str(e.detail) || undefined };
    }
    if (typeof e.code === 'string' && typeof e.weight === 'number') {
      return { kind: 'signal', source, code: e.code, fired, fact: str(e.fact) || undefined, operator: str(e.operator) || undefined, weight: e.weight, value: e.value, threshold: e.threshold };
    }
    if (typeof e.score === 'number' && 'band' in e) return { kind: 'score', source, score: e.score, band: str(e.band) || undefined };
    if (e.conditions !== undefined || (e.event && typeof e.event === 'object')) {
      return { kind: 'rule', source, rule: str(e.rule), fired, priority: typeof e.priority === 'number' ? e.priority : undefined, event: e.event as RuleStep['event'], conditions: e.conditions as ConditionNode };
    }
    const { source: _s, rule, fired: _f, ...fields } = e;
    return { kind: 'other', source, rule: str(rule), fired, fields };
  });
}

export const isLeaf = (n: ConditionNode): n is Condition => typeof (n as Condition).operator === 'string';

/** The leaf conditions of a rule in order, with their nesting (all/any/not) flattened away for a sentence list. */
export function leaves(n: ConditionNode | undefined): Condition[] {
  if (!n) return [];
  if (isLeaf(n)) return [n];
  const g = n as { all?: ConditionNode[]; any?: ConditionNode[]; not?: ConditionNode };
  return [...(g.all ?? []).flatMap(leaves), ...(g.any ?? []).flatMap(leaves), ...(g.not ? leaves(g.not) : [])];
}

/** `customer` + `$.goodwillRefunds12m` → `customer.goodwillRefunds12m`. */
export function factName(c: { fact: string; path?: string }): string {
  if (!c.path) return c.fact;
  return `${c.fact}.${c.path.replace(/^\$\.?/, '')}`;
}

/** Risk contributions: each fired signal's weight, largest first (the score chart). */
export function contributions(steps: Step[]): { code: string; weight: number }[] {
  return steps
    .filter((s): s is SignalStep => s.kind === 'signal' && s.fired)
    .map((s) => ({ code: s.code, weight: s.weight }))
    .sort((a, b) => b.weight - a.weight || a.code.localeCompare(b.code));
}

export function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return JSON.stringify(v);
}
