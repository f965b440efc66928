import { resolve } from 'node:path';
import {
  compareDecisions,
  FileComponentSource,
  ReleaseCompiler,
  runSimulation,
  simulatedError,
  SimulationTally,
  type ComponentSource,
  type BoundDecisionType,
  type SimulatedDecision,
  type SimulationItem,
} from './index.js';
import { refundCase } from '../../test/support/refund-cases.js';
import { DomainError } from '../errors/index.js';

const root = resolve(import.meta.dirname, '../..');
const OUT = ['riskScore', 'approvedAmount', 'tender'];
const d = (outcome: SimulatedDecision['outcome'], reasons: string[] = [], extra: Partial<SimulatedDecision> = {}): SimulatedDecision => ({
  outcome,
  reasons,
  riskScore: 0,
  approvedAmount: outcome === 'APPROVE' ? 100 : 0,
  tender: 'ORIGINAL',
  ...extra,
});

describe('compareDecisions', () => {
  it('ignores reason order but not how often a code is given', () => {
    expect(compareDecisions(d('REVIEW', ['A', 'B']), d('REVIEW', ['B', 'A']))).toEqual({ changed: false, added: [], removed: [] });
    expect(compareDecisions(d('REVIEW', ['A']), d('REVIEW', ['A', 'A'])).changed).toBe(true);
  });

  it('names added and removed codes, each once', () => {
    expect(compareDecisions(d('REVIEW', ['A', 'B', 'B']), d('DENY', ['C', 'A', 'C']))).toEqual({ changed: true, added: ['C'], removed: ['B'] });
  });

  it('sees a changed score, amount, tender or error even when the outcome holds', () => {
    expect(compareDecisions(d('APPROVE'), d('APPROVE', [], { riskScore: 10 })).changed).toBe(true);
    expect(compareDecisions(d('APPROVE'), d('APPROVE', [], { approvedAmount: 99 })).changed).toBe(true);
    expect(compareDecisions(d('APPROVE'), d('APPROVE', [], { tender: 'STORE_CREDIT' })).changed).toBe(true);
    expect(compareDecisions(simulatedError('X', 'x', OUT), simulatedError('Y', 'y', OUT)).changed).toBe(true);
    expect(compareDecisions(simulatedError('X', 'x', OUT), simulatedError('X', 'other words', OUT)).changed).toBe(false);
  });
});

describe('SimulationTally', () => {
  it('counts outcome changes as transitions, every case in the outcome distributions, and reason codes per case', () => {
    const t = new SimulationTally();
    t.add('1', d('APPROVE'), d('REVIEW', ['LIMIT']));
    t.add('2', d('APPROVE'), d('REVIEW', ['LIMIT']));
    t.add('3', d('REVIEW', ['LIMIT', 'OLD']), d('REVIEW', ['LIMIT']));
    t.add('4', d('DENY', ['WINDOW']), d('DENY', ['WINDOW']));
    const r = t.add('5', d('APPROVE'), simulatedError('RULE_FACTS_INVALID', 'no', OUT), 'rf-5');
    expect(r).toMatchObject({ caseRef: '5', refundId: 'rf-5', changed: true });
    expect(t.summary()).toEqual({
      total: 5,
      changed: 4,
      transitions: { 'APPROVE->ERROR': 1, 'APPROVE->REVIEW': 2 },
      reasonCodes: { added: { LIMIT: 2 }, removed: { OLD: 1 } },
      outcomes: { baseline: { APPROVE: 3, DENY: 1, REVIEW: 1 }, candidate: { DENY: 1, ERROR: 1, REVIEW: 3 } },
    });
    expect(t.done).toBe(5);
  });

  it('is all zeros for no cases', () => {
    expect(new SimulationTally().summary()).toEqual({
      total: 0,
      changed: 0,
      transitions: {},
      reasonCodes: { added: {}, removed: {} },
      outcomes: { baseline: {}, candidate: {} },
    });
  });
});

describe('runSimulation on the shipped release and a candidate with a lower auto-approve limit', () => {
  const files = new FileComponentSource(root);
  // refund-policy@1.1.0 exists only here: the shipped pack with autoApproveLimit 4000 instead of 50000.
  const source: ComponentSource = {
    pack: async (name, version) => {
      if (name !== 'refund-policy' || version !== '1.1.0') return files.pack(name, version);
      const pack = (await files.pack('refund-policy', '1.0.0')) as { version: string; parameters: Record<string, unknown>; tests: { cases: unknown[] } };
      // The embedded boundary cases assume 50000; this variant only needs to compile.
      return { ...pack, version: '1.1.0', parameters: { ...pack.parameters, autoApproveLimit: 4000 }, tests: { ...pack.tests, cases: pack.tests.cases.slice(0, 1) } };
    },
    bundle: (name, version) => files.bundle(name, version),
    type: (name, version) => files.type(name, version),
  };
  const compiler = new ReleaseCompiler(source);
  let baseline: BoundDecisionType;
  let candidate: BoundDecisionType;
  beforeAll(async () => {
    baseline = (await compiler.compile({ name: 'default', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0' } })).refund();
    candidate = (await compiler.compile({ name: 'lower', version: '1.0.0', components: { 'refund-policy': '1.1.0', 'refund-risk': '1.0.0' } })).refund();
  });

  const items = (n: number): SimulationItem[] =>
    Array.from({ length: n }, (_, i) => {
      const c = refundCase({ refundId: `rf-${i}`, requestedAmount: i % 2 === 0 ? 3000 : 4999 });
      return { caseRef: c.refundId as string, input: c };
    });

  it('decides each case on both releases and counts what the candidate changes', async () => {
    const run = await runSimulation([items(10)], { baseline, candidate });
    expect(run.aborted).toBe(false);
    expect(run.results).toHaveLength(10);
    expect(run.tally.summary()).toMatchObject({
      total: 10,
      changed: 5,
      transitions: { 'APPROVE->REVIEW': 5 },
      reasonCodes: { added: { AMOUNT_OVER_AUTO_APPROVE_LIMIT: 5 }, removed: {} },
    });
    expect(run.results[1]).toEqual({
      caseRef: 'rf-1',
      changed: true,
      baseline: { outcome: 'APPROVE', reasons: [], riskScore: 0, approvedAmount: 4999, tender: 'ORIGINAL' },
      candidate: { outcome: 'REVIEW', reasons: ['AMOUNT_OVER_AUTO_APPROVE_LIMIT'], riskScore: 0, approvedAmount: 0, tender: 'ORIGINAL' },
    });
  });

  it('takes a stored baseline as given, without deciding it again', async () => {
    const stored: SimulationItem = { ...items(1)[0]!, caseRef: 'decision-1', refundId: 'rf-0', baseline: d('DENY', ['STORED']) };
    const run = await runSimulation([[stored]], { candidate });
    expect(run.results[0]).toMatchObject({ caseRef: 'decision-1', refundId: 'rf-0', baseline: { outcome: 'DENY' }, candidate: { outcome: 'APPROVE' } });
    await expect(runSimulation([items(1)], { candidate })).rejects.toThrow('no stored baseline');
  });

  it('keeps only the results asked for, up to the cap, and still counts every case', async () => {
    const run = await runSimulation([items(6), items(6)], { baseline, candidate, keep: (r) => r.changed, maxKept: 4 });
    expect(run.results.map((r) => r.caseRef)).toEqual(['rf-1', 'rf-3', 'rf-5', 'rf-1']);
    expect(run.truncated).toBe(true);
    expect(run.tally.summary()).toMatchObject({ total: 12, changed: 6 });
  });

  it('records a case the candidate cannot decide as ERROR and goes on', async () => {
    // A candidate refusing to decide (as a pack whose fact schema rejects the facts would).
    const strict = Object.assign(Object.create(candidate) as BoundDecisionType, {
      decideValid: () => Promise.reject(new DomainError('RULE_FACTS_INVALID', 'facts do not match', 'invalid')),
    });
    const run = await runSimulation([items(2)], { baseline, candidate: strict });
    expect(run.results.map((r) => r.candidate.outcome)).toEqual(['ERROR', 'ERROR']);
    expect(run.results[0]!.candidate.error).toMatchObject({ code: 'RULE_FACTS_INVALID' });
    expect(run.tally.summary().transitions).toEqual({ 'APPROVE->ERROR': 2 });
  });

  it('yields to the event loop between slices and stops when aborted', async () => {
    const controller = new AbortController();
    let slices = 0;
    let timerRan = false;
    setImmediate(() => {
      timerRan = true;
    });
    const run = await runSimulation([items(2000)], {
      baseline,
      candidate,
      sliceMs: 1,
      signal: controller.signal,
      onSlice: (tally) => {
        slices++;
        expect(timerRan).toBe(true); // a macrotask queued before the run got its turn
        if (tally.done >= 200) controller.abort();
      },
    });
    expect(run.aborted).toBe(true);
    expect(slices).toBeGreaterThan(1);
    expect(run.tally.done).toBeGreaterThanOrEqual(200);
    expect(run.tally.done).toBeLessThan(2000);
  });

  it('ends with the error an onSlice callback rejects with', async () => {
    await expect(
      runSimulation([items(500)], {
        baseline,
        candidate,
        sliceMs: 0,
        onSlice: () => Promise.reject(new Error('progress store down')),
      }),
    ).rejects.toThrow('progress store down');
  });
});
