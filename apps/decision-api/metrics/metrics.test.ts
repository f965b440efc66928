/**
 * The metrics kept as plain numbers (HotCounter, HotHistogram) render as prom-client's would: cumulative buckets,
 * escaped label values, a bounded number of series per metric.
 */
import { parsePrometheusText } from '../../../test/support/prometheus-text.js';
import { MAX_SERIES_PER_METRIC, MAX_SERIES_PER_TENANT, Metrics, OTHER_REASON, OVERFLOW } from './metrics.js';

const render = async (m: Metrics) => parsePrometheusText(await m.registry.metrics());

describe('Metrics', () => {
  it('renders histograms with cumulative buckets, +Inf, _sum and _count', async () => {
    const m = new Metrics();
    for (const s of [0.0005, 0.003, 0.003, 20]) m.evaluated('acme', 'refund', s);
    const text = await render(m);
    const bucket = (le: string) => text.value('decision_platform_decision_evaluation_seconds_bucket', { tenant: 'acme', type: 'refund', le });
    expect([bucket('0.001'), bucket('0.0025'), bucket('0.005'), bucket('10'), bucket('+Inf')]).toEqual([1, 1, 3, 3, 4]);
    expect(text.value('decision_platform_decision_evaluation_seconds_count', { tenant: 'acme', type: 'refund' })).toBe(4);
    expect(text.value('decision_platform_decision_evaluation_seconds_sum', { tenant: 'acme', type: 'refund' })).toBeCloseTo(20.0065, 10);
    expect(text.types.get('decision_platform_decision_evaluation_seconds')).toBe('histogram');
  });

  it('escapes label values a tenant chose (quotes, backslashes, newlines) so the text still parses', async () => {
    const m = new Metrics();
    const release = 'odd"rel\\with\nnewline@1.0.0';
    m.decided('acme', 'refund', release, 'DENY', [{ code: 'LOW_SCORE' }, { code: 'LOW_SCORE' }]);
    const text = await render(m);
    expect(text.value('decision_platform_decision_reasons_total', { tenant: 'acme', type: 'refund', outcome: 'DENY', reason: 'LOW_SCORE' })).toBe(2);
    expect(text.value('decision_platform_decisions_total', { tenant: 'acme', type: 'refund', outcome: 'DENY', release })).toBe(1);
  });

  it(`labels a reason code only when it looks like one (upper case, digits, _; up to 64), else ${OTHER_REASON}`, async () => {
    const m = new Metrics();
    const odd = ['ODD"CODE\\with\nnewline', 'lower_case', '1STARTS_WITH_DIGIT', 'A'.repeat(65), '', 'customer cus-123 is risky'];
    m.decided('acme', 'refund', 'r@1.0.0', 'DENY', [...odd.map((code) => ({ code })), { code: 'A' }, { code: `A${'B'.repeat(63)}` }]);
    const reasons = (await render(m)).matching('decision_platform_decision_reasons_total');
    expect(new Map(reasons.map((s) => [s.labels.reason, s.value]))).toEqual(new Map([[OTHER_REASON, odd.length], ['A', 1], [`A${'B'.repeat(63)}`, 1]]));
  });

  it(`holds at most ${MAX_SERIES_PER_TENANT} series per tenant in a metric; past that, one series for that tenant alone`, async () => {
    const m = new Metrics();
    for (let i = 0; i < MAX_SERIES_PER_TENANT + 5; i++) m.decided('noisy', 'refund', `r@1.0.${i}`, 'APPROVE', [{ code: `CODE_${i}` }]);
    m.decided('quiet', 'refund', 'r@1.0.0', 'APPROVE', [{ code: 'OK' }]);
    const text = await render(m);
    for (const name of ['decision_platform_decisions_total', 'decision_platform_decision_reasons_total']) {
      const series = text.matching(name);
      expect(series.filter((s) => s.labels.tenant === 'noisy')).toHaveLength(MAX_SERIES_PER_TENANT + 1);
      const overflow = series.filter((s) => s.labels.tenant === 'noisy' && Object.entries(s.labels).every(([k, v]) => k === 'tenant' || v === OVERFLOW));
      expect(overflow.map((s) => s.value)).toEqual([5]);
      expect(series.filter((s) => s.labels.tenant === 'quiet').map((s) => s.value)).toEqual([1]);
    }
  });

  it(`holds at most ${MAX_SERIES_PER_METRIC} series per metric; later label sets are counted under ${OVERFLOW}`, async () => {
    const m = new Metrics();
    for (let i = 0; i < MAX_SERIES_PER_METRIC + 5; i++) m.decided(`t${i}`, 'refund', 'r@1.0.0', 'APPROVE', []);
    m.decided('t0', 'refund', 'r@1.0.0', 'APPROVE', []);
    const series = (await render(m)).matching('decision_platform_decisions_total');
    expect(series).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    expect(series.find((s) => s.labels.tenant === OVERFLOW)).toEqual({ name: 'decision_platform_decisions_total', labels: { tenant: OVERFLOW, type: OVERFLOW, outcome: OVERFLOW, release: OVERFLOW }, value: 5 });
    expect(series.find((s) => s.labels.tenant === 't0')?.value).toBe(2);
  });

  it('two apps in one process keep separate registries', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.rateLimitRefused('api_key');
    expect((await render(a)).value('decision_platform_rate_limited_total', { limit: 'api_key' })).toBe(1);
    expect((await render(b)).value('decision_platform_rate_limited_total', { limit: 'api_key' })).toBe(0);
  });
});
