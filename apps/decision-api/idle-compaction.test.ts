import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compactWhenIdle, watchRequests, type IdleCompactionOptions, type RequestActivity } from './idle-compaction.js';

const MIB = 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Report {
  before: number;
  after: number;
  pauseMs: number;
}

/** A watcher on 20 ms intervals (always quiet, any growth unless told otherwise) and what it has reported so far. */
function watcher(o: Partial<IdleCompactionOptions> = {}): { reports: Report[]; stop: () => void } {
  const reports: Report[] = [];
  const stop = compactWhenIdle({
    everyMs: 20,
    quietBelow: 1,
    afterGrowthBytes: 1,
    requests: () => ({ arrived: 0, open: 0 }),
    compacted: (before, after, pauseMs) => reports.push({ before, after, pauseMs }),
    ...o,
  });
  return { reports, stop };
}

/** Waits until `n` reports came (a collection takes 40–150 ms in a jest worker, more under load), or 10 s passed. */
async function reportsOf(w: { reports: Report[] }, n: number): Promise<Report[]> {
  for (const deadline = Date.now() + 10_000; w.reports.length < n && Date.now() < deadline; ) await sleep(10);
  return w.reports;
}

/** Runs a watcher for `ms` and returns how many collections it made. */
async function collectionsWithin(ms: number, o: Partial<IdleCompactionOptions>): Promise<number> {
  const w = watcher(o);
  await sleep(ms);
  w.stop();
  return w.reports.length;
}

describe('compactWhenIdle', () => {
  it('collects after a quiet interval and says what the process held before and after', async () => {
    // Unreachable once made: only a full collection is sure to clear a WeakRef's target.
    const dropped = new WeakRef({ payload: new Array(10_000).fill('x') });
    const w = watcher();
    const [report] = await reportsOf(w, 1);
    w.stop();
    expect(report).toBeDefined();
    expect(dropped.deref()).toBeUndefined();
    expect(report!.before).toBeGreaterThan(MIB);
    expect(report!.after).toBeGreaterThan(MIB);
    expect(report!.pauseMs).toBeGreaterThanOrEqual(0);
  });

  it('never collects in an interval in which a request arrived', async () => {
    let arrived = 0;
    expect(await collectionsWithin(150, { requests: () => ({ arrived: arrived++, open: 0 }) })).toBe(0);
  });

  it('never collects while a request is open, however long ago it arrived', async () => {
    expect(await collectionsWithin(150, { requests: () => ({ arrived: 1, open: 1 }) })).toBe(0);
  });

  it('collects again once the requests stop: an arrival keeps only its own interval away', async () => {
    let arrived = 0;
    const w = watcher({ requests: () => ({ arrived: arrived < 3 ? ++arrived : arrived, open: 0 }) });
    const reports = await reportsOf(w, 1);
    w.stop();
    expect(reports.length).toBeGreaterThan(0);
  });

  it('never collects while the event loop is busier than the bound', async () => {
    expect(await collectionsWithin(150, { quietBelow: 0 })).toBe(0);
  });

  it('waits for the heap to grow by the bound since the last collection, not for its size', async () => {
    // The first collection needs the heap to reach the bound from nothing: any heap here holds 8 MiB.
    const w = watcher({ afterGrowthBytes: 8 * MIB });
    await reportsOf(w, 1);
    expect(w.reports).toHaveLength(1);
    // Nothing grows it by 8 MiB in ten quiet intervals: no second collection.
    await sleep(200);
    expect(w.reports).toHaveLength(1);
    // 32 MiB kept alive: the next quiet interval collects.
    const kept = Array.from({ length: 32 }, (_, i) => new Array(128 * 1024).fill(i));
    const reports = await reportsOf(w, 2);
    w.stop();
    expect(kept).toHaveLength(32);
    expect(reports).toHaveLength(2);
  });
});

describe('watchRequests', () => {
  let server: Server;
  let release: () => void = () => {};
  let activity: () => RequestActivity;

  beforeEach(async () => {
    server = createServer((_req, res) => {
      release = () => res.end('ok');
    });
    activity = watchRequests(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = () => {
    const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' });
    req.on('error', () => {});
    req.end();
    return req;
  };

  it('counts a request open from its arrival until its answer is sent', async () => {
    send();
    for (const deadline = Date.now() + 5_000; activity().arrived === 0 && Date.now() < deadline; ) await sleep(5);
    expect(activity()).toEqual({ arrived: 1, open: 1 });
    release();
    for (const deadline = Date.now() + 5_000; activity().open > 0 && Date.now() < deadline; ) await sleep(5);
    expect(activity()).toEqual({ arrived: 1, open: 0 });
  });

  it('closes a request its client abandoned, once', async () => {
    const req = send();
    for (const deadline = Date.now() + 5_000; activity().arrived === 0 && Date.now() < deadline; ) await sleep(5);
    req.destroy();
    for (const deadline = Date.now() + 5_000; activity().open > 0 && Date.now() < deadline; ) await sleep(5);
    expect(activity()).toEqual({ arrived: 1, open: 0 });
    // Answering it afterwards counts nothing twice.
    release();
    await sleep(20);
    expect(activity()).toEqual({ arrived: 1, open: 0 });
  });
});
