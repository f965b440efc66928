/**
 * `decisions simulate <release.json> --cases <file> | --replay-from <iso> --replay-to <iso>`: what the candidate release
 * would decide differently. Big runs answer 202: poll with a progress bar on stderr (Ctrl-C cancels), then a report.
 */
import { isName, isSemver } from '../../../libs/names/index.js';
import { access, readFile } from 'node:fs/promises';
import { str, type Command } from '../command.js';
import type { ApiClient } from '../http.js';
import { CliError, fmt, ProgressBar, table, type Io } from '../output.js';

const POLL_MS = 500;

interface Decision {
  outcome: string;
  reasons: string[];
  riskScore: number | null;
  approvedAmount: number | null;
  tender: string | null;
  error?: { code: string };
}
interface Job {
  id: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  release?: { name: string; version: string; components: Record<string, string> };
  baseline?: { kind: string; release?: { name: string; version: string }; from?: string; to?: string; limit?: number; windowHasMore?: boolean };
  progress: { done: number; total: number };
  summary?: {
    total: number;
    changed: number;
    transitions: Record<string, number>;
    reasonCodes: { added: Record<string, number>; removed: Record<string, number> };
    outcomes?: { baseline: Record<string, number>; candidate: Record<string, number> };
  };
  resultsKept?: 'all' | 'changed';
  resultsTruncated?: boolean;
  results?: { caseRef: string; changed: boolean; refundId?: string; baseline: Decision; candidate: Decision }[];
  error?: { code: string; message: string };
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError(`${what} ${file}: no such file`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CliError(`${what} ${file}: not valid JSON: ${(e as Error).message}`);
  }
}

const pct = (n: number, total: number) => (total ? `${((n / total) * 100).toFixed(1)}%` : '0.0%');
const signed = (n: number) => (n > 0 ? `+${fmt(n)}` : n < 0 ? `-${fmt(-n)}` : '0');
const side = (d: Decision) => (d.error ? `ERROR ${d.error.code}` : d.outcome);

/** What differs in one case besides the outcome: reason codes, then tender, amount and score. */
function changes(b: Decision, c: Decision): string {
  const out = [
    ...c.reasons.filter((x) => !b.reasons.includes(x)).map((x) => `+${x}`),
    ...b.reasons.filter((x) => !c.reasons.includes(x)).map((x) => `-${x}`),
  ];
  if (b.tender !== c.tender) out.push(`tender ${b.tender ?? '-'} -> ${c.tender ?? '-'}`);
  if (b.approvedAmount !== c.approvedAmount) out.push(`amount ${b.approvedAmount ?? '-'} -> ${c.approvedAmount ?? '-'}`);
  if (b.riskScore !== c.riskScore) out.push(`score ${b.riskScore ?? '-'} -> ${c.riskScore ?? '-'}`);
  return out.join(' ');
}

export function report(job: Job, show: number): string[] {
  const s = job.summary;
  const lines: string[] = [];
  const candidate = job.release ? `${job.release.name}@${job.release.version}` : 'the candidate';
  const baseline =
    job.baseline?.kind === 'release' && job.baseline.release
      ? `the active release ${job.baseline.release.name}@${job.baseline.release.version}`
      : job.baseline?.kind === 'stored-decisions'
        ? `the stored decisions from ${job.baseline.from} to ${job.baseline.to}${job.baseline.windowHasMore ? ` (first ${fmt(job.baseline.limit ?? 0)}; the window holds more)` : ''}`
        : 'the baseline';
  lines.push(`simulation ${job.id}: ${job.status}${job.error ? ` (${job.error.code}: ${job.error.message})` : ''}`);
  lines.push(`candidate ${candidate} vs ${baseline}`);
  if (!s || s.total === 0) {
    if (s) lines.push('no cases to compare');
    return lines;
  }
  lines.push(`${fmt(s.total)} cases${job.progress.total !== s.total ? ` of ${fmt(job.progress.total)}` : ''}, ${fmt(s.changed)} changed (${pct(s.changed, s.total)})`, '');

  if (s.outcomes) {
    const names = [...new Set([...Object.keys(s.outcomes.baseline), ...Object.keys(s.outcomes.candidate)])].sort();
    const rows = names.map((o) => {
      const [b, c] = [s.outcomes!.baseline[o] ?? 0, s.outcomes!.candidate[o] ?? 0];
      return [o, fmt(b), fmt(c), signed(c - b)];
    });
    lines.push(...table(['outcome', 'baseline', 'candidate', 'change'], rows), '');
  }
  const transitions = Object.entries(s.transitions).sort(([, a], [, b]) => b - a);
  if (transitions.length) {
    lines.push(...table(['transition', 'cases', 'share'], transitions.map(([t, n]) => [t.replace('->', ' -> '), fmt(n), pct(n, s.total)])), '');
  } else {
    lines.push('no outcome changes', '');
  }
  const codes = [...new Set([...Object.keys(s.reasonCodes.added), ...Object.keys(s.reasonCodes.removed)])].sort();
  if (codes.length) {
    lines.push(...table(['reason code', 'added', 'removed'], codes.map((c) => [c, fmt(s.reasonCodes.added[c] ?? 0), fmt(s.reasonCodes.removed[c] ?? 0)])), '');
  }
  const changed = (job.results ?? []).filter((r) => r.changed);
  if (changed.length && show > 0) {
    const kept = job.resultsTruncated ? `; the server kept the first ${fmt(changed.length)}, the rest are only counted` : '';
    lines.push(`changed cases (${fmt(Math.min(show, changed.length))} of ${fmt(s.changed)} shown${kept}):`);
    const rows = changed
      .slice(0, show)
      .map((r) => [r.refundId ? `${r.caseRef} (${r.refundId})` : r.caseRef, side(r.baseline), side(r.candidate), changes(r.baseline, r.candidate)]);
    lines.push(...table(['case', 'baseline', 'candidate', 'what changed'], rows));
  }
  while (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** `name@version` of a release, with the platform's own name and version rules. */
function releaseRef(arg: string): [string, string] | undefined {
  const at = arg.lastIndexOf('@');
  const [name, version] = [arg.slice(0, at), arg.slice(at + 1)];
  return at > 0 && isName(name) && isSemver(version) ? [name, version] : undefined;
}

/** The candidate from a release file, or `name@version` of a release already created (GET /v1/releases/{name}/{version}). */
async function candidate(api: ApiClient, arg: string): Promise<{ name: unknown; version: unknown; components: unknown }> {
  const ref = releaseRef(arg);
  const isFile = await access(arg).then(
    () => true,
    () => false,
  );
  if (ref && !isFile) {
    const r = (await api.get<Record<string, unknown>>(`/v1/releases/${encodeURIComponent(ref[0])}/${encodeURIComponent(ref[1])}`)).body;
    return { name: r.name, version: r.version, components: r.components };
  }
  const manifest = (await readJson(arg, 'release')) as Record<string, unknown>;
  return { name: manifest.name, version: manifest.version, components: manifest.components };
}

/** Polls until the job leaves `running`; Ctrl-C asks the API to cancel it. */
async function follow(io: Io, api: ApiClient, first: Job): Promise<Job> {
  const bar = new ProgressBar(io);
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    let job = first;
    for (;;) {
      bar.update(job.progress.done, job.progress.total);
      if (interrupted) {
        bar.finish();
        io.err(`cancelling simulation ${job.id}…`);
        return (await api.post<Job>(`/v1/simulations/${job.id}/cancel`)).body;
      }
      if (job.status !== 'running') {
        bar.finish();
        return job;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      job = (await api.get<Job>(`/v1/simulations/${job.id}`)).body;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

export const simulate: Command = {
  name: 'simulate',
  args: '<release.json|name@version> (--cases <file.json> | --replay-from <iso> --replay-to <iso> [--limit <n>]) [--show <n>]',
  summary: 'what-if: decide cases (or replay stored decisions) on a candidate release and report what changes',
  options: {
    cases: { type: 'string' },
    'replay-from': { type: 'string' },
    'replay-to': { type: 'string' },
    limit: { type: 'string' },
    show: { type: 'string' },
  },
  async run({ io, positionals, values, client }) {
    if (positionals.length !== 1) throw new CliError('simulate needs one candidate: a release file {"name","version","components":{…}} or name@version', 2);
    const casesFile = str(values, 'cases');
    const from = str(values, 'replay-from');
    const to = str(values, 'replay-to');
    if (Boolean(casesFile) === Boolean(from || to)) throw new CliError('give either --cases <file> or --replay-from and --replay-to', 2);
    if (!casesFile && !(from && to)) throw new CliError('a replay needs both --replay-from and --replay-to', 2);
    const limit = str(values, 'limit');
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new CliError('--limit must be a whole number', 2);
    const show = Number(str(values, 'show') ?? '10');
    if (!Number.isInteger(show) || show < 0) throw new CliError('--show must be a whole number', 2);

    const api = client();
    const release = await candidate(api, positionals[0]!);
    let body: Record<string, unknown>;
    if (casesFile) {
      const parsed = await readJson(casesFile, 'cases');
      const cases = Array.isArray(parsed) ? parsed : (parsed as { cases?: unknown }).cases;
      if (!Array.isArray(cases)) throw new CliError(`cases ${casesFile}: expected a JSON array of refund cases (or {"cases": […]})`);
      body = { domain: 'refund', release, cases };
    } else {
      body = { domain: 'refund', release, replay: { from, to, ...(limit ? { limit: Number(limit) } : {}) } };
    }

    const answer = await api.post<Job>('/v1/simulations', body);
    const job = answer.status === 202 ? await follow(io, api, answer.body) : answer.body;
    if (io.json) io.out(JSON.stringify(job, null, 2));
    else for (const line of report(job, show)) io.out(line);
    return job.status === 'completed' ? 0 : job.status === 'cancelled' ? 130 : 1;
  },
};
