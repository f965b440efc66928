/** Printing: errors (API, local validation, other), aligned tables and a progress bar. */
import { DomainError } from '../../libs/errors/index.js';
import { ApiError, ConnectionError } from './http.js';

/** A mistake on the command line (exit 2) or a local failure with a message of its own (exit 1). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** `--json`: machine output on stdout, one JSON document. */
  json: boolean;
  /** stderr is a terminal: draw the progress bar in place. */
  tty: boolean;
}

export const processIo = (json: boolean): Io => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  json,
  tty: Boolean(process.stderr.isTTY),
});

function detailLine(d: { path: string; message: string; rule?: string }): string {
  return `  ${d.path || '/'}${d.rule ? ` (rule ${d.rule})` : ''}: ${d.message}`;
}

/** `error CODE: detail` and one line per offending path; with --json the problem document goes to stdout too. */
export function printError(io: Io, e: unknown): void {
  if (e instanceof ApiError) {
    io.err(`error ${e.code}: ${e.detail}`);
    for (const d of e.errors) io.err(detailLine(d));
    if (io.json) io.out(JSON.stringify(e.problem ?? { status: e.status, code: e.code, detail: e.detail }, null, 2));
  } else if (e instanceof DomainError) {
    io.err(`error ${e.code}: ${e.message}`);
    for (const d of e.errors) io.err(detailLine(d));
    if (io.json) io.out(JSON.stringify({ code: e.code, detail: e.message, errors: e.errors }, null, 2));
  } else if (e instanceof CliError || e instanceof ConnectionError) {
    io.err(`error: ${e.message}`);
  } else {
    io.err(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

export const fmt = (n: number): string => n.toLocaleString('en-US');

/** Columns padded to their widest cell; numeric-looking cells are right-aligned. */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => /^[+-]?[\d,.%]+$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** A progress bar redrawn in place on a terminal; elsewhere a line per 10% step. */
export class ProgressBar {
  private lastStep = -1;
  private drawn = false;

  constructor(private readonly io: Io) {}

  update(done: number, total: number): void {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const pct = Math.floor(ratio * 100);
    if (this.io.tty) {
      const width = 30;
      const filled = Math.round(ratio * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%  ${fmt(done)}/${fmt(total)} cases`);
      this.drawn = true;
      return;
    }
    const step = Math.floor(pct / 10);
    if (step !== this.lastStep) {
      this.lastStep = step;
      this.io.err(`progress ${String(pct).padStart(3)}%  ${fmt(done)}/${fmt(total)} cases`);
    }
  }

  finish(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}

/** `name@version (a@1.0.0, b@1.2.0)` from whatever release document the API answered. */
export function describeRelease(body: unknown): string {
  const b = (body ?? {}) as { name?: string; version?: string; components?: Record<string, string>; release?: unknown; active?: unknown };
  const inner = (b.release ?? b.active) as typeof b | undefined;
  const r = b.name ? b : inner?.name ? inner : undefined;
  if (!r) return JSON.stringify(body);
  const parts = Object.entries(r.components ?? {}).map(([n, v]) => `${n}@${v}`);
  return `${r.name}@${r.version}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
