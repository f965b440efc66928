/**
 * Why the service did not start, in one line an operator can act on (no stack trace unless LOG_LEVEL=debug): the port
 * taken, the database refusing, missing or unreachable, the content root missing or unreadable, the configuration
 * (ConfigError keeps its one line per bad variable).
 */
import { createServer } from 'node:net';
import { DomainError } from '../../libs/errors/index.js';
import { describePostgresUrl } from '../../libs/persistence/index.js';
import { ConfigError } from './config.js';

type Env = Record<string, string | undefined>;

interface SystemError {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
  path?: string;
  message?: string;
}

const where = (e: SystemError) => `${e.address ?? '?'}:${e.port ?? '?'}`;

/** The database DATABASE_URL names, for messages (no password): `database "x" on host:port`. */
function databaseOf(env: Env): string {
  const url = env.DATABASE_URL ?? '';
  if (!/^postgres(ql)?:\/\//.test(url)) return 'the database';
  try {
    const d = describePostgresUrl(url);
    return `database "${d.database}" on ${d.host}:${d.port}`;
  } catch {
    return 'the database';
  }
}

/** The line for `e`: what failed and what to do about it, naming the setting involved. */
export function startupFailureLine(e: unknown, env: Env = process.env): string {
  if (e instanceof ConfigError) return e.message;
  if (e instanceof DomainError) return `decision-api did not start: ${e.message}`;
  const s = (typeof e === 'object' && e !== null ? e : {}) as SystemError;
  const first = String(s.message ?? e).split('\n')[0]!;
  if (s.syscall === 'listen') {
    switch (s.code) {
      case 'EADDRINUSE':
        return `decision-api did not start: port ${s.port} on ${s.address} is already in use (PORT, HOST); stop what listens there or choose another port`;
      case 'EACCES':
        return `decision-api did not start: not allowed to listen on ${where(s)} (PORT, HOST); ports below 1024 need privileges`;
      case 'EADDRNOTAVAIL':
        return `decision-api did not start: ${s.address} is not an address of this machine (HOST)`;
      default:
        return `decision-api did not start: cannot listen on ${where(s)} (PORT, HOST): ${first}`;
    }
  }
  if (s.syscall === 'connect' || s.syscall === 'getaddrinfo' || /^Connection terminated|timeout/i.test(first)) {
    const db = databaseOf(env);
    switch (s.code) {
      case 'ECONNREFUSED':
        return `decision-api did not start: PostgreSQL refused the connection at ${where(s)} (DATABASE_URL names ${db}); is the server running and listening there?`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `decision-api did not start: the host of DATABASE_URL is not known (${first}); ${db}`;
      default:
        return `decision-api did not start: cannot reach ${db} (DATABASE_URL): ${first}`;
    }
  }
  // PostgreSQL's own refusals: SQLSTATE class 28 (authentication), 3D (no such database), 57P03 (starting up).
  if (typeof s.code === 'string' && /^(28|3D|57P03)/.test(s.code)) return `decision-api did not start: ${databaseOf(env)} (DATABASE_URL): ${first}`;
  if (s.path !== undefined && ['ENOENT', 'EACCES', 'ENOTDIR', 'EPERM'].includes(s.code ?? '')) {
    const root = env.CONTENT_ROOT ?? process.cwd();
    const what = s.code === 'ENOENT' ? 'does not exist' : s.code === 'ENOTDIR' ? 'is not a folder' : 'cannot be read';
    const setting = s.path.startsWith(root) ? `CONTENT_ROOT is ${JSON.stringify(root)}: it must hold releases/ (and rule-packs/, policies/bundles/)` : 'check the path and its permissions';
    return `decision-api did not start: ${s.path} ${what}; ${setting}`;
  }
  return `decision-api did not start: ${first}`;
}

/** Prints the line (and the stack trace after it with LOG_LEVEL=debug) on stderr. */
export function reportStartupFailure(e: unknown, env: Env = process.env, write: (text: string) => void = (t) => process.stderr.write(t)): void {
  write(`${startupFailureLine(e, env)}\n`);
  if (env.LOG_LEVEL === 'debug' && e instanceof Error && e.stack) write(`${e.stack}\n`);
}

/**
 * Fails (EADDRINUSE, EACCES, …) when the listen address cannot be taken, before the database is opened: a port in use
 * is reported as such, not after migrations, and once (Nest's listen() logs its error itself before rethrowing).
 */
export function assertCanListen(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
