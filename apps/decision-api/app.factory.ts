/** Builds the HTTP application (used by main.ts and by the end-to-end tests). */
import { readdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_BUNDLE_LIMITS } from '../../libs/policies/index.js';
import { openDatabase, type Database } from '../../libs/persistence/index.js';
import { AppModule } from './app.module.js';
import { registerConsole } from './console/console.js';
import type { AppConfig } from './config.js';
import { registerBinaryBodies } from './http/binary-body.js';
import { clientError, frameworkError, requireHost } from './http/framework-errors.js';
import { registerExpectContinue } from './http/expect-continue.js';
import { registerJsonBodies } from './http/json-body.js';
import { registerLingeringClose } from './http/lingering-close.js';
import { requestIdFrom } from './http/request-id.js';
import { ShutdownGate } from './http/shutdown.js';
import { AccessLog } from './logging/access-log.js';
import { createLoggers, type Loggers } from './logging/logger.js';
import { PinoNestLogger } from './logging/nest-logger.js';
import { Metrics } from './metrics/metrics.js';
import { setupOpenApi } from './openapi/document.js';
import { activeTraceId, tracingActive } from './tracing/tracing.js';

const BODY_LIMIT = 1024 * 1024; // 1 MiB, api-contract.md §2

export interface RunningApp {
  app: NestFastifyApplication;
  db: Database;
  /** The service's log (logging/logger.ts): for main.ts's own lines. */
  log: Loggers['app'];
  close(): Promise<void>;
}

/** 255 characters (the longest id a body may hold), each up to 9 once percent-encoded (%E2%82%AC). */
export const MAX_PATH_PARAM_LENGTH = 255 * 9;

export async function createApp(config: AppConfig): Promise<RunningApp> {
  // The built-in releases are read at start: a missing or unreadable CONTENT_ROOT fails here, before the database opens.
  await readdir(join(config.contentRoot, 'releases'));
  // Logs: pino JSON lines (pretty on a terminal); README "Logs".
  const loggers = createLoggers({ level: config.logLevel, redact: config.logRedact, pretty: config.logPretty ?? process.stdout.isTTY === true });
  // With tracing on, the access line names the request's own trace (the server span's), caller's traceparent or not.
  const access = new AccessLog(loggers.access, tracingActive(config) ? activeTraceId : undefined);
  const db = await openDatabase(config.databaseUrl, {
    migrate: true,
    poolSize: config.dbPoolSize,
    preparedStatements: config.dbPreparedStatements,
    pipelineBegin: config.dbPipelineBegin,
    timeouts: { acquireMs: config.dbAcquireTimeoutMs, statementMs: config.dbStatementTimeoutMs, idleInTransactionMs: config.dbIdleInTransactionTimeoutMs },
  });
  // A start that fails after the database opened must not leave it open (a half-started test or CLI would hang).
  let app: NestFastifyApplication;
  // Set once Nest has made it; the router's and the parser's answers before that (none: not listening yet) go uncounted.
  let metrics: Metrics | undefined;
  try {
    const adapter = new FastifyAdapter({
      bodyLimit: BODY_LIMIT,
      trustProxy: false,
      // Fastify's own logger stays off: it makes a child logger per request; the access log (AccessLog) writes one line.
      logger: false,
      // Requests arriving while closing are answered by ShutdownGate (problem+json, Retry-After, request id, access line).
      return503OnClosing: false,
      // x-request-id: the caller's when usable, else a new UUID (http/request-id.ts); echoed on every answer.
      genReqId: (req: IncomingMessage) => requestIdFrom(req.headers['x-request-id']),
      // Answers made before any route (the router's, Node's parser's) are problem+json too, and logged.
      frameworkErrors: (e: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
        frameworkError(e, req, reply);
        access.request(req, reply);
        metrics?.unrouted(req.method, reply.statusCode, reply.elapsedTime / 1000);
      },
      clientErrorHandler: (e, socket) =>
        clientError(e, socket, (status, requestId, method) => {
          access.unparsed(status, requestId, method);
          metrics?.unrouted(method, status);
        }),
      // Node answers a missing Host with an empty 400 of its own; requireHost (below) answers it as a problem.
      http: { requireHostHeader: false },
      // A path parameter may be any id a body may carry (a refundId: up to 255 characters, each up to 9 characters once
      // percent-encoded): Fastify's default of 100 made a stored refund with a longer id unreachable (414).
      routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    });
    access.register(adapter.getInstance());
    new ShutdownGate().register(adapter.getInstance());
    adapter.getInstance().addHook('onRequest', requireHost);
    // An answer given before the body was read waits for the rest of it (bounded), so the client can read that answer.
    registerLingeringClose(adapter.getInstance());
    // A 100 Continue only once the body is read: an answer from the headers alone comes without one.
    registerExpectContinue(adapter.getInstance().server);
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, db), adapter, {
      // Nest's own messages (bootstrap, errors, every Logger) as the same JSON lines; pino applies LOG_LEVEL.
      logger: new PinoNestLogger(loggers.app),
      abortOnError: false,
      // Bodies are parsed as registerJsonBodies and registerBinaryBodies say, nothing else (no form bodies: 415).
      bodyParser: false,
    });
    registerJsonBodies(app, BODY_LIMIT);
    const counted = app.get(Metrics);
    counted.instrument(adapter.getInstance());
    metrics = counted;
    // Policy bundles arrive as raw .tar.gz bytes, up to the bundle limit; no other route takes raw bytes (415).
    registerBinaryBodies(adapter.getInstance(), { routes: { '/v1/policy-bundles': DEFAULT_BUNDLE_LIMITS.maxCompressedBytes } });

    setupOpenApi(app);
    // The web console's static files at /console (apps/console; README "Console").
    await registerConsole(app, config.consoleRoot, (msg) => loggers.app.warn(msg));

    await app.init();
  } catch (e) {
    await db.close();
    loggers.close();
    throw e;
  }
  return {
    app,
    db,
    log: loggers.app,
    close: async () => {
      try {
        await app.close();
        await db.close();
      } finally {
        loggers.close();
      }
    },
  };
}
