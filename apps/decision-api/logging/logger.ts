/**
 * The service's log: JSON lines through pino on stdout (pino-pretty instead when stdout is a terminal, or as LOG_PRETTY
 * says). Two loggers share the one stream: `app` (Nest's messages, errors, background work) redacts by configuration;
 * `access` writes the one line per request, whose fields are fixed and never hold a secret or a value of a body, so it
 * skips the default redaction (measured: a redacting logger with wildcard paths costs several µs per line, on every
 * request) and applies only LOG_REDACT's paths, when there are any.
 */
import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config.js';

/**
 * Case fields a built-in decision type marks personal (`x-pii`, README "Personal data"); logger.test.ts keeps this in
 * step with decision-types/. Bodies are never logged: these names are redacted in case one reaches a log line inside
 * an object anyway.
 */
export const PERSONAL_FIELDS = ['cardCode', 'customerId', 'deviceId', 'email', 'ip'] as const;

/** A gift card's code under its short name, where it can only be one (not every `code`: error codes stay readable). */
const CARD_CODE_PATHS = ['case.code', '*.case.code', 'card.code', '*.card.code', 'giftCard.code', '*.giftCard.code'];

/** Headers (and cookies) that carry a credential. */
export const SECRET_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-admin-token', 'proxy-authorization', 'cookie', 'set-cookie'] as const;

const quoted = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);

/**
 * What is always redacted: the secret headers and the personal fields at the top of a logged object and one or two
 * levels down (pino's wildcards match one level each), e.g. `headers.authorization`, `case.customerId`,
 * `body.case.email`. LOG_REDACT adds to these.
 */
export function defaultRedactPaths(): string[] {
  const names: string[] = [...SECRET_HEADERS, ...PERSONAL_FIELDS];
  return [...names.flatMap((n) => [quoted(n).replace(/^\./, ''), `*${quoted(n)}`, `*.*${quoted(n)}`]), ...CARD_CODE_PATHS];
}

export interface LogOptions {
  level: LogLevel;
  /** Extra redact paths (LOG_REDACT). */
  redact: readonly string[];
  /** Human-readable lines (pino-pretty in a worker thread) instead of JSON. */
  pretty: boolean;
}

export interface Loggers {
  /** Everything but access lines: redacted. */
  readonly app: Logger;
  /** One line per request (logging/access-log.ts): fixed fields, not redacted. */
  readonly access: Logger;
  /** Writes out what is buffered and ends the pretty printer's worker thread, if any (stdout itself stays open). */
  close(): void;
}

const REDACTED = '[redacted]';

/** The two loggers over one stream: stdout (synchronous writes: no line is lost on a crash), or `destination` (tests). */
export function createLoggers(o: LogOptions, destination?: DestinationStream): Loggers {
  const printer = !destination && o.pretty ? pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } }) : undefined;
  const stream: DestinationStream = destination ?? printer ?? pino.destination({ dest: 1, sync: true });
  const common = {
    level: o.level,
    base: { pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names ("info"), not numbers, for readers of the JSON; pino-pretty reads the numbers.
    ...(o.pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
  };
  const app = pino(
    {
      ...common,
      redact: { paths: [...defaultRedactPaths(), ...o.redact], censor: REDACTED },
      // An error logged as an object keeps its type, message, code and stack only: a driver's error may carry the
      // statement's parameters (a body's values) in other properties.
      serializers: { err: safeError },
    },
    stream,
  );
  // The defaults cannot match an access line's fields; LOG_REDACT's paths (an operator's choice) apply to it too.
  const access = pino(o.redact.length > 0 ? { ...common, redact: { paths: [...o.redact], censor: REDACTED } } : common, stream);
  return {
    app,
    access,
    close: () => {
      app.flush();
      printer?.end();
    },
  };
}

/** Whether a LOG_REDACT path is one pino accepts (it refuses some malformed ones only when the logger is built). */
export function isValidRedactPath(path: string): boolean {
  if (path.length === 0 || /\s/.test(path)) return false;
  try {
    pino({ redact: [path] }, { write: () => undefined });
    return true;
  } catch {
    return false;
  }
}

/** A PostgreSQL SQLSTATE: five digits or capitals (22P02, 23505); our own codes and Node's errno names are longer. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * What of an error a log line keeps: type, message, code and stack. Not a driver's other properties (`detail`,
 * `parameters`, the statement: a body's values). A database error's message is dropped too: PostgreSQL and the ORM
 * echo input in it (`invalid input syntax for type uuid: "GC…"`, the statement with its values); what stays is its
 * code, the constraint, table and column names, and the stack's frames without the message's lines.
 */
export function safeError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const x = e as Error & Record<string, unknown>;
  const code = x.code;
  const sqlState = typeof x.sqlState === 'string' ? x.sqlState : typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
  const codeField = typeof code === 'string' || typeof code === 'number' ? { code } : {};
  if (sqlState === undefined) return { type: e.name, message: e.message, ...codeField, stack: e.stack };
  const names: Record<string, string> = {};
  for (const k of ['constraint', 'table', 'schema', 'column'] as const) if (typeof x[k] === 'string') names[k] = x[k];
  const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  return { type: e.name, message: `database error ${sqlState} (message not logged: it may hold input)`, ...codeField, sqlState, ...names, stack: frames.join('\n') };
}
