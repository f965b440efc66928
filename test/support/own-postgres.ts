/**
 * A PostgreSQL server of the test's own (initdb in a temp dir, a free loopback port) that the test can kill, stop, freeze
 * and restart: the shared TEST_DATABASE_URL server cannot be taken away from the other test files. Used by the
 * database-fault and chaos suites. A server still running when the test process is gone (a forgotten destroy(), a
 * killed jest worker) is killed and its folder removed by a watchdog started with it.
 *
 * initdb and postgres refuse to run as root: as root (CI) they run as the `postgres` user in a folder that user owns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Waits for the test process to end (or the folder to go: destroy() ran), then kills the postmaster named in the
 * folder's postmaster.pid (only if it is this folder's: a stale pid may have been reused) and its children, and
 * removes the folder. A shell of its own, detached: it outlives a test process killed with SIGKILL, which no 'exit'
 * handler does (and jest's sandboxed `process` may not deliver 'exit' at all).
 */
const WATCHDOG = `
parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pm" ] && tr '\\0' ' ' < "/proc/$pm/cmdline" 2>/dev/null | grep -qF -- "$dir/data"; then
  kids=$(ps -o pid= --ppid "$pm")
  kill -KILL "$pm" $kids 2>/dev/null
  kill -CONT "$pm" $kids 2>/dev/null
  sleep 1
fi
rm -rf "$dir"
`;

function startWatchdog(dir: string): void {
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'own-postgres-watchdog', String(process.pid), dir], { detached: true, stdio: 'ignore' });
  watchdog.unref();
}

/** The folder holding initdb and postgres: PG_BIN, else the usual places, else undefined. */
export function findPostgresBin(): string | undefined {
  const candidates = [process.env.PG_BIN, '/usr/local/bin', '/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/local/pgsql/bin'];
  for (const dir of candidates) if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  try {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
    }
  } catch {
    // no Debian layout
  }
  return undefined;
}

/** uid/gid of the `postgres` account when this process is root (initdb and postgres refuse root), else undefined. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no postgres user to run initdb and postgres as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], as: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(as ?? {}) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${stderr}`))));
  });
}

/** Pids whose parent is `pid` (the postmaster's backends and auxiliary processes), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    // A zombie still has a /proc entry but is gone for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
};

export interface OwnPostgresOptions {
  /** Extra `-c name=value` server settings (e.g. max_connections). */
  settings?: Record<string, string | number>;
}

export class OwnPostgres {
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  private log = '';
  private frozenPids: number[] = [];

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly as: { uid: number; gid: number } | undefined,
    private readonly settings: Record<string, string | number>,
  ) {}

  /** initdb in a fresh temp dir, then start on a free port. */
  static async start(options: OwnPostgresOptions = {}): Promise<OwnPostgres> {
    const bin = findPostgresBin();
    if (!bin) throw new Error('initdb/postgres not found: set PG_BIN to the folder holding them');
    const as = runAs();
    const dir = mkdtempSync(join(tmpdir(), 'own-pg-'));
    if (as) chownSync(dir, as.uid, as.gid);
    const data = join(dir, 'data');
    const server = new OwnPostgres(dir, await freePort(), bin, as, options.settings ?? {});
    startWatchdog(dir);
    try {
      await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], as);
      await server.launch();
    } catch (e) {
      server.destroySync();
      throw e;
    }
    return server;
  }

  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates a database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    await this.sql(`create database "${name}"`);
    return this.url(name);
  }

  /** Runs one statement on a connection of its own (the admin's view, e.g. pg_terminate_backend). */
  async sql<T = Record<string, unknown>>(query: string, database = 'postgres'): Promise<T[]> {
    const c = new pg.Client({ connectionString: this.url(database), connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      return (await c.query(query)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  /** What the server wrote to stderr (for a failing test's message). */
  get output(): string {
    return this.log;
  }

  /** SIGKILL to the postmaster and every backend: a crash. Resolves when they are all gone. */
  async kill(): Promise<void> {
    this.thaw();
    const pid = this.pid;
    if (pid === undefined) return;
    const children = childrenOf(pid);
    signal(pid, 'SIGKILL');
    for (const c of children) signal(c, 'SIGKILL');
    await this.exited;
    // Backends must be gone before a restart: the old shared memory would still be in use.
    const until = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Fast shutdown (SIGINT): connected sessions are terminated "due to administrator command" (57P01) and new
   * connections refused. Resolves when the postmaster has exited.
   */
  async stop(): Promise<void> {
    this.thaw();
    const pid = this.pid;
    if (pid === undefined) return;
    signal(pid, 'SIGINT');
    await this.exited;
  }

  /**
   * SIGSTOP to the postmaster and every backend (each backend is its own process group, so the group is not enough):
   * connections stay open and nothing answers, the way a hung host or a full stop-the-world pause looks.
   */
  freeze(): void {
    const pid = this.pid;
    if (pid === undefined || this.frozenPids.length) return;
    // The postmaster first, so it forks no new backend between the listing and the stop.
    signal(pid, 'SIGSTOP');
    this.frozenPids = [pid, ...childrenOf(pid)];
    for (const c of this.frozenPids.slice(1)) signal(c, 'SIGSTOP');
  }

  /** SIGCONT to everything freeze() stopped. */
  thaw(): void {
    for (const p of this.frozenPids) signal(p, 'SIGCONT');
    this.frozenPids = [];
  }

  /** Starts the server again on the same data folder and port (after kill() this includes crash recovery). */
  async restart(): Promise<void> {
    if (this.pid !== undefined) throw new Error('the server is still running: kill() or stop() it first');
    await this.launch();
  }

  /** Kills the server and removes its folder. */
  async destroy(): Promise<void> {
    await this.kill();
    this.destroySync();
  }

  /** Signals only, no waiting (a failed start). */
  private destroySync(): void {
    const pid = this.pid;
    if (pid !== undefined) {
      for (const p of [pid, ...childrenOf(pid)]) {
        signal(p, 'SIGCONT');
        signal(p, 'SIGKILL');
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const settings: Record<string, string | number> = {
      listen_addresses: '127.0.0.1',
      port: this.port,
      unix_socket_directories: '',
      fsync: 'off', // a crash here is a killed process, not a lost OS page cache: fsync buys nothing but time
      full_page_writes: 'off',
      max_connections: 100,
      ...this.settings,
    };
    const args = ['-D', join(this.dir, 'data'), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const proc = spawn(join(this.bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...(this.as ?? {}) });
    // The server must not keep the test process alive: a test that forgets destroy() still ends, and the watchdog
    // then kills the server.
    proc.unref();
    (proc.stderr as unknown as { unref(): void }).unref();
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.stderr.on('data', (d: Buffer) => {
      // Keep the tail only: a long chaos run logs a line per terminated connection.
      this.log = (this.log + d.toString()).slice(-20_000);
    });
    const until = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`postgres exited during start-up:\n${this.log}`);
      const c = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1_000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('select 1');
        await c.end();
        return;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (Date.now() > until) throw new Error(`postgres did not accept connections within 30 s: ${(e as Error).message}\n${this.log}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
