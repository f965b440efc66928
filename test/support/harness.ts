/** Boots the real service on a loopback port over a throwaway database, and talks to it over HTTP. */
import 'reflect-metadata';
import pg from 'pg';
import { createApp, type RunningApp } from '../../apps/decision-api/app.factory.js';
import { loadConfig, type AppConfig } from '../../apps/decision-api/config.js';
import type { Database } from '../../libs/persistence/index.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { committedDocument, ContractValidator } from './openapi-contract.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  /** Sent as-is (for malformed JSON tests). */
  rawBody?: string | Uint8Array;
  idempotencyKey?: string;
  headers?: Record<string, string>;
}

export class TestService {
  /**
   * Every answer request() gets must be one docs/openapi.json documents for its operation (status, media type, body
   * schema), else request() throws: on in the OpenAPI suites, and in any suite with TEST_OPENAPI_CHECK=1. Requests to a
   * method and path the document has no operation for, and Node's own 414/431, are not checked.
   */
  static checkContract = process.env.TEST_OPENAPI_CHECK === '1';
  private static contract: ContractValidator | undefined;

  private constructor(
    readonly baseUrl: string,
    private readonly running: RunningApp,
    private readonly database: TestDatabase,
  ) {}

  static async start(label: string, overrides: Partial<AppConfig> = {}): Promise<TestService> {
    return TestService.boot(await createTestDatabase(label), overrides);
  }

  /**
   * A second instance on `primary`'s database, as another process of the same deployment would be. Its stop() leaves
   * the database to the primary, which drops it. PostgreSQL only: an in-memory PGlite cannot be shared.
   */
  static join(primary: TestService, overrides: Partial<AppConfig> = {}): Promise<TestService> {
    if (primary.database.kind !== 'postgresql') throw new Error('TestService.join needs TEST_DATABASE_URL (PGlite cannot be shared)');
    return TestService.boot({ ...primary.database, drop: async () => {} }, overrides);
  }

  /** The service on a database the caller owns (e.g. one on an OwnPostgres server); stop() leaves it in place. */
  static onDatabase(url: string, overrides: Partial<AppConfig> = {}): Promise<TestService> {
    return TestService.boot({ url, kind: 'postgresql', drop: async () => {} }, overrides);
  }

  /**
   * The payout worker is off (payoutConcurrency 0) unless a test turns it on: suites that look at an APPROVED refund
   * (or cancel it) must not race it to PROCESSING.
   */
  private static async boot(database: TestDatabase, overrides: Partial<AppConfig>): Promise<TestService> {
    const config = {
      ...loadConfig({}, { databaseUrl: database.url, adminToken: ADMIN_TOKEN, logLevel: 'error', port: 0, rateLimitPerKey: 0, payoutConcurrency: 0 }),
      ...overrides,
    };
    let running: RunningApp;
    try {
      running = await createApp(config);
      await running.app.listen({ port: 0, host: '127.0.0.1' });
    } catch (e) {
      await database.drop();
      throw e;
    }
    const addr = running.app.getHttpServer().address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    return new TestService(`http://127.0.0.1:${addr.port}`, running, database);
  }

  get databaseUrl(): string {
    return this.database.url;
  }


  async request<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
    let body: string | Uint8Array | undefined;
    if (o.rawBody !== undefined) body = o.rawBody;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (TestService.checkContract) TestService.checkAnswer(method, path, res, text);
    return { status: res.status, headers: res.headers, text, body: parsed as T };
  }

  private static checkAnswer(method: string, path: string, res: Response, text: string): void {
    if (res.status === 414 || res.status === 431) return;
    const contract = (TestService.contract ??= new ContractValidator(committedDocument()));
    const template = contract.template(method.toUpperCase(), path.split('?')[0]!);
    if (!template) return;
    const problems = contract.checkText(method.toUpperCase(), template, res.status, res.headers.get('content-type'), text);
    if (problems.length > 0) throw new Error(`${method} ${path}: answer off the OpenAPI document:\n${problems.join('\n')}\n${text.slice(0, 500)}`);
  }

  /** Issues a key through the real admin endpoint. */
  async issueKey(tenant: string, roles: string[], name = 'test'): Promise<string> {
    const r = await this.request<{ key: string }>('POST', '/v1/admin/api-keys', {
      key: ADMIN_TOKEN,
      body: { tenant, roles, name },
    });
    if (r.status !== 201) throw new Error(`issueKey ${r.status} ${r.text}`);
    return r.body.key;
  }

  /**
   * SQL on the service's own database, to arrange what the API cannot (thousands of stored decisions, a stale job). On
   * PostgreSQL it runs on a connection of its own: arranging is not a request, the service's statement timeout is not
   * for it. `?` placeholders, as in MikroORM's execute().
   */
  async sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
    if (this.database.kind !== 'postgresql') return this.running.db.em().execute<T[]>(query, params);
    const client = new pg.Client({ connectionString: this.database.url });
    await client.connect();
    try {
      return (await client.query(positional(query), params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** One of the running service's providers (e.g. a background task, to run it once at a time of the test's choosing). */
  provider<T>(type: abstract new (...args: never[]) => T): T {
    return this.running.app.get<T>(type);
  }

  /** The service's own database handle (its pool, with the service's timeouts). */
  get db(): Database {
    return this.running.db;
  }

  async stop(): Promise<void> {
    await this.running.close();
    await this.database.drop();
  }
}

/** `?` placeholders outside quoted literals as pg's `$1, $2, …`. */
function positional(query: string): string {
  let n = 0;
  let quoted = false;
  let out = '';
  for (const ch of query) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

let seq = 0;
/** A unique Idempotency-Key per call within a run. */
export function newKey(prefix = 'k'): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}
