/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line must be a HELP or TYPE comment or a
 * sample `name{label="value",…} value`, names and label names as the format allows, escapes as it defines, each sample
 * of a family TYPE declared before it. Throws naming the first line it cannot read.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  /** The value of the one sample with exactly these labels (undefined: no such sample). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name` whose labels include `labels`. */
  matching(name: string, labels?: Record<string, string>): Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan` for a NaN. */
function parseValue(raw: string, line: number): number {
  if (/^\+?inf$/i.test(raw)) return Infinity;
  if (/^-inf$/i.test(raw)) return -Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`line ${line}: not a number: ${raw}`);
  return Number(raw);
}

/** `{a="x",b="y"}` from position 0 of `s`; answers the labels and where the block ends. */
function parseLabels(s: string, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = 1;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without '='`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    if (s[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const next = s[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next ?? ''}`);
      } else value += s[j];
    }
    if (j >= s.length) throw new Error(`line ${line}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`line ${line}: expected ',' or '}' after label ${name}`);
  }
  return { labels, end: i + 1 };
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
export function familyOf(name: string, types: ReadonlyMap<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return name;
}

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((l, index) => {
    const line = index + 1;
    if (l === '') return;
    if (l.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(l);
      if (!m) return; // other comments are allowed
      if (!NAME.test(m[2]!)) throw new Error(`line ${line}: bad metric name ${m[2]}`);
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3]!)) throw new Error(`line ${line}: unknown type ${m[3]}`);
        if (types.has(m[2]!)) throw new Error(`line ${line}: ${m[2]} typed twice`);
        types.set(m[2]!, m[3]!);
      }
      return;
    }
    const nameEnd = l.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`line ${line}: not a sample: ${l}`);
    const name = l.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
    let rest = l.slice(nameEnd);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest, line);
      labels = parsed.labels;
      rest = rest.slice(parsed.end);
    }
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`line ${line}: expected a value (and a timestamp): ${l}`);
    if (!types.has(familyOf(name, types))) throw new Error(`line ${line}: sample ${name} before its TYPE`);
    samples.push({ name, labels, value: parseValue(parts[0]!, line) });
  });
  const includes = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);
  return {
    samples,
    types,
    matching: (name, labels = {}) => samples.filter((s) => s.name === name && includes(s.labels, labels)),
    value: (name, labels = {}) => {
      const exact = samples.filter((s) => s.name === name && includes(s.labels, labels) && Object.keys(s.labels).length === Object.keys(labels).length);
      if (exact.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${exact.length} samples`);
      return exact[0]?.value;
    },
  };
}
