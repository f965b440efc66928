import { DomainError } from '../../libs/errors/index.js';
import { ConfigError } from './config.js';
import { reportStartupFailure, startupFailureLine } from './startup-errors.js';

const sys = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);
const env = { DATABASE_URL: 'postgres://app:secret@db.internal:5433/decisions', CONTENT_ROOT: '/srv/content' };

describe('startupFailureLine', () => {
  it('names the setting and what to do, for each way a start fails, never the password', () => {
    const cases: [unknown, RegExp][] = [
      [sys('listen EADDRINUSE: address already in use 0.0.0.0:3000', { code: 'EADDRINUSE', syscall: 'listen', address: '0.0.0.0', port: 3000 }), /^decision-api did not start: port 3000 on 0\.0\.0\.0 is already in use \(PORT, HOST\)/],
      [sys('listen EACCES: permission denied 0.0.0.0:80', { code: 'EACCES', syscall: 'listen', address: '0.0.0.0', port: 80 }), /not allowed to listen on 0\.0\.0\.0:80 \(PORT, HOST\)/],
      [sys('listen EADDRNOTAVAIL', { code: 'EADDRNOTAVAIL', syscall: 'listen', address: '10.1.1.1', port: 3000 }), /10\.1\.1\.1 is not an address of this machine \(HOST\)/],
      [sys('connect ECONNREFUSED 10.0.0.5:5433', { code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.5', port: 5433 }), /^decision-api did not start: PostgreSQL refused the connection at 10\.0\.0\.5:5433 \(DATABASE_URL names database "decisions" on db\.internal:5433\)/],
      [sys('getaddrinfo ENOTFOUND db.internal', { code: 'ENOTFOUND', syscall: 'getaddrinfo' }), /host of DATABASE_URL is not known \(getaddrinfo ENOTFOUND db\.internal\)/],
      [new Error('Connection terminated due to connection timeout'), /cannot reach database "decisions" on db\.internal:5433 \(DATABASE_URL\): Connection terminated due to connection timeout$/],
      [sys('password authentication failed for user "app"', { code: '28P01' }), /database "decisions" on db\.internal:5433 \(DATABASE_URL\): password authentication failed for user "app"$/],
      [new DomainError('DATABASE_MISSING', 'database "decisions" does not exist on db.internal:5433; create it with: createdb -h db.internal -p 5433 -U app decisions', 'unavailable'), /^decision-api did not start: database "decisions" does not exist on db\.internal:5433; create it with: createdb/],
      [sys("ENOENT: no such file or directory, scandir '/srv/content/releases'", { code: 'ENOENT', syscall: 'scandir', path: '/srv/content/releases' }), /^decision-api did not start: \/srv\/content\/releases does not exist; CONTENT_ROOT is "\/srv\/content"/],
      [sys('EACCES: permission denied', { code: 'EACCES', syscall: 'scandir', path: '/srv/content/releases' }), /\/srv\/content\/releases cannot be read; CONTENT_ROOT/],
      [new Error('something else\n    at somewhere'), /^decision-api did not start: something else$/],
    ];
    for (const [e, line] of cases) {
      const text = startupFailureLine(e, env);
      expect(text).toMatch(line);
      expect(text).not.toContain('\n');
      expect(text).not.toContain('secret');
    }
  });

  it('keeps the configuration error as it is: one line per bad variable', () => {
    const e = new ConfigError('Invalid configuration:\n  - PORT must be an integer from 0 to 65535 (got "x")');
    expect(startupFailureLine(e, {})).toBe(e.message);
  });

  it('prints the stack trace only with LOG_LEVEL=debug', () => {
    const e = new Error('boom');
    let out = '';
    reportStartupFailure(e, {}, (t) => (out += t));
    expect(out).toBe('decision-api did not start: boom\n');
    out = '';
    reportStartupFailure(e, { LOG_LEVEL: 'debug' }, (t) => (out += t));
    expect(out).toMatch(/^decision-api did not start: boom\nError: boom\n {4}at /);
  });
});
