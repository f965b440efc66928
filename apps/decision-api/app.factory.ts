/** Builds the HTTP application (used by main.ts and by the end-to-end tests). */
import type { LogLevel as NestLogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DEFAULT_BUNDLE_LIMITS } from '../../libs/policies/index.js';
import { openDatabase, type Database } from '../../libs/persistence/index.js';
import { AppModule } from './app.module.js';
import type { AppConfig, LogLevel } from './config.js';
import { registerBinaryBodies } from './http/binary-body.js';
import { clientError, frameworkError, requireHost } from './http/framework-errors.js';
import { registerJsonBodies } from './http/json-body.js';
import { setupOpenApi } from './openapi/document.js';

const BODY_LIMIT = 1024 * 1024; // 1 MiB, api-contract.md §2

function nestLevels(level: LogLevel): NestLogLevel[] {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const map: Record<LogLevel, NestLogLevel[]> = { debug: ['debug', 'verbose'], info: ['log'], warn: ['warn'], error: ['error', 'fatal'] };
  return order.slice(order.indexOf(level)).flatMap((l) => map[l]);
}

export interface RunningApp {
  app: NestFastifyApplication;
  db: Database;
  close(): Promise<void>;
}

/** 255 characters (the longest id a body may hold), each up to 9 once percent-encoded (%E2%82%AC). */
export const MAX_PATH_PARAM_LENGTH = 255 * 9;

export async function createApp(config: AppConfig): Promise<RunningApp> {
  const db = await openDatabase(config.databaseUrl, {
    migrate: true,
    poolSize: config.dbPoolSize,
    preparedStatements: config.dbPreparedStatements,
    timeouts: { acquireMs: config.dbAcquireTimeoutMs, statementMs: config.dbStatementTimeoutMs, idleInTransactionMs: config.dbIdleInTransactionTimeoutMs },
  });
  // A start that fails after the database opened must not leave it open (a half-started test or CLI would hang).
  let app: NestFastifyApplication;
  try {
    const adapter = new FastifyAdapter({
      bodyLimit: BODY_LIMIT,
      trustProxy: false,
      logger: false,
      // Answers made before any route (the router's, Node's parser's) are problem+json too.
      frameworkErrors: frameworkError,
      clientErrorHandler: clientError,
      // Node answers a missing Host with an empty 400 of its own; requireHost (below) answers it as a problem.
      http: { requireHostHeader: false },
      // A path parameter may be any id a body may carry (a refundId: up to 255 characters, each up to 9 characters once
      // percent-encoded): Fastify's default of 100 made a stored refund with a longer id unreachable (414).
      routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    });
    adapter.getInstance().addHook('onRequest', requireHost);
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, db), adapter, {
      logger: nestLevels(config.logLevel),
      abortOnError: false,
    });
    registerJsonBodies(app, BODY_LIMIT);
    // Policy bundles arrive as raw .tar.gz bytes, up to the bundle limit; no other route takes raw bytes (415).
    registerBinaryBodies(adapter.getInstance(), { routes: { '/v1/policy-bundles': DEFAULT_BUNDLE_LIMITS.maxCompressedBytes } });

    setupOpenApi(app);

    await app.init();
  } catch (e) {
    await db.close();
    throw e;
  }
  return {
    app,
    db,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}
