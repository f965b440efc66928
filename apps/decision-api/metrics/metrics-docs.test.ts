/**
 * The Grafana dashboard (docs/grafana/decision-platform.json) and the alert rules (docs/prometheus/alerts.yml) use
 * only metrics the service registers (metrics.ts), so neither can drift from the code: a renamed metric fails here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { Metrics } from './metrics.js';

const root = resolve(import.meta.dirname, '../../..');
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'and', 'or', 'unless', 'bool', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: identifiers left once strings, label matchers, ranges, grouping
 * lists and function names are taken out. `label_values(metric, label)` (a Grafana query) reads its first argument.
 */
export function metricNames(expr: string): string[] {
  let e = expr.replace(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,[^)]*\)/g, ' $1 ');
  e = e.replace(/"(?:[^"\\]|\\.)*"/g, ' ').replace(/'(?:[^'\\]|\\.)*'/g, ' ');
  e = e.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  e = e.replace(/\boffset\s+\d+[smhdwy]/g, ' ');
  const names: string[] = [];
  for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = e.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    // A number's exponent or a duration's unit is not a name.
    const before = e[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    names.push(m[0]);
  }
  return names;
}

/** Every `expr` and query string in a Grafana dashboard, wherever it sits (panels, rows, templating, annotations). */
function dashboardExpressions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) dashboardExpressions(n, out);
  else if (node !== null && typeof node === 'object') {
    // A datasource variable's query is a plugin type ("prometheus"), not PromQL.
    if ((node as { type?: unknown }).type === 'datasource' && 'query' in node) return out;
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'query' || k === 'definition') && typeof v === 'string') out.push(v);
      else dashboardExpressions(v, out);
    }
  }
  return out;
}

const registered = new Set(new Metrics().names());
/** A histogram's series carry suffixes of its name. */
const known = (name: string) => registered.has(name) || ['_bucket', '_sum', '_count'].some((s) => name.endsWith(s) && registered.has(name.slice(0, -s.length)));

describe('metricNames', () => {
  it('finds the metrics of an expression, not its functions, labels, strings, ranges or keywords', () => {
    expect(
      metricNames('sum by (tenant, type) (rate(a_total{outcome=~"APPROVE|ALLOW", x="y{z}"}[1h] offset 1d)) / on (tenant) group_left b_seconds_bucket > 1e3 and c'),
    ).toEqual(['a_total', 'b_seconds_bucket', 'c']);
    expect(metricNames('label_values(decision_platform_decisions_total, tenant)')).toEqual(['decision_platform_decisions_total']);
  });
});

describe('docs/grafana/decision-platform.json', () => {
  const dashboard = JSON.parse(readFileSync(resolve(root, 'docs/grafana/decision-platform.json'), 'utf8')) as {
    templating: { list: { name: string; type: string; query: unknown }[] };
    panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
  };

  it('reads its data from a Prometheus datasource variable', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) {
      expect({ title: p.title, uid: p.datasource?.uid }).toEqual({ title: p.title, uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
    }
  });

  it('uses only metrics the service registers', () => {
    const expressions = dashboardExpressions(dashboard);
    expect(expressions.length).toBeGreaterThan(20);
    for (const expr of expressions) {
      const names = metricNames(expr);
      expect({ expr, names: names.length > 0 }).toEqual({ expr, names: true });
      expect({ expr, unknown: names.filter((n) => !known(n)) }).toEqual({ expr, unknown: [] });
    }
  });
});

describe('docs/prometheus/alerts.yml', () => {
  const rules = (YAML.parse(readFileSync(resolve(root, 'docs/prometheus/alerts.yml'), 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);

  it('has the alerts the issue asks for: approval rate shift, review SLA breaches, integrity violations, error ratio', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['DecisionApprovalRateShift', 'ReviewSlaBreached', 'LedgerIntegrityViolated', 'HttpErrorRatioHigh']));
  });

  it('uses only metrics the service registers', () => {
    for (const r of rules) {
      const names = metricNames(r.expr);
      expect({ alert: r.alert, names: names.length > 0 }).toEqual({ alert: r.alert, names: true });
      expect({ alert: r.alert, unknown: names.filter((n) => !known(n)) }).toEqual({ alert: r.alert, unknown: [] });
    }
  });
});
