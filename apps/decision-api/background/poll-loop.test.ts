import { PollLoop } from './poll-loop.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PollLoop', () => {
  it('runs once at a time; a wake during a run asks for one more right after it; a failure goes to onError and the loop goes on', async () => {
    const events: string[] = [];
    let active = 0;
    let calls = 0;
    let release!: () => void;
    const loop = new PollLoop({
      intervalMs: 60_000,
      onError: (e) => events.push(`error ${(e as Error).message}`),
      run: async () => {
        calls += 1;
        active += 1;
        events.push(`run ${calls} (${active} active)`);
        if (calls === 1) await new Promise<void>((r) => (release = r));
        active -= 1;
        if (calls === 2) throw new Error('boom');
      },
    });
    loop.start(0);
    await tick(10);
    loop.wake();
    loop.wake();
    release();
    await tick(20);
    // Second run after the first (the two wakes made one), its error reported; the third waits for the interval.
    expect(events).toEqual(['run 1 (1 active)', 'run 2 (1 active)', 'error boom']);
    loop.wake();
    await tick(10);
    expect(calls).toBe(3);
    await loop.stop();
    loop.wake();
    await tick(10);
    expect(calls).toBe(3);
  });

  it('runs again at once while a run says there is more, then waits for the interval', async () => {
    let calls = 0;
    const loop = new PollLoop({ intervalMs: 60_000, onError: () => undefined, run: () => Promise.resolve(++calls < 4) });
    loop.start(0);
    await tick(30);
    expect(calls).toBe(4);
    await loop.stop();
  });

  it('stop() waits for the run under way', async () => {
    let finished = false;
    const loop = new PollLoop({
      intervalMs: 60_000,
      onError: () => undefined,
      run: async () => {
        await tick(30);
        finished = true;
      },
    });
    loop.start(0);
    await tick(5);
    await loop.stop();
    expect(finished).toBe(true);
  });
});
