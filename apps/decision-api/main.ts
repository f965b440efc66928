/** Entry point: `npm start`. Fails fast on bad configuration, naming every bad variable. */
import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { ConfigError, loadConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const running = await createApp(config);
  await running.app.listen({ port: config.port, host: config.host });
  running.log.info(`decision-api listening on http://${config.host}:${config.port} (store: ${config.databaseUrl.split('://')[0]})`);
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(1);
});
