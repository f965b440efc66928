/**
 * Gives memory back to the system while the service is quiet: a full, compacting collection after an interval in
 * which no request arrived or was still open and the event loop was nearly idle, when the heap has grown since the
 * last one.
 *
 * Why not leave it to V8: an idle instance is not idle to V8's memory reducer. Its background loops (the outbox relay
 * every 200 ms, the payout worker every second, …) allocate ~1 MB/s, which the reducer reads as "high allocation"
 * and waits on (`--trace-memory-reducer`), so an instance held the garbage of its start-up (module compilation, the
 * OpenAPI document, migrations, schema compilation) for its first ~100 s, 165–169 MB, and then let the old
 * generation refill with promoted garbage (~3–4 MB a minute) until the next full collection. After a full
 * collection, 136–141 MB (docs/benchmarks.md, issue 11's memory row). A collection pauses the loop (~125–145 ms on a
 * quiet 2-core machine, ~210 ms on a busy one), so it runs only when nothing waits for an answer: no request arrived
 * during the interval, none is open (a slow upload, a long read, an answer streamed to a slow reader), and the loop
 * was under `quietBelow` busy (the quiet loops alone keep it 2–3% busy here; a replay in the thread or a backlog of
 * payouts more). A request that arrives during the pause waits for it; traffic, however light, keeps it away.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** What the HTTP server has seen: requests that arrived so far (a counter), and those not yet answered. */
export interface RequestActivity {
  arrived: number;
  open: number;
}

export interface IdleCompactionOptions {
  /** How often the loop's utilization is read, ms. */
  everyMs: number;
  /** Event-loop utilization (0–1) below which the interval just ended counts as quiet. */
  quietBelow: number;
  /** The server's requests: an interval in which one arrived, or at whose end one is open, is not quiet. */
  requests: () => RequestActivity;
  /** Heap growth since the last compaction that makes one worth its pause, bytes. */
  afterGrowthBytes: number;
  /** Told each compaction: RSS before and after (bytes) and its pause (ms). */
  compacted: (rssBefore: number, rssAfter: number, pauseMs: number) => void;
}

/**
 * The collector as a function, without putting `gc` on the main thread's global object: V8 installs it in contexts
 * made after the flag is set, so a fresh context hands it over (jest-leak-detector does the same). Contexts and worker
 * threads made later have a `gc` global too; nothing here looks for one. Null where the runtime refuses.
 */
function collector(): GcFunction | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    return typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    return null;
  }
}

/**
 * Starts watching (the first quiet interval compacts whatever start-up left); the returned function stops it. The
 * timer never keeps the process alive.
 */
export function compactWhenIdle(o: IdleCompactionOptions): () => void {
  const gc = collector();
  if (!gc) return () => {};
  // Zero: the first quiet interval compacts, whatever the heap holds.
  let heapAfterLast = 0;
  let last = performance.eventLoopUtilization();
  let arrived = o.requests().arrived;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    const seen = o.requests();
    const quiet = busy < o.quietBelow && seen.arrived === arrived && seen.open === 0;
    last = now;
    arrived = seen.arrived;
    if (!quiet || process.memoryUsage().heapUsed - heapAfterLast < o.afterGrowthBytes) return;
    const before = process.memoryUsage.rss();
    const t = performance.now();
    // "last-resort": compacts every page and shrinks the young generation; a regular major collection (~50 ms here
    // against ~125) left RSS creeping up to the same ~150 MB.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const pauseMs = performance.now() - t;
    heapAfterLast = process.memoryUsage().heapUsed;
    // The pause is the collector's, not the loop's: the next interval starts after it.
    last = performance.eventLoopUtilization();
    o.compacted(before, process.memoryUsage.rss(), pauseMs);
  }, o.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Counts a Node HTTP server's requests for compactWhenIdle: up when one arrives, down when its response closes (Node
 * emits 'close' once, after the answer is sent or when the connection ended first).
 */
export function watchRequests(server: { on(event: 'request', listener: (req: unknown, res: { once(event: 'close', listener: () => void): unknown }) => void): unknown }): () => RequestActivity {
  const activity: RequestActivity = { arrived: 0, open: 0 };
  const closed = () => void activity.open--;
  server.on('request', (_req, res) => {
    activity.arrived++;
    activity.open++;
    res.once('close', closed);
  });
  return () => activity;
}
