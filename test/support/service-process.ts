/**
 * The built service (dist/, as `npm test` builds it first) as a child process over a throwaway database. Unlike
 * TestService, a service that stops answering (a synchronous loop on its one thread) cannot stop the test with it: a
 * request gives up after its timeout, and stop() kills the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './content-root.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { ADMIN_TOKEN, type HttpResult, type RequestOptions } from './harness.js';

/**
 * Kills the service when the test process is gone without stop() (a failed hook, a killed jest worker), as
 * own-postgres's watchdog does for its server: a detached shell outlives a SIGKILLed test process. It checks the pid is
 * still this service (its command line names main.js) before the kill, and ends when the service does.
 */
const WATCHDOG = `
parent=$1; child=$2; main=$3
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -0 "$child" 2>/dev/null || exit 0
tr '\\0' ' ' < "/proc/$child/cmdline" 2>/dev/null | grep -qF -- "$main" && kill -KILL "$child"
`;

function startWatchdog(child: number, main: string): void {
  spawn('/bin/sh', ['-c', WATCHDOG, 'service-process-watchdog', String(process.pid), String(child), main], { detached: true, stdio: 'ignore' }).unref();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      server.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export class ServiceProcess {
  private output = '';
  /** Every complete line of stdout, from the start (the log's JSON lines; test/logging.e2e.test.ts reads them all). */
  private readonly stdoutLines: string[] = [];
  private exited = false;
  /** How the process ended (after stop() or kill()): `signal` SIGKILL when stop() had to kill it. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly counters: { pattern: RegExp; n: number }[] = [];

  private constructor(
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly database: TestDatabase,
  ) {
    // One partial line per stream: a chunk may end mid-line.
    const keep = (all?: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString();
        this.output = (this.output + text).slice(-20_000);
        const lines = (partial + text).split('\n');
        partial = lines.pop()!;
        for (const line of lines) for (const c of this.counters) if (c.pattern.test(line)) c.n++;
        all?.push(...lines);
      };
    };
    child.stdout?.on('data', keep(this.stdoutLines));
    child.stderr?.on('data', keep());
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.exit = { code, signal };
    });
  }

  /**
   * Starts the service with `env` added to its environment (the payout worker off unless `env` turns it on), and waits
   * until /readyz answers 200. `nodeArgs` go before main.js (e.g. `--import` of the tracing preload, as npm start does).
   */
  static async start(label: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServiceProcess> {
    return ServiceProcess.boot(await createTestDatabase(label), env, nodeArgs);
  }

  /** The service on a database the caller owns (e.g. one on an OwnPostgres server); stop() leaves it in place. */
  static onDatabase(url: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    return ServiceProcess.boot({ url, kind: 'postgresql', drop: async () => {} }, env);
  }

  private static async boot(database: TestDatabase, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServiceProcess> {
    const main = join(repoRoot, 'dist/apps/decision-api/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm test does)`);
    const port = await freePort();
    const child = spawn(process.execPath, [...nodeArgs, main], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: database.url, ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error', RATE_LIMIT_PER_KEY: '0', CONTENT_ROOT: repoRoot, PAYOUT_CONCURRENCY: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) startWatchdog(child.pid, main);
    const svc = new ServiceProcess(`http://127.0.0.1:${port}`, child, database);
    const until = Date.now() + 60_000;
    for (;;) {
      if (svc.exited) throw new Error(`the service exited before it was ready:\n${svc.output}`);
      const ready = await svc.request('GET', '/readyz', { timeoutMs: 1000 }).catch(() => undefined);
      if (ready?.status === 200) return svc;
      if (Date.now() > until) {
        await svc.stop();
        throw new Error(`the service was not ready after 60 s:\n${svc.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** One request; rejects (TimeoutError) when no answer came within `timeoutMs` (default 20 s). */
  async request<T = any>(method: string, path: string, o: RequestOptions & { timeoutMs?: number } = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
    let body: string | Uint8Array | undefined;
    if (o.rawBody !== undefined) body = o.rawBody;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 20_000) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed as T };
  }

  async issueKey(tenant: string, roles: string[], name = 'test'): Promise<string> {
    const r = await this.request<{ key: string }>('POST', '/v1/admin/api-keys', { key: ADMIN_TOKEN, body: { tenant, roles, name } });
    if (r.status !== 201) throw new Error(`issueKey ${r.status} ${r.text}`);
    return r.body.key;
  }

  /** Counts the lines the service prints from now on that match `pattern` (the log keeps only its tail). */
  countLines(pattern: RegExp): () => number {
    const counter = { pattern, n: 0 };
    this.counters.push(counter);
    return () => counter.n;
  }

  /** Every complete line the service wrote to stdout so far. */
  get stdout(): readonly string[] {
    return this.stdoutLines;
  }

  /** What the service printed last (for a failing test's message). */
  get log(): string {
    return this.output;
  }

  /** Kills the process with `signal` (SIGKILL: no shutdown hook runs, as in a crash) and waits for it to be gone; the database stays. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    const exit = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exit;
  }

  /** SIGTERM, then SIGKILL after 5 s (a process stuck in a loop never handles SIGTERM); then drops the database. */
  async stop(): Promise<void> {
    if (!this.exited) {
      const exit = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    }
    await this.database.drop();
  }
}
