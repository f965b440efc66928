import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { personalFields } from '../../../libs/decisions/index.js';
import { createLoggers, defaultRedactPaths, isValidRedactPath, PERSONAL_FIELDS, type LogOptions } from './logger.js';
import { PinoNestLogger } from './nest-logger.js';

const repoRoot = join(import.meta.dirname, '../../..');

/** The loggers over an in-memory stream: every line written, parsed. */
function capture(o: Partial<LogOptions> = {}) {
  const lines: Record<string, any>[] = [];
  const loggers = createLoggers({ level: 'debug', redact: [], pretty: false, ...o }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { ...loggers, lines };
}

describe('the default redaction', () => {
  it('covers every field a built-in decision type marks personal (x-pii)', () => {
    const marked = new Set<string>();
    for (const name of readdirSync(join(repoRoot, 'decision-types'))) {
      for (const file of readdirSync(join(repoRoot, 'decision-types', name))) {
        const doc = JSON.parse(readFileSync(join(repoRoot, 'decision-types', name, file), 'utf8')) as { input: unknown };
        for (const f of personalFields(doc.input)) marked.add(f.path.at(-1)!);
      }
    }
    expect(marked.size).toBeGreaterThan(0);
    expect([...marked].filter((n) => !(PERSONAL_FIELDS as readonly string[]).includes(n))).toEqual([]);
  });

  it('is made of paths pino accepts', () => {
    for (const p of defaultRedactPaths()) expect({ p, ok: isValidRedactPath(p) }).toEqual({ p, ok: true });
  });

  it('hides credentials and personal values at the top of a logged object and two levels down, and keeps the rest', () => {
    const { app, lines } = capture();
    app.info(
      {
        headers: { authorization: 'Bearer dk_secret', 'x-api-key': 'dk_other', cookie: 's=1', accept: 'application/json' },
        case: { customerId: 'cus-1', code: 'GC-1', amount: 10, payment: { email: 'a@b.c' } },
        body: { case: { cardCode: 'GC-2', ip: '198.18.0.1' } },
        deviceId: 'dev-1',
        err: { code: 'E_KEEP' },
      },
      'm',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['dk_secret', 'dk_other', 's=1', 'cus-1', 'GC-1', 'a@b.c', 'GC-2', '198.18.0.1', 'dev-1']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ headers: { accept: 'application/json' }, case: { amount: 10 }, err: { code: 'E_KEEP' } });
  });

  it('adds the paths LOG_REDACT names, on access lines too', () => {
    const { app, access, lines } = capture({ redact: ['order.secretNote', '*.token', 'tenant'] });
    app.info({ order: { secretNote: 'hush', id: 'o1' }, job: { token: 't0k' } }, 'm');
    access.info({ method: 'GET', tenant: 'acme', customerId: 'not a field of access lines' }, 'request');
    expect(lines[0]).toMatchObject({ order: { secretNote: '[redacted]', id: 'o1' }, job: { token: '[redacted]' } });
    expect(lines[1]).toMatchObject({ method: 'GET', tenant: '[redacted]', customerId: 'not a field of access lines' });
  });

  it('logs an error as its type, message, code and stack only (a driver error may carry a statement parameters)', () => {
    const { app, lines } = capture();
    const e = Object.assign(new Error('insert failed'), { code: '23505', parameters: ['cus-PARAM'], query: 'insert …' });
    app.error({ err: e }, 'failed');
    expect(Object.keys(lines[0]!.err).sort()).toEqual(['code', 'message', 'sqlState', 'stack', 'type']);
    expect(JSON.stringify(lines)).not.toContain('cus-PARAM');
  });

  it('leaves access lines alone (their fields are fixed) and writes levels as names', () => {
    const { access, lines } = capture({ level: 'info' });
    access.info({ method: 'GET', route: '/x', status: 200 }, 'request');
    access.debug({ method: 'GET' }, 'not at info');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', method: 'GET', route: '/x', status: 200, msg: 'request' })]);
    expect(typeof lines[0]!.time).toBe('string');
  });
});

describe('isValidRedactPath', () => {
  it('accepts pino paths and refuses malformed ones', () => {
    for (const p of ['a.b', '*.token', 'headers["x-key"]', 'a.*.b']) expect(isValidRedactPath(p)).toBe(true);
    for (const p of ['', 'a..b', 'a[', 'a b']) expect(isValidRedactPath(p)).toBe(false);
  });
});

describe('PinoNestLogger', () => {
  it("writes Nest's calls as JSON lines: context as a field, an error's stack, the levels mapped", () => {
    const { app, lines } = capture();
    const nest = new PinoNestLogger(app);
    nest.log('Mapped {/x, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at x', 'ProblemFilter');
    nest.warn('careful');
    nest.verbose('chatty', 'Ctx');
    nest.fatal(new Error('down'), 'Main');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', context: 'RouterExplorer', msg: 'Mapped {/x, GET} route' }),
      expect.objectContaining({ level: 'error', context: 'ProblemFilter', stack: 'Error: boom\n    at x', msg: 'boom' }),
      expect.objectContaining({ level: 'warn', msg: 'careful' }),
      expect.objectContaining({ level: 'debug', context: 'Ctx', msg: 'chatty' }),
      expect.objectContaining({ level: 'fatal', context: 'Main', msg: 'down', err: expect.objectContaining({ type: 'Error', message: 'down' }) }),
    ]);
  });

  it('writes nothing below LOG_LEVEL, and redacts an object message', () => {
    const { app, lines } = capture({ level: 'warn' });
    const nest = new PinoNestLogger(app);
    nest.log('bootstrap detail');
    nest.debug('detail');
    nest.warn({ customerId: 'cus-9', note: 'kept' }, 'Ctx');
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', context: 'Ctx', customerId: '[redacted]', note: 'kept' })]);
  });
});

describe('errors in log lines', () => {
  const secret = 'GCSECRETCARD12345';
  /** Shaped as pg's DatabaseError (and the ORM's exception over it): the message and detail echo the input. */
  const driverError = () => {
    const e = new Error(`select * from refunds where id = '${secret}' - invalid input syntax for type uuid: "${secret}"`) as Error & Record<string, unknown>;
    Object.assign(e, { code: '22P02', severity: 'ERROR', detail: `Key (id)=(${secret})`, table: 'refunds', constraint: 'refunds_pkey', parameters: [secret] });
    return e;
  };

  it("drops a database error's message (it echoes input) and keeps its code, names and stack frames", () => {
    const { app, lines } = capture();
    const e = driverError();
    app.error({ err: e }, 'failed');
    expect(JSON.stringify(lines)).not.toContain(secret);
    expect(lines[0]!.err).toMatchObject({ type: 'Error', code: '22P02', sqlState: '22P02', table: 'refunds', constraint: 'refunds_pkey' });
    expect(lines[0]!.err.stack).toMatch(/^\s+at /);
    expect(lines[0]!.err.stack.split('\n').length).toBe(e.stack!.split('\n').filter((l) => /^\s+at /.test(l)).length);
  });

  it("keeps another error's message", () => {
    const { app, lines } = capture();
    app.warn({ err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) }, 'x');
    expect(lines[0]!.err).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' });
  });

  it("filters an error passed to Nest's logger as a message, in a logged object or as an extra argument", () => {
    const { app, lines } = capture();
    const nest = new PinoNestLogger(app);
    nest.error(driverError());
    nest.warn({ msg: 'metrics: stored state not read', err: driverError() }, 'Metrics');
    nest.log('extra', driverError(), 'Ctx');
    expect(lines).toHaveLength(3);
    expect(JSON.stringify(lines)).not.toContain(secret);
    expect(lines[1]).toMatchObject({ msg: 'metrics: stored state not read', context: 'Metrics', err: { sqlState: '22P02' } });
    expect(lines[2]).toMatchObject({ msg: 'extra', context: 'Ctx', params: [{ sqlState: '22P02', table: 'refunds' }] });
  });
});
