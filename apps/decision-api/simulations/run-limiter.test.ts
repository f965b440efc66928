/** RunLimiter: a bounded number of runs at once, a bounded queue in arrival order, refusal beyond. */
import { DomainError } from '../../../libs/errors/index.js';
import { RunLimiter } from './run-limiter.js';

const busy = () => new DomainError('BUSY', 'busy', 'rate_limited');

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('RunLimiter', () => {
  it('runs at most `running` at once, queues `waiting` more in order, and refuses beyond', async () => {
    const limiter = new RunLimiter(2, 2, busy);
    const order: string[] = [];
    let active = 0;
    let most = 0;
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const job = (name: string) =>
      limiter.run(async () => {
        active++;
        most = Math.max(most, active);
        order.push(name);
        const d = deferred();
        gates.set(name, d);
        await d.promise;
        active--;
        return name;
      });
    const runs = ['a', 'b', 'c', 'd'].map(job);
    await expect(job('e')).rejects.toMatchObject({ code: 'BUSY' });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a', 'b']);
    gates.get('b')!.resolve();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a', 'b', 'c']);
    gates.get('a')!.resolve();
    gates.get('c')!.resolve();
    await new Promise((r) => setImmediate(r));
    gates.get('d')!.resolve();
    expect(await Promise.all(runs)).toEqual(['a', 'b', 'c', 'd']);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(most).toBe(2);
  });

  it('frees the place of a run that fails', async () => {
    const limiter = new RunLimiter(1, 0, busy);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve(7))).toBe(7);
  });
});
