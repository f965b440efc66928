import { DomainError } from '../errors/index.js';
import { databaseFault, databaseUnavailable, OutageMonitor } from './database-faults.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('databaseFault', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['connection reset', withCode('ECONNRESET', 'read ECONNRESET')],
    ['socket timeout', withCode('ETIMEDOUT')],
    ['host unknown', withCode('ENOTFOUND')],
    ['terminated by an administrator', withCode('57P01', 'terminating connection due to administrator command')],
    ['crash shutdown', withCode('57P02')],
    ['starting up', withCode('57P03', 'the database system is starting up')],
    ['too many connections', withCode('53300', 'sorry, too many clients already')],
    ['connection exception class 08', withCode('08006')],
    ['unanswered connect', new Error('Connection terminated due to connection timeout')],
    ['pool acquire timeout', new Error('timeout exceeded when trying to connect')],
    ['client read timeout', new Error('Query read timeout')],
    ['dropped connection', new Error('Connection terminated unexpectedly')],
    ['broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['wrapped in cause', new Error('outer', { cause: withCode('ECONNREFUSED') })],
    ['every address refused', Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''), { code: 'ECONNREFUSED' })],
    ['aggregate without its own code', new AggregateError([withCode('ECONNREFUSED')], '')],
  ])('an outage: %s', (_, e) => {
    expect(databaseFault(e)?.kind).toBe('outage');
  });

  it.each([
    ['statement timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['idle in transaction timeout', withCode('25P03', 'terminating connection due to idle-in-transaction timeout')],
  ])('a timeout, not an outage: %s', (_, e) => {
    expect(databaseFault(e)?.kind).toBe('timeout');
  });

  it.each([
    ['deadlock', withCode('40P01', 'deadlock detected')],
    ['serialization failure', withCode('40001', 'could not serialize access due to concurrent update')],
    ['lock not available', withCode('55P03', 'could not obtain lock on row')],
  ])('contention, answered 503 to retry, not 500: %s', (_, e) => {
    expect(databaseFault(e)?.kind).toBe('contention');
    expect(databaseUnavailable(databaseFault(e)!, 2)).toMatchObject({ code: 'DATABASE_UNAVAILABLE', kind: 'unavailable', extensions: { retryAfter: 2 } });
  });

  it.each([
    ['unique violation', withCode('23505')],
    ['syntax error', withCode('42601')],
    // A NUL byte in a parameter: class 08, but the client's input, not an outage (and the connection stays usable).
    ['invalid message format (08P01)', withCode('08P01', 'invalid message format')],
    ['invalid byte sequence', withCode('22021')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['a domain error', new DomainError('X', 'Connection terminated', 'invalid')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('not a database fault: %s', (_, e) => {
    expect(databaseFault(e)).toBeUndefined();
  });

  it('names the reason in one line, without a stack', () => {
    const e = withCode('57P01', 'terminating connection due to administrator command\n - detail: x');
    expect(databaseFault(e)?.reason).toBe('terminating connection due to administrator command (57P01)');
  });
});

describe('OutageMonitor', () => {
  /** Real timers, a 5 ms probe period; the outage's length comes from the injected clock. */
  function setup() {
    const logged: string[] = [];
    let answers = false;
    let probes = 0;
    let t = 0;
    const monitor = new OutageMonitor({
      probe: () => {
        probes++;
        return answers ? Promise.resolve() : Promise.reject(new Error('still away'));
      },
      log: { warn: (m) => logged.push(`warn ${m}`), log: (m) => logged.push(`log ${m}`) },
      probeEveryMs: 5,
      retryAfterSeconds: 3,
      now: () => t,
    });
    return { monitor, logged, probes: () => probes, back: () => (answers = true), clock: (ms: number) => (t = ms) };
  }

  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(condition()).toBe(true);
  }

  it('logs an outage once when it starts and once when a probe finds the database back, with what it refused', async () => {
    const s = setup();
    const refused = Array.from({ length: 50 }, () => s.monitor.report(withCode('ECONNREFUSED', 'connect ECONNREFUSED')));
    expect(refused.every((e) => e?.code === 'DATABASE_UNAVAILABLE' && e.kind === 'unavailable' && e.extensions.retryAfter === 3)).toBe(true);
    s.monitor.report(new Error('Connection terminated unexpectedly'), false); // background work: signals, refuses nothing
    expect(s.monitor.down).toBe(true);
    await until(() => s.probes() >= 3);
    expect(s.logged).toHaveLength(1);
    expect(s.logged[0]).toMatch(/^warn database unavailable: connect ECONNREFUSED \(ECONNREFUSED\)/);

    s.clock(4000);
    s.back();
    await until(() => !s.monitor.down);
    expect(s.logged).toEqual([s.logged[0], 'log database available again after 4.0 s (50 answers were 503 DATABASE_UNAVAILABLE)']);
    const probes = s.probes();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.probes()).toBe(probes); // no probing while the database answers
  });

  it('a second outage is a second pair of lines', async () => {
    const s = setup();
    s.back();
    s.monitor.report(withCode('57P01'));
    await until(() => !s.monitor.down);
    s.monitor.report(withCode('57P01'));
    await until(() => !s.monitor.down);
    expect(s.logged.map((l) => l.split(/:| after/)[0])).toEqual([
      'warn database unavailable',
      'log database available again',
      'warn database unavailable',
      'log database available again',
    ]);
  });

  it('a statement timeout is a 503 and a line of its own, but no outage', () => {
    const s = setup();
    const e = s.monitor.report(withCode('57014', 'canceling statement due to statement timeout'));
    expect(e?.code).toBe('DATABASE_UNAVAILABLE');
    expect(s.monitor.down).toBe(false);
    expect(s.logged).toEqual(['warn database statement timed out: canceling statement due to statement timeout (57014)']);
  });

  it('a busy pool is a 503 that says so, no outage, and one line per 10 s however many it refuses', () => {
    const s = setup();
    const busy = () => Object.assign(new Error('no pooled connection came free within the acquire timeout: all 8 busy'), { code: 'DB_POOL_BUSY' });
    const first = s.monitor.report(busy());
    expect(first).toMatchObject({ code: 'DATABASE_UNAVAILABLE', kind: 'unavailable', extensions: { retryAfter: 3 } });
    expect(first?.message).toMatch(/^No database connection of this instance came free for this request in time/);
    for (let i = 0; i < 40; i++) s.monitor.report(busy());
    s.clock(9_999);
    s.monitor.report(busy());
    expect(s.monitor.down).toBe(false);
    expect(s.logged).toEqual(['warn database pool busy: no pooled connection came free within the acquire timeout: all 8 busy; answering 503 DATABASE_UNAVAILABLE']);
    s.clock(10_000);
    s.monitor.report(busy());
    expect(s.logged[1]).toBe('warn database pool busy: no pooled connection came free within the acquire timeout: all 8 busy; answering 503 DATABASE_UNAVAILABLE (42 since the last such line)');
  });

  it('leaves anything else alone', () => {
    const s = setup();
    expect(s.monitor.report(new Error('boom'))).toBeUndefined();
    expect(s.logged).toEqual([]);
  });

  it('stops probing when stopped', async () => {
    const s = setup();
    s.monitor.report(withCode('ECONNRESET'));
    s.monitor.stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(s.probes()).toBe(0);
  });
});
