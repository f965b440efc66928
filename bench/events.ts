/**
 * Outbox delivery lag (issue 9): the built service on PostgreSQL under refund decision load (BENCH_CONNECTIONS for
 * BENCH_SECONDS), with a webhook endpoint at a local node:http receiver subscribed to every event type. Probe events are
 * release activations and rollbacks from one more client, one at a time: the i-th release.activated received (the
 * endpoint gets them in order) is the i-th probe answered. Lag = receipt − the probe's HTTP answer, which comes just
 * after its commit: the relay's poll, the dispatcher and the webhook POST (0 when the webhook came first). The
 * activation's own work (compiling the release, running its packs' tests: seconds under load) is not in it; receipt −
 * occurredAt (the request's start) is reported too, as the bound that includes it. Every decision writes
 * decision.created with occurredAt = its record time (taken as the request is handled, before its commit): receipt −
 * occurredAt of those is the lag under load, the decision's own transaction included. Target: p99 ≤ 1 s.
 */
import { spawn } from 'node:child_process';
import { generateCases } from './cases.js';
import { request, withBenchService } from './ledger.js';
import { summarise, type Summary } from './stats.js';

export interface EventsBenchOptions {
  root: string;
  serverUrl: string;
  connections: number;
  seconds: number;
  seed: number;
  log: (line: string) => void;
}

export interface EventsBenchResult {
  decisions: { count: number; perSecond: number; non2xx: number };
  /** Lag of the probe events from their commit (their HTTP answer) to receipt (microseconds in the Summary fields). */
  lag: Summary;
  /** From the probe request's start (occurredAt) to receipt: the activation's own work included. */
  fromRequest: Summary;
  /** decision.created: receipt − occurredAt (the decision's record time). */
  decisionLag: Summary;
  /** decision.created events not received within the drain wait. */
  decisionsMissing: number;
  probes: number;
  received: Record<string, number>;
  /** Probe events never received within the drain wait. */
  missing: number;
}

const RECEIVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const e = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    process.stdout.write(at + ' ' + e.type + ' ' + e.occurredAt + '\\n');
    res.writeHead(204).end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const EVENT_TYPES = ['decision.created', 'refund.state_changed', 'review.created', 'review.resolved', 'review.overdue', 'ledger.integrity_violated', 'release.activated'];
/** How long to wait after the load for the last probe events. */
const DRAIN_MS = 30_000;

export async function runEventsBench(o: EventsBenchOptions): Promise<EventsBenchResult> {
  const receipts: number[] = [];
  const fromRequestNs: number[] = [];
  const decisionLagNs: number[] = [];
  const received: Record<string, number> = {};
  // The receiver is a process of its own, as a real one would be: the load generator's busy event loop must not slow
  // its answers (an endpoint's events go one after the other). It prints "<receivedAtMs> <type> <occurredAt>" lines.
  const receiver = spawn(process.execPath, ['--input-type=module', '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let partial = '';
    let first = true;
    receiver.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
    receiver.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (first) {
          first = false;
          resolve(Number(line));
          continue;
        }
        const [at, type, occurredAt] = line.split(' ') as [string, string, string];
        received[type] = (received[type] ?? 0) + 1;
        if (type === 'decision.created') decisionLagNs.push((Number(at) - Date.parse(occurredAt)) * 1e6);
        if (type === 'release.activated') {
          receipts.push(Number(at));
          fromRequestNs.push((Number(at) - Date.parse(occurredAt)) * 1e6);
        }
      }
    });
  });
  const addr = { port };
  try {
    return await withBenchService(o, 'events', o.connections + 2, ['service', 'publisher', 'admin'], async ({ agent, port, key }) => {
      const run = Date.now().toString(36);
      let seq = 0;
      const headers = (k: string, json = true) => ({
        authorization: `Bearer ${key}`,
        ...(json ? { 'content-type': 'application/json' } : {}),
        'idempotency-key': `${run}-${k}-${++seq}`,
      });
      const hook = await request(agent, port, 'POST', '/v1/webhooks', headers('hook'), JSON.stringify({ url: `http://127.0.0.1:${addr.port}/`, events: EVENT_TYPES }));
      if (hook.status !== 201) throw new Error(`registering the webhook failed: ${hook.status} ${hook.body}`);
      const cases = generateCases(4_096, o.seed);
      let decisions = 0;
      let created = 0;
      let non2xx = 0;
      const answered: number[] = [];
      let probeFailure = '';
      const deadline = Date.now() + o.seconds * 1000;
      const decide = async () => {
        for (let n = 0; Date.now() < deadline; n++) {
          const c = { ...cases[(seq + n) % cases.length]!, refundId: `rf-${run}-${seq}` };
          const r = await request(agent, port, 'POST', '/v1/decisions/refund', headers('d'), JSON.stringify({ case: c }));
          decisions++;
          if (r.status >= 300) non2xx++;
          else created++;
        }
      };
      const probe = async () => {
        while (Date.now() < deadline) {
          const a = await request(agent, port, 'POST', '/v1/releases/default/1.0.0/activate', headers('a', false));
          if (a.status === 200) answered.push(Date.now());
          const b = await request(agent, port, 'POST', '/v1/releases/rollback', headers('r', false));
          if (b.status === 200) answered.push(Date.now());
          if ((a.status !== 200 || b.status !== 200) && !probeFailure) probeFailure = `${a.status} ${a.body.slice(0, 200)} / ${b.status} ${b.body.slice(0, 200)}`;
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      o.log(`  events: ${o.connections} decision connections + 1 probe client, ${o.seconds} s; webhook at a local receiver`);
      const t0 = Date.now();
      await Promise.all([...Array.from({ length: o.connections }, decide), probe()]);
      const elapsed = Date.now() - t0;
      const until = Date.now() + DRAIN_MS;
      while ((receipts.length < answered.length || decisionLagNs.length < created) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      if (probeFailure) o.log(`  first probe failure: ${probeFailure}`);
      const lagsNs = receipts.slice(0, answered.length).map((at, i) => Math.max(0, at - answered[i]!) * 1e6);
      const lag = summarise(Float64Array.from(lagsNs), elapsed * 1e6);
      const fromRequest = summarise(Float64Array.from(fromRequestNs), elapsed * 1e6);
      const decisionLag = summarise(Float64Array.from(decisionLagNs), elapsed * 1e6);
      const result: EventsBenchResult = {
        decisions: { count: decisions, perSecond: decisions / (elapsed / 1000), non2xx },
        lag,
        fromRequest,
        decisionLag,
        decisionsMissing: created - decisionLagNs.length,
        probes: answered.length,
        received,
        missing: answered.length - lagsNs.length,
      };
      o.log(
        `  decision.created lag of ${decisionLagNs.length} events (${created - decisionLagNs.length} missing): p50 ${(decisionLag.p50Us / 1e3).toFixed(0)} ms, p99 ${(decisionLag.p99Us / 1e3).toFixed(0)} ms, max ${(decisionLag.maxUs / 1e3).toFixed(0)} ms`,
      );
      o.log(
        `  delivery lag of ${lagsNs.length} probe events under ${Math.round(result.decisions.perSecond)} decisions/s: p50 ${(lag.p50Us / 1e3).toFixed(0)} ms, p99 ${(lag.p99Us / 1e3).toFixed(0)} ms, max ${(lag.maxUs / 1e3).toFixed(0)} ms (from the request's start: p50 ${(fromRequest.p50Us / 1e3).toFixed(0)} ms, p99 ${(fromRequest.p99Us / 1e3).toFixed(0)} ms); received ${JSON.stringify(received)}`,
      );
      return result;
    });
  } finally {
    receiver.kill('SIGTERM');
  }
}
