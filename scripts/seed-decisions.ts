/**
 * Seeds refund decisions through the public API, for the replay walkthroughs (`decisions simulate … --replay-from …`):
 *
 *   npm run seed -- --decisions 5000 [--tenant acme] [--url http://127.0.0.1:3000] [--key <service key>] [--concurrency 8]
 *
 * It sends the cases of docs/examples/refund-cases.json over and over, each round with refund, order and customer ids
 * of its own (`rf_sim_001_1`, `ord_190792_1`, …), as `POST /v1/decisions/refund` under the Idempotency-Key `seed-<refundId>`: running it again
 * sends the same requests, which the service answers from what it stored, so nothing is decided twice. The key is
 * `--key` (or SEED_API_KEY), a key with the `service` role; without one it creates a key for `--tenant` with
 * ADMIN_TOKEN. It prints the window the decisions were made in, as the `--replay-from`/`--replay-to` to use.
 *
 * Run by the `node` devDependency (Node 24 runs TypeScript by stripping its types): plain Node, no imports from the
 * service, so it works on a fresh clone next to `npm start`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: number | undefined;
  /** The service answered from what it stored under this Idempotency-Key (header `Idempotent-Replayed: true`). */
  replayed: boolean;
}

const { values } = parseArgs({
  options: {
    decisions: { type: 'string', default: '2000' },
    tenant: { type: 'string', default: 'acme' },
    url: { type: 'string' },
    key: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`seed: ${message}\n`);
  process.exit(1);
}

if (values.help) {
  process.stdout.write('usage: npm run seed -- [--decisions 2000] [--tenant acme] [--url http://127.0.0.1:3000] [--key <service key>] [--concurrency 8]\n');
  process.exit(0);
}
const total = Number(values.decisions);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(total) || total < 1 || total > 100_000) fail(`--decisions must be a whole number from 1 to 100000, not "${values.decisions}"`);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) fail(`--concurrency must be a whole number from 1 to 64, not "${values.concurrency}"`);
const base = (values.url ?? process.env.DECISIONS_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');

async function call(method: string, path: string, headers: Record<string, string>, body: unknown): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  } catch (e) {
    fail(`cannot reach ${base} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}): is the service running (npm start)?`);
  }
  const text = await res.text();
  const retry = res.headers.get('retry-after');
  let parsed: Record<string, unknown>;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { detail: text };
  }
  return { status: res.status, body: parsed, retryAfter: retry === null ? undefined : Number(retry), replayed: res.headers.get('idempotent-replayed') === 'true' };
}

async function serviceKey(): Promise<string> {
  const given = values.key ?? process.env.SEED_API_KEY;
  if (given) return given;
  const admin = process.env.ADMIN_TOKEN;
  if (!admin) fail('give a key with the service role (--key or SEED_API_KEY), or set ADMIN_TOKEN (as `npm start` was given) to create one');
  const r = await call('POST', '/v1/admin/api-keys', { authorization: `Bearer ${admin}` }, { tenant: values.tenant, roles: ['service'], name: 'seed-decisions' });
  if (r.status !== 201 || typeof r.body.key !== 'string') fail(`creating a key for tenant ${values.tenant} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.key;
}

const cases = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'docs', 'examples', 'refund-cases.json'), 'utf8')) as Record<string, unknown>[];
const key = await serviceKey();

let next = 0;
let made = 0;
let replayed = 0;
let first = '';
let last = '';
const outcomes: Record<string, number> = {};

async function decide(i: number): Promise<void> {
  const source = cases[i % cases.length]!;
  // Each round is the file again with ids of its own: a refund, order and customer of an earlier round would count
  // against this one (the order's refunded amount, the customer's history), and the rounds would decide differently.
  const round = `_${Math.floor(i / cases.length) + 1}`;
  const refundId = `${String(source.refundId)}${round}`;
  const body = { case: { ...source, refundId, orderId: `${String(source.orderId)}${round}`, customerId: `${String(source.customerId)}${round}` } };
  for (;;) {
    const r = await call('POST', '/v1/decisions/refund', { authorization: `Bearer ${key}`, 'idempotency-key': `seed-${refundId}` }, body);
    // Busy, the database away for a moment, or the same key still in flight (a retried request racing its first
    // attempt): wait as told (or a moment) and send the same request again (same key: decided once).
    const inFlight = r.status === 409 && r.body.code === 'IDEMPOTENCY_KEY_IN_PROGRESS';
    if (((r.status === 429 || r.status === 503) && r.retryAfter !== undefined) || inFlight) {
      await new Promise((done) => setTimeout(done, Math.max(r.retryAfter ?? 1, 0.2) * 1000));
      continue;
    }
    if (r.status !== 201) fail(`decision ${refundId} answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (r.replayed) replayed++;
    else made++;
    const at = String(r.body.createdAt);
    if (!first || at < first) first = at;
    if (!last || at > last) last = at;
    const outcome = String(r.body.outcome);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    return;
  }
}

async function worker(): Promise<void> {
  while (next < total) {
    const i = next++;
    await decide(i);
    if ((made + replayed) % 1000 === 0) process.stderr.write(`seed: ${made + replayed} of ${total}\n`);
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
// The replay window is [from, to): one millisecond past the newest decision keeps it in.
const to = new Date(Date.parse(last) + 1).toISOString();
process.stdout.write(
  `seeded ${total} refund decisions for tenant ${values.tenant}: ${made} new, ${replayed} already there (same Idempotency-Key)\n` +
    `outcomes: ${Object.entries(outcomes)
      .sort()
      .map(([o, n]) => `${o} ${n}`)
      .join(', ')}\n` +
    `made from ${first} to ${last}; replay them with:\n` +
    `  --replay-from ${first} --replay-to ${to}\n`,
);
