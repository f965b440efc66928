/**
 * The webhook dispatcher in a worker thread of its own (PostgreSQL): one endpoint's events go one after the other, so
 * its throughput is one round trip per event, and on the service's thread every round trip would wait its turn behind
 * the decisions. Here it has its own event loop and a small pool of its own. It is started when there is something to
 * send (webhook-dispatcher.ts) and ends itself after `idleMs` with nothing to send (3 s if it never had any): an
 * instance holds neither the thread (~50 MB) nor its connections while the deployment has no webhook traffic.
 * Messages from the service: 'kick' (new deliveries), 'stop'. To the service: {warn} lines (database outages excepted: the service's monitor reports those),
 * {attempts: [delivered, failed]} per run for the metrics, 'stopped' after a 'stop', and 'idle' when it ended itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { databaseFault, EventsRepository, openDatabase, systemClock, uuidv7Ids } from '../../../libs/persistence/index.js';
import { DispatchLoop, type DispatchSettings } from './dispatch-loop.js';

export interface WorkerSettings extends DispatchSettings {
  databaseUrl: string;
  pollMs: number;
  timeouts: { acquireMs: number; statementMs: number; idleInTransactionMs: number };
  /** DB_PREPARED_STATEMENTS and DB_PIPELINE_BEGIN: the worker's pool follows the service's. */
  preparedStatements: boolean;
  pipelineBegin: boolean;
  /** Nothing to send and nothing in flight for this long: the worker closes its pool and says 'idle'. */
  idleMs: number;
}

const s = workerData as WorkerSettings;
const port = parentPort!;
const db = await openDatabase(s.databaseUrl, { migrate: false, poolSize: 2, timeouts: s.timeouts, preparedStatements: s.preparedStatements, pipelineBegin: s.pipelineBegin });
const loop = new DispatchLoop(
  db,
  new EventsRepository(uuidv7Ids),
  systemClock,
  s,
  (message, cause) => {
    if (!databaseFault(cause)) port.postMessage({ warn: message });
  },
  (delivered, failed) => port.postMessage({ attempts: [delivered, failed] }),
);
let timer: NodeJS.Timeout | undefined;
let ending: Promise<void> | undefined;
/** Lets the runs in flight finish and record, closes the pool, then tells the service (once, whichever asks first). */
const end = (reply: 'stopped' | 'idle') => {
  if (timer) clearTimeout(timer);
  ending ??= loop
    .close()
    .then(() => db.close())
    .finally(() => port.postMessage(reply));
};
/**
 * A worker that never found anything to send ends after this long (or idleMs, if shorter): every instance's probe sees
 * the same due deliveries, and the instances whose workers came too late should not hold a thread for idleMs.
 */
const UNUSED_MS = 3_000;
const poll = () => {
  if (loop.idleForMs() >= (loop.everActive ? s.idleMs : Math.min(s.idleMs, UNUSED_MS))) return end('idle');
  loop.kick();
  timer = setTimeout(poll, s.pollMs);
};
port.on('message', (m: unknown) => {
  if (m === 'kick') loop.kick();
  else if (m === 'stop') end('stopped');
});
port.postMessage('ready');
poll();
