/**
 * The webhook dispatcher in a worker thread of its own (PostgreSQL): one endpoint's events go one after the other, so
 * its throughput is one round trip per event, and on the service's thread every round trip would wait its turn behind
 * the decisions. Here it has its own event loop and a small pool of its own. Messages from the service: 'kick' (new
 * deliveries), 'stop'. To the service: {warn} lines (database outages excepted: the service's monitor reports those),
 * and {attempts: [delivered, failed]} per run for the metrics.
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
const poll = () => {
  loop.kick();
  timer = setTimeout(poll, s.pollMs);
};
port.on('message', (m: unknown) => {
  if (m === 'kick') loop.kick();
  else if (m === 'stop') {
    if (timer) clearTimeout(timer);
    void loop
      .close()
      .then(() => db.close())
      .finally(() => port.postMessage('stopped'));
  }
});
port.postMessage('ready');
poll();
