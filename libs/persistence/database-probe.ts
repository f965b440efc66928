/**
 * A bounded "does the database answer?" on a connection of its own: readiness and outage recovery must not queue
 * behind a starved pool, and must answer in time whatever the server does (refusing, resetting, or frozen).
 */
import pg from 'pg';

export class DatabaseTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

/** Rejects with DatabaseTimeoutError when `work` takes longer than `ms` (`work` itself is left to settle, handled). */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError(`${what} did not answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // the loser of the race must not reject unhandled
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Drops a pg client's connection at once: end() marks it ending (a pool then discards it), destroy() frees the socket. */
export function dropConnection(client: { end(): Promise<void> }): void {
  client.end().catch(() => undefined);
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** One persistent probe connection, reopened after any failure; concurrent checks share the one in flight. */
export class PostgresProbe {
  private client: pg.Client | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly url: string) {}

  check(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('database closed'));
    this.inflight ??= this.run(timeoutMs).finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  close(): void {
    this.closed = true;
    // Not a polite end(): on a frozen server that would wait for an answer that never comes.
    if (this.client) this.discard(this.client);
  }

  private async run(timeoutMs: number): Promise<void> {
    // Checks run one at a time (inflight), so a client opened here is connected here, or discarded.
    const existing = this.client;
    const client = existing ?? this.open(timeoutMs);
    try {
      await withTimeout(
        (async () => {
          if (!existing) await client.connect();
          await client.query('select 1');
        })(),
        timeoutMs,
        'the database',
      );
    } catch (e) {
      this.discard(client);
      throw e;
    }
  }

  private open(timeoutMs: number): pg.Client {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'decision-api probe',
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
    });
    // A server going away emits 'error' on an idle client; unhandled, that would end the process.
    client.on('error', () => this.discard(client));
    client.on('end', () => this.discard(client));
    this.client = client;
    return client;
  }

  private discard(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    dropConnection(client);
  }
}
