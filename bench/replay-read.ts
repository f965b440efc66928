/**
 * What reading a replay costs PostgreSQL, per stored decision: the replay's page query as it is (a row's JSON values as
 * columns of text, json_to_record over the answer column), as it was before that column (json_to_record over the stored
 * document, for outcome, reasons and the output fields), two shapes tried and not shipped (batches of 250 rows, each one
 * JSON text; each row one JSON text), the same rows without the document, and the document as text nobody parses. Each
 * line also gives this process's CPU per row: the pg client decoding what came back. 2,000 real refund decisions (trace included), copied to BENCH_READ_ROWS (default 100,000), walked
 * in keyset pages of 2,000, each variant BENCH_READ_ROUNDS times (default 3), alternating.
 *
 * Standalone, on a throwaway database of the server BENCH_DATABASE_URL names (default the local test server):
 * `node dist/bench/replay-read.js` after `npm run bench` compiled it (or `swc bench -d dist`).
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { decisionDocument } from '../apps/decision-api/decisions/decisions.service.js';
import { FileComponentSource, ReleaseCompiler } from '../libs/decisions/index.js';
import { answerJson, openDatabase, uuidv7 } from '../libs/persistence/index.js';
import { generateCases } from './cases.js';
import { runIfMain } from './stats.js';

const WHERE = `d.tenant = 'bench' and d.domain = 'refund' and d.purged_at is null and d.erased_at is null and (d.created_at, d.id) > ($1, $2) order by d.created_at, d.id limit 2000`;
// A variant's rows, or (batched) its batches of 250 with their row counts and the last row's key.
const VARIANTS: [string, string, 'rows' | 'batches'][] = [
  [
    'batches of 250 rows, each one JSON text (tried, not shipped)',
    `with page as (
       select d.id, d.created_at, json_build_array(d.id, d.case_data, d.features, x.outcome, x.reasons, x."refundId", x."riskScore", x."approvedAmount", x."tender") as r
       from decisions d cross join lateral json_to_record(coalesce(d.answer, d.document)) as x(outcome text, reasons json, "refundId" text, "riskScore" json, "approvedAmount" json, "tender" json)
       where ${WHERE}
     ), numbered as (select *, row_number() over (order by created_at, id) - 1 as n from page)
     select json_agg(r order by n)::text as batch, count(*)::int as rows,
            to_char((array_agg(created_at order by n desc))[1] at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at, (array_agg(id order by n desc))[1] as id
     from (select *, n / 250 as b from numbered) x group by b order by b`,
    'batches',
  ],
  [
    'each row one JSON text (tried, not shipped)',
    `select json_build_array(d.id, d.case_data, d.features, x.outcome, x.reasons, x."refundId", x."riskScore", x."approvedAmount", x."tender")::text as r,
            to_char(d.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at, d.id
     from decisions d cross join lateral json_to_record(coalesce(d.answer, d.document)) as x(outcome text, reasons json, "refundId" text, "riskScore" json, "approvedAmount" json, "tender" json)
     where ${WHERE}`,
    'rows',
  ],
  [
    'the replay page (json_to_record over the answer column, what replayPage reads)',
    `select d.id, to_char(d.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at, d.case_data::text as case_data, d.features::text as features, x.outcome, x.reasons::text as reasons, x."refundId" as refund_id,
            x."riskScore"::text as o0, x."approvedAmount"::text as o1, x."tender"::text as o2
     from decisions d cross join lateral json_to_record(coalesce(d.answer, d.document)) as x(outcome text, reasons json, "refundId" text, "riskScore" json, "approvedAmount" json, "tender" json)
     where ${WHERE}`,
    'rows',
  ],
  [
    'the replay page before the answer column (json_to_record over the document)',
    `select d.id, d.created_at, d.case_data::text as case_data, d.features::text as features, x.outcome, x.reasons::text as reasons, x."refundId" as refund_id,
            x."riskScore"::text as o0, x."approvedAmount"::text as o1, x."tender"::text as o2
     from decisions d cross join lateral json_to_record(d.document) as x(outcome text, reasons json, "refundId" text, "riskScore" json, "approvedAmount" json, "tender" json)
     where ${WHERE}`,
    'rows',
  ],
  ['the same rows without the document', `select d.id, d.created_at, d.case_data::text as case_data, d.features::text as features, d.outcome from decisions d where ${WHERE}`, 'rows'],
  ['the document as text, parsed by nobody', `select d.id, d.created_at, d.case_data::text as case_data, d.features::text as features, d.outcome, d.document::text as document from decisions d where ${WHERE}`, 'rows'],
];

export async function runReplayRead(o: { root: string; serverUrl: string; rows: number; rounds: number; log: (line: string) => void }): Promise<void> {
  const name = `dp_bench_read_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: o.serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(o.serverUrl);
  url.pathname = `/${name}`;
  try {
    const db = await openDatabase(url.toString(), { migrate: true, poolSize: 2 });
    const files = new FileComponentSource(o.root);
    const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
    const type = release.refund();
    const start = Date.parse('2026-03-01T00:00:00Z');
    const rows: unknown[][] = [];
    for (const [i, c] of generateCases(2_000, 42).entries()) {
      const at = new Date(start + i * 10);
      const id = uuidv7(at.getTime());
      const d = await type.decide(c);
      const doc = decisionDocument({ id, tenant: 'bench', createdAt: at.toISOString() }, type, c as unknown as Record<string, unknown>, d, release.ref);
      rows.push([id, 'bench', 'refund', d.outcome, d.output.riskScore, release.ref.name, release.ref.version, JSON.stringify(release.ref.components), JSON.stringify(c), JSON.stringify(doc), answerJson(doc), at, at]);
    }
    for (let i = 0; i < rows.length; i += 500) {
      const part = rows.slice(i, i + 500);
      await db.em().execute(
        `insert into decisions (id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at)
         values ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::json, ?::json, ?, ?)').join(', ')}`,
        part.flat(),
      );
    }
    await db.close();
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    // Copies 20 s apart, so the window holds o.rows decisions in (created_at, id) order.
    await c.query(
      `insert into decisions (id, tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at)
       select gen_random_uuid(), tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, document, answer, evaluated_at, created_at + g * interval '20 seconds'
       from decisions cross join generate_series(1, $1::int) g`,
      [Math.max(0, Math.ceil(o.rows / 2_000) - 1)],
    );
    await c.query('vacuum analyze decisions');
    const size = (await c.query(`select count(*)::int as n, avg(octet_length(document::text))::int as doc, avg(octet_length(case_data::text))::int as cas from decisions`)).rows[0] as { n: number; doc: number; cas: number };
    o.log(`replay read: ${size.n.toLocaleString('en-US')} decisions, document ${size.doc.toLocaleString('en-US')} bytes and case ${size.cas} bytes on average`);
    // Text as text: the driver's own JSON parsing would be client time, not PostgreSQL's.
    const asText = { getTypeParser: () => (v: string) => v };
    for (let round = 1; round <= o.rounds; round++) {
      for (const [label, sql, shape] of round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse()) {
        let after: unknown[] = [new Date(0), '00000000-0000-0000-0000-000000000000'];
        let n = 0;
        const t0 = performance.now();
        const cpu = process.cpuUsage();
        for (;;) {
          const r = await c.query({ text: sql, values: after, types: asText });
          if (r.rows.length === 0) break;
          n += shape === 'batches' ? (r.rows as { rows: string }[]).reduce((k, b) => k + Number(b.rows), 0) : r.rows.length;
          const last = r.rows[r.rows.length - 1] as { created_at: string; id: string };
          after = [last.created_at, last.id];
        }
        const used = process.cpuUsage(cpu);
        const ms = performance.now() - t0;
        o.log(`  round ${round}, ${label}: ${n.toLocaleString('en-US')} rows in ${ms.toFixed(0)} ms = ${((ms * 1000) / n).toFixed(1)} µs per row (round trips included), this process (the pg client decoding) ${((used.user + used.system) / n).toFixed(1)} µs of CPU per row`);
      }
    }
    await c.end();
  } finally {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

runIfMain(import.meta.url, () =>
  runReplayRead({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    serverUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    rows: Number(process.env.BENCH_READ_ROWS ?? 100_000),
    rounds: Number(process.env.BENCH_READ_ROUNDS ?? 3),
    log: (line) => console.log(line),
  }),
);
