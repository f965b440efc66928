/** jest globalTeardown: stops the PostgreSQL container global-setup.ts started, if it started one (no imports: see there). */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as typeof globalThis & { testPostgresContainer?: { stop(): Promise<unknown> } };
  await holder.testPostgresContainer?.stop();
  holder.testPostgresContainer = undefined;
}
