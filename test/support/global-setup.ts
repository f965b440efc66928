/**
 * Which PostgreSQL `npm test` runs the end-to-end suites on, and jest's globalSetup that acts on it, once per run: the
 * server TEST_DATABASE_URL names; else one container Testcontainers starts for the whole run, when a Docker engine
 * answers and has the image (TEST_DATABASE_URL then points at it, and the workers jest starts afterwards inherit it;
 * each test file still creates and drops a database of its own); else in-memory PGlite.
 *
 * One file with no imports of its own: jest loads globalSetup outside its module mapper, so `./x.js` would not resolve.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export type Env = Record<string, string | undefined>;

export type TestDatabaseChoice =
  | { kind: 'server'; url: string }
  | { kind: 'container'; image: string }
  | { kind: 'pglite'; reason: string; hint?: string };

/** What the Docker probe found: an engine answering, and the PostgreSQL image in its local store. */
export interface DockerState {
  reachable: boolean;
  imagePresent: boolean;
  /** The `docker` client is on PATH: without an engine answering, the daemon is likely just not running. */
  client?: boolean;
}

/** Whether an executable named `docker` is in one of PATH's folders (no process started: a probe stays quick). */
export function dockerClientOnPath(env: Env): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'docker')));
}

export const DEFAULT_POSTGRES_IMAGE = 'postgres:17-alpine';

export function postgresImage(env: Env): string {
  return env.TEST_POSTGRES_IMAGE?.trim() || DEFAULT_POSTGRES_IMAGE;
}

/** Whether the choice depends on Docker at all: no TEST_DATABASE_URL, and Docker not turned off. */
export function dockerMatters(env: Env): boolean {
  return !env.TEST_DATABASE_URL && env.TEST_DOCKER !== 'false';
}

export function chooseTestDatabase(env: Env, docker: DockerState | undefined): TestDatabaseChoice {
  if (env.TEST_DATABASE_URL) return { kind: 'server', url: env.TEST_DATABASE_URL };
  if (env.TEST_DOCKER === 'false') return { kind: 'pglite', reason: 'TEST_DOCKER=false' };
  if (!docker?.reachable) {
    return docker?.client
      ? { kind: 'pglite', reason: 'no Docker engine answers', hint: 'the docker client is installed: start its daemon, or set DOCKER_HOST,' }
      : { kind: 'pglite', reason: 'no Docker engine answers' };
  }
  const image = postgresImage(env);
  // Not pulled for the caller: a run should not wait on (or fail at) a download nobody asked for.
  if (!docker.imagePresent) return { kind: 'pglite', reason: `the Docker engine has no image ${image}`, hint: `docker pull ${image}` };
  return { kind: 'container', image };
}



/**
 * Is a Docker engine there, and does it hold an image? Asked over the engine's API (`/_ping`, `/images/{name}/json`) on
 * DOCKER_HOST or the sockets Testcontainers looks at, each question given up after `timeoutMs`. Without an engine it
 * answers at once (no socket file) and prints nothing: the `docker` client may exist with no daemon behind it.
 */

/** Where the engine's API is: a unix socket or a TCP address (plain HTTP; TLS hosts are left to Testcontainers). */
export type DockerEndpoint = { socketPath: string } | { host: string; port: number };

/** DOCKER_HOST when set; else the first socket file that exists among the usual places (as Testcontainers tries them). */
export function dockerEndpoint(env: Env): DockerEndpoint | undefined {
  const host = env.DOCKER_HOST;
  if (host) {
    if (host.startsWith('unix://')) return existsSync(host.slice('unix://'.length)) ? { socketPath: host.slice('unix://'.length) } : undefined;
    const tcp = /^tcp:\/\/([^:/]+):(\d+)/.exec(host);
    return tcp && env.DOCKER_TLS_VERIFY !== '1' ? { host: tcp[1]!, port: Number(tcp[2]) } : undefined;
  }
  const sockets = [
    '/var/run/docker.sock',
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'docker.sock')] : []),
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
    join('/run', 'user', String(userInfo().uid), 'docker.sock'),
  ];
  const socketPath = sockets.find((s) => existsSync(s));
  return socketPath ? { socketPath } : undefined;
}

/** GET on the engine's API: the status, or undefined when nothing answers within `timeoutMs`. */
function get(endpoint: DockerEndpoint, path: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((done) => {
    const req = request({ ...endpoint, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      done(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(undefined));
    req.end();
  });
}

export async function probeDocker(endpoint: DockerEndpoint | undefined, image: string, timeoutMs = 1000): Promise<DockerState> {
  if (!endpoint) return { reachable: false, imagePresent: false };
  if ((await get(endpoint, '/_ping', timeoutMs)) !== 200) return { reachable: false, imagePresent: false };
  return { reachable: true, imagePresent: (await get(endpoint, `/images/${encodeURIComponent(image)}/json`, timeoutMs)) === 200 };
}



interface Started {
  getConnectionUri(): string;
  stop(): Promise<unknown>;
}

/**
 * The container started, or one line saying why not: Testcontainers can fail after the probe said yes (its Ryuk image
 * missing offline, a port taken, permissions on the socket), and the run then goes on on PGlite instead of failing.
 */
export async function startPostgres(image: string, start: (image: string) => Promise<Started>): Promise<{ started: Started } | { reason: string }> {
  try {
    return { started: await start(image) };
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).trim().split('\n')[0] || 'no reason given';
    return { reason: `Testcontainers could not start ${image}: ${message}` };
  }
}

async function startWithTestcontainers(image: string): Promise<Started> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  return new PostgreSqlContainer(image).start();
}

/** The container, for global-teardown.ts (jest runs both hooks in its main process). */
export const container = globalThis as typeof globalThis & { testPostgresContainer?: Started };

export default async function globalSetup(): Promise<void> {
  const env = process.env;
  const endpoint = dockerMatters(env) ? dockerEndpoint(env) : undefined;
  const docker = dockerMatters(env) ? { ...(await probeDocker(endpoint, postgresImage(env))), client: dockerClientOnPath(env) } : undefined;
  const choice = chooseTestDatabase(env, docker);
  if (choice.kind === 'pglite' && choice.hint) process.stderr.write(`\nnpm test: PGlite, ${choice.reason} (${choice.hint} to run the PostgreSQL suites)\n`);
  if (choice.kind !== 'container') return;

  // Testcontainers finds the engine on its own; point it at the one the probe answered on.
  if (!env.DOCKER_HOST && endpoint && 'socketPath' in endpoint) env.DOCKER_HOST = `unix://${endpoint.socketPath}`;
  const outcome = await startPostgres(choice.image, startWithTestcontainers);
  if ('reason' in outcome) {
    process.stderr.write(`\nnpm test: PGlite, ${outcome.reason}\n`);
    return;
  }
  const { started } = outcome;
  container.testPostgresContainer = started;
  env.TEST_DATABASE_URL = started.getConnectionUri();
  process.stderr.write(`\nnpm test: PostgreSQL from ${choice.image} in a container (Testcontainers) at ${env.TEST_DATABASE_URL}\n`);
}
