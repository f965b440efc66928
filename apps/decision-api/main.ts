/** Entry point: `npm start`. Fails fast on bad configuration, naming every bad variable; any start failure is one line. */
import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { loadConfig } from './config.js';
import { compactWhenIdle, watchRequests } from './idle-compaction.js';
import { assertCanListen, reportStartupFailure } from './startup-errors.js';
import { otelStarted } from './tracing/settings.js';

async function main(): Promise<void> {
  const config = loadConfig();
  await assertCanListen(config.port, config.host);
  const running = await createApp(config);
  await running.app.listen({ port: config.port, host: config.host });
  if (config.tracing && !otelStarted()) {
    running.log.warn(
      'OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry was not started, so no spans are exported: start the service with the preload, `node --import ./dist/apps/decision-api/telemetry.js dist/apps/decision-api/main.js` (what npm start runs)',
    );
  }
  running.log.info(`decision-api listening on http://${config.host}:${config.port} (store: ${config.databaseUrl.split('://')[0]})`);
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const stopCompacting = config.idleCompaction
    ? compactWhenIdle({
        everyMs: 2_000,
        quietBelow: 0.05,
        requests: watchRequests(running.app.getHttpServer()),
        afterGrowthBytes: 8 * 2 ** 20,
        compacted: (before, after, pauseMs) => running.log.debug({ rssBeforeMb: mb(before), rssAfterMb: mb(after), pauseMs: Math.round(pauseMs) }, 'idle: heap compacted'),
      })
    : () => {};
  const stop = () => {
    stopCompacting();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  reportStartupFailure(e);
  process.exit(1);
});
