import { compactWhenIdle, type IdleCompactionOptions } from './idle-compaction.js';

const MIB = 2 ** 20;

/** Runs the watcher for `ticks` intervals of 20 ms and returns what it reported. */
async function watch(o: Partial<IdleCompactionOptions>, ticks: number): Promise<{ before: number; after: number; pauseMs: number }[]> {
  const reports: { before: number; after: number; pauseMs: number }[] = [];
  const stop = compactWhenIdle({
    everyMs: 20,
    quietBelow: 1,
    afterGrowthBytes: 1,
    requestsSeen: () => 0,
    compacted: (before, after, pauseMs) => reports.push({ before, after, pauseMs }),
    ...o,
  });
  await new Promise((resolve) => setTimeout(resolve, 20 * ticks + 10));
  stop();
  return reports;
}

describe('compactWhenIdle', () => {
  it('collects after a quiet interval and says what the process held before and after', async () => {
    // Unreachable once made: only a full collection is sure to clear a WeakRef's target.
    const dropped = new WeakRef({ payload: new Array(10_000).fill('x') });
    const reports = await watch({}, 3);
    expect(reports.length).toBeGreaterThan(0);
    expect(dropped.deref()).toBeUndefined();
    for (const r of reports) {
      expect(r.before).toBeGreaterThan(MIB);
      expect(r.after).toBeGreaterThan(MIB);
      expect(r.pauseMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('never collects in an interval in which a request arrived', async () => {
    let requests = 0;
    expect(await watch({ requestsSeen: () => requests++ }, 5)).toEqual([]);
  });

  it('never collects while the event loop is busier than the bound', async () => {
    expect(await watch({ quietBelow: 0 }, 5)).toEqual([]);
  });

  it('waits for the heap to grow by the bound since the last collection', async () => {
    // The first needs the whole heap to reach the bound; a bound no heap here reaches keeps every interval away.
    expect(await watch({ afterGrowthBytes: 64 * 1024 * MIB }, 5)).toEqual([]);
    // A bound of one byte: a collection in every quiet interval.
    expect((await watch({ afterGrowthBytes: 1 }, 5)).length).toBeGreaterThan(1);
  });
});
