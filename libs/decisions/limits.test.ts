/** What one decision stores and answers is bounded, whatever the pack's parameters, fact values or policies say. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PACK_LIMITS } from '../rules/index.js';
import { boundTrace, DECISION_LIMITS, TRACE_LIMIT_RULE } from './limits.js';
import { FileComponentSource, ReleaseCompiler, type ComponentSource, type TraceEntry } from './index.js';

const root = resolve(import.meta.dirname, '../..');
const files = new FileComponentSource(root);
const read = (path: string) => JSON.parse(readFileSync(resolve(root, path), 'utf8')) as Record<string, any>;
const firstCase = () => (read('docs/examples/refund-cases.json') as unknown as { case?: Record<string, unknown> }[])[0]!;

describe('boundTrace', () => {
  const entry = (i: number): TraceEntry => ({ source: 'p@1.0.0', rule: `r${i}`, fired: i % 2 === 0, conditions: { all: [{ value: 'x'.repeat(100) }] } });

  it('leaves a trace within the limit as it is', () => {
    const trace = [entry(0), entry(1)];
    expect(boundTrace(trace, 10_000)).toBe(trace);
  });

  it('over the limit: source, rule and fired of as many entries as fit, then an entry saying so', () => {
    const trace = Array.from({ length: 100 }, (_, i) => entry(i));
    const bounded = boundTrace(trace, 2_048);
    expect(JSON.stringify(bounded).length).toBeLessThanOrEqual(2_048);
    const last = bounded.at(-1)!;
    expect(last).toMatchObject({ source: 'platform', rule: TRACE_LIMIT_RULE, entries: 100, kept: bounded.length - 1 });
    expect(bounded.slice(0, -1)).toEqual(trace.slice(0, bounded.length - 1).map(({ source, rule, fired }) => ({ source, rule, fired })));
    expect(boundTrace(trace, 2_048)).toEqual(bounded); // a replay makes the same trace
  });
});

describe('a decision answer is never megabytes', () => {
  it(`the largest pack allowed, each rule tracing a 30 KB parameter: the trace stays under ${DECISION_LIMITS.maxTraceBytes / 1024} KiB`, async () => {
    const pack = read('rule-packs/refund-policy/1.0.0.json');
    pack.version = '9.0.0';
    pack.parameters.currencies = Array.from({ length: 1_000 }, (_, i) => `C${String(i).padStart(27, '0')}`);
    const extra = PACK_LIMITS.maxRules - pack.rules.length;
    for (let i = 0; i < extra; i++) {
      pack.rules.push({
        name: `unusual-currency-${i}`,
        conditions: { all: [{ fact: 'currency', operator: 'in', value: { param: 'currencies' } }] },
        event: { type: 'REVIEW', params: { code: 'UNUSUAL_CURRENCY', message: 'never fires for a real currency' } },
      });
    }
    const source: ComponentSource = {
      pack: (name, version) => (name === 'refund-policy' && version === '9.0.0' ? Promise.resolve(pack) : files.pack(name, version)),
      bundle: (name, version) => files.bundle(name, version),
      type: (name, version) => files.type(name, version),
    };
    const release = await new ReleaseCompiler(source).compile({ name: 'big', version: '1.0.0', components: { 'refund-policy': '9.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } });
    const c = firstCase();
    const decided = await release.refund().decide(c.case ?? c, '');
    const text = JSON.stringify(decided);
    expect(text.length).toBeLessThan(DECISION_LIMITS.maxTraceBytes + 64 * 1024); // the trace, the reasons, the outputs
    expect(JSON.stringify(decided.trace).length).toBeLessThanOrEqual(DECISION_LIMITS.maxTraceBytes);
    // Every rule and policy signal is still listed, with whether it fired.
    const kept = decided.trace.length - 1;
    expect(kept).toBeGreaterThan(PACK_LIMITS.maxRules);
    expect(decided.trace.at(-1)).toMatchObject({ rule: TRACE_LIMIT_RULE, entries: kept, kept });
    // The outcome is the pack's: only the trace's details are cut.
    expect(decided.trace.filter((t) => t.fired && t.rule.startsWith('unusual-currency'))).toEqual([]);
  });

  it('the shipped release traces everything, far under the limit', async () => {
    const release = await new ReleaseCompiler(files).compile(read('releases/default/1.1.0.json') as never);
    const c = firstCase();
    const decided = await release.refund().decide(c.case ?? c, '');
    expect(decided.trace.some((t) => t.rule === TRACE_LIMIT_RULE)).toBe(false);
    expect(JSON.stringify(decided.trace).length).toBeLessThan(DECISION_LIMITS.maxTraceBytes / 16);
  });
});
