/**
 * `decisions audit verify <file.ndjson>`: recomputes the audit hash chain offline from GET /v1/audit/export's lines
 * (libs/audit/chain.ts is the definition the service uses too), one line at a time: any size of export, bounded memory.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ChainVerifier, type ChainBreak, type ChainedAuditRow } from '../../../libs/audit/index.js';
import type { Command } from '../command.js';
import { CliError } from '../output.js';

const STRINGS = ['id', 'tenant', 'at', 'actor', 'action', 'subjectType', 'subjectId', 'hash'] as const;

/** The line as a chained row, or what is wrong with it. */
function rowOf(value: unknown): ChainedAuditRow | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  const r = value as Record<string, unknown>;
  for (const k of STRINGS) if (typeof r[k] !== 'string') return `"${k}" must be a string`;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return '"seq" must be a positive integer';
  if (r.actorRole !== null && typeof r.actorRole !== 'string') return '"actorRole" must be a string or null';
  if (r.prevHash !== null && typeof r.prevHash !== 'string') return '"prevHash" must be a string or null';
  if (typeof r.details !== 'object' || r.details === null || Array.isArray(r.details)) return '"details" must be an object';
  return r as unknown as ChainedAuditRow;
}

interface TenantReport {
  tenant: string;
  /** The first seq in the file: from 1 the chain is checked from its genesis; later, its link to seq-1 is taken as given. */
  fromSeq: number;
  toSeq: number;
  checked: number;
  firstBroken: ChainBreak | null;
}

export const audit: Command = {
  name: 'audit',
  args: 'verify <file.ndjson>',
  summary: 'recompute the audit hash chain of an export (GET /v1/audit/export) offline; exit 1 naming the first broken link',
  async run({ io, positionals }) {
    const [sub, file, ...rest] = positionals;
    if (sub !== 'verify' || !file || rest.length) throw new CliError('usage: decisions audit verify <file.ndjson>', 2);
    const tenants = new Map<string, { verifier: ChainVerifier; report: TenantReport }>();
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    try {
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          throw new CliError(`${file}:${n}: not JSON`);
        }
        const row = rowOf(parsed);
        if (typeof row === 'string') throw new CliError(`${file}:${n}: ${row}`);
        let t = tenants.get(row.tenant);
        if (!t) {
          // An export of a time range starts inside the chain: its first row's link is the anchor.
          t = { verifier: new ChainVerifier({ seq: row.seq - 1, hash: row.seq === 1 ? null : row.prevHash }), report: { tenant: row.tenant, fromSeq: row.seq, toSeq: row.seq, checked: 0, firstBroken: null } };
          tenants.set(row.tenant, t);
        }
        t.verifier.push(row);
        t.report.toSeq = row.seq;
      }
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`${file}: ${(e as Error).message}`);
    }
    const reports = [...tenants.values()].map(({ verifier, report }) => ({ ...report, checked: verifier.checked, firstBroken: verifier.broken }));
    const ok = reports.every((r) => r.firstBroken === null);
    if (io.json) {
      io.out(JSON.stringify({ ok, tenants: reports }, null, 2));
    } else {
      if (reports.length === 0) io.out(`${file}: no rows`);
      for (const r of reports) {
        const span = `${r.tenant}: seq ${r.fromSeq}..${r.toSeq}${r.fromSeq > 1 ? ` (anchored on seq ${r.fromSeq}'s prevHash)` : ''}`;
        if (!r.firstBroken) io.out(`${span}: ok, ${r.checked} row(s)`);
        else io.out(`${span}: BROKEN at seq ${r.firstBroken.seq} (id ${r.firstBroken.id ?? '-'}): ${r.firstBroken.reason}, expected ${r.firstBroken.expected}, found ${r.firstBroken.found}`);
      }
    }
    return ok ? 0 : 1;
  },
};
