/**
 * PostgreSQL LISTEN on one dedicated connection (the ORM's pool hands connections back, which drops a LISTEN),
 * reconnecting with backoff after any error, until stopped.
 */
import pg from 'pg';

/** The channel activation changes are announced on; the payload is the tenant. */
export const RELEASE_CHANNEL = 'decision_platform_releases';

export interface ListenerLog {
  /** `cause` is the error that dropped the connection, so the caller can tell a database outage from anything else. */
  warn(message: string, cause: Error): void;
}

export interface NotificationListenerOptions {
  url: string;
  channel: string;
  /** How the connection shows in pg_stat_activity. */
  applicationName?: string;
  onNotification(payload: string): void;
  /** Called after every successful (re)connection: notifications sent while disconnected are lost, so catch up. */
  onConnected?(): void;
  log: ListenerLog;
  /** First retry delay; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class NotificationListener {
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private delay: number;
  private connecting: Promise<void> | undefined;
  private readonly dead = new WeakSet<pg.Client>();

  constructor(private readonly o: NotificationListenerOptions) {
    this.delay = o.retryMs ?? 500;
  }

  /** Connects and listens; a failure is logged and retried in the background, never thrown. */
  start(): Promise<void> {
    this.connecting = this.connect();
    return this.connecting;
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.o.url,
      application_name: this.o.applicationName ?? 'decision-api release listener',
      connectionTimeoutMillis: 5_000,
      // A frozen server must not hold connect() (and so stop()) forever; a vanished host is noticed on the idle socket.
      query_timeout: 5_000,
      keepAlive: true,
    });
    // Registered before connect: an error event without a listener would crash the process.
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (m) => {
      if (m.channel === this.o.channel) this.o.onNotification(m.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`listen ${client.escapeIdentifier(this.o.channel)}`);
    } catch (e) {
      this.lost(client, e as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delay = this.o.retryMs ?? 500;
    this.o.onConnected?.();
  }

  private lost(client: pg.Client, e: Error): void {
    // A broken client may report more than once (error, then end); only its first report counts.
    if (this.dead.has(client)) return;
    this.dead.add(client);
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (this.stopped) return;
    this.client = undefined;
    this.o.log.warn(`${this.o.applicationName ?? 'release listener'}: ${e.message}; reconnecting in ${this.delay} ms (polling covers the gap)`, e);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connecting = this.connect();
    }, this.delay);
    this.retryTimer.unref();
    this.delay = Math.min(this.delay * 2, this.o.maxRetryMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
