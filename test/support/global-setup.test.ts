/** Which PostgreSQL `npm test` uses, and the Docker probe that decides it, against a fake engine on a unix socket. */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseTestDatabase, DEFAULT_POSTGRES_IMAGE, dockerClientOnPath, dockerEndpoint, dockerMatters, postgresImage, probeDocker, startPostgres } from './global-setup.js';

const up = { reachable: true, imagePresent: true };

describe('chooseTestDatabase', () => {
  it('takes TEST_DATABASE_URL first, whatever Docker has', () => {
    const url = 'postgres://postgres@127.0.0.1:5432/test';
    expect(chooseTestDatabase({ TEST_DATABASE_URL: url }, up)).toEqual({ kind: 'server', url });
    expect(chooseTestDatabase({ TEST_DATABASE_URL: url }, undefined)).toEqual({ kind: 'server', url });
    expect(dockerMatters({ TEST_DATABASE_URL: url })).toBe(false);
  });

  it('starts a container when an engine answers and holds the image (TEST_POSTGRES_IMAGE or the default)', () => {
    expect(chooseTestDatabase({}, up)).toEqual({ kind: 'container', image: DEFAULT_POSTGRES_IMAGE });
    expect(chooseTestDatabase({ TEST_POSTGRES_IMAGE: 'postgres:16' }, up)).toEqual({ kind: 'container', image: 'postgres:16' });
    expect(postgresImage({ TEST_POSTGRES_IMAGE: '  ' })).toBe(DEFAULT_POSTGRES_IMAGE);
    expect(dockerMatters({})).toBe(true);
  });

  it('falls back to PGlite without an engine, without the image (saying how to get it), or with TEST_DOCKER=false', () => {
    expect(chooseTestDatabase({}, undefined)).toMatchObject({ kind: 'pglite', reason: 'no Docker engine answers' });
    expect(chooseTestDatabase({}, { reachable: false, imagePresent: false })).toEqual({ kind: 'pglite', reason: 'no Docker engine answers' });
    expect(chooseTestDatabase({}, { reachable: true, imagePresent: false })).toEqual({
      kind: 'pglite',
      reason: `the Docker engine has no image ${DEFAULT_POSTGRES_IMAGE}`,
      hint: `docker pull ${DEFAULT_POSTGRES_IMAGE}`,
    });
    expect(chooseTestDatabase({ TEST_DOCKER: 'false' }, up)).toEqual({ kind: 'pglite', reason: 'TEST_DOCKER=false' });
    // The client without an engine answering: the daemon is not running, which the run says (with a hint).
    expect(chooseTestDatabase({}, { reachable: false, imagePresent: false, client: true })).toEqual({
      kind: 'pglite',
      reason: 'no Docker engine answers',
      hint: 'the docker client is installed: start its daemon, or set DOCKER_HOST,',
    });
    expect(dockerMatters({ TEST_DOCKER: 'false' })).toBe(false);
  });
});

describe('probeDocker', () => {
  let dir: string;
  let server: Server | undefined;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docker-probe-'));
  });
  afterEach(async () => {
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    server = undefined;
    seen.length = 0;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fake engine on a unix socket: answers /_ping with `ping`, and knows only the images listed. */
  async function engine(name: string, ping: number | 'never', images: string[]): Promise<string> {
    const socketPath = join(dir, name);
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/_ping') {
        if (ping === 'never') return; // holds the request open: the probe must give up by itself
        res.writeHead(ping).end('OK');
        return;
      }
      const image = /^\/images\/(.+)\/json$/.exec(req.url ?? '');
      res.writeHead(image && images.includes(decodeURIComponent(image[1]!)) ? 200 : 404).end('{}');
    });
    await new Promise<void>((done) => server!.listen(socketPath, done));
    return socketPath;
  }

  it('finds no engine where DOCKER_HOST names no socket, and asks nothing', async () => {
    expect(dockerEndpoint({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` })).toBeUndefined();
    expect(await probeDocker(undefined, 'postgres:17-alpine')).toEqual({ reachable: false, imagePresent: false });
  });

  it('asks a running engine for /_ping and then for the image', async () => {
    const socketPath = await engine('a.sock', 200, ['postgres:17-alpine']);
    const endpoint = dockerEndpoint({ DOCKER_HOST: `unix://${socketPath}` });
    expect(endpoint).toEqual({ socketPath });
    expect(await probeDocker(endpoint, 'postgres:17-alpine')).toEqual({ reachable: true, imagePresent: true });
    expect(seen).toEqual(['/_ping', '/images/postgres%3A17-alpine/json']);
    expect(await probeDocker(endpoint, 'postgres:16')).toEqual({ reachable: true, imagePresent: false });
  });

  it('counts an engine that fails /_ping or never answers as no engine', async () => {
    const failing = await engine('b.sock', 500, ['postgres:17-alpine']);
    expect(await probeDocker({ socketPath: failing }, 'postgres:17-alpine')).toEqual({ reachable: false, imagePresent: false });
    await new Promise((done) => server!.close(done));
    server!.closeAllConnections();
    const silent = await engine('c.sock', 'never', ['postgres:17-alpine']);
    expect(await probeDocker({ socketPath: silent }, 'postgres:17-alpine', 200)).toEqual({ reachable: false, imagePresent: false });
    server!.closeAllConnections();
  });

  it('finds the docker client on PATH, or not', async () => {
    await writeFile(join(dir, 'docker'), '');
    expect(dockerClientOnPath({ PATH: ['/nonexistent', dir].join(':') })).toBe(true);
    expect(dockerClientOnPath({ PATH: '/nonexistent' })).toBe(false);
    expect(dockerClientOnPath({})).toBe(false);
  });

  it('a socket path that is a plain file is no engine', async () => {
    const file = join(dir, 'not-a-socket');
    await writeFile(file, '');
    expect(await probeDocker({ socketPath: file }, 'postgres:17-alpine')).toEqual({ reachable: false, imagePresent: false });
  });
});

describe('startPostgres', () => {
  it('hands back the started container', async () => {
    const started = { getConnectionUri: () => 'postgres://test@127.0.0.1:1/test', stop: () => Promise.resolve() };
    expect(await startPostgres('postgres:17-alpine', () => Promise.resolve(started))).toEqual({ started });
  });

  it('falls back with a one-line reason when Testcontainers throws (e.g. its Ryuk image missing offline)', async () => {
    const outcome = await startPostgres('postgres:17-alpine', () =>
      Promise.reject(new Error('(HTTP code 404) no such image - No such image: testcontainers/ryuk:0.11.0\n    at Modem.buildRequest')),
    );
    expect(outcome).toEqual({ reason: 'Testcontainers could not start postgres:17-alpine: (HTTP code 404) no such image - No such image: testcontainers/ryuk:0.11.0' });
  });

  it('falls back on whatever is thrown, an Error or not', async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a library may throw is not ours to choose
    expect(await startPostgres('postgres:16', () => Promise.reject('EACCES'))).toEqual({ reason: 'Testcontainers could not start postgres:16: EACCES' });
  });
});
