/** A local webhook receiver (node:http) that records every request and answers as the test tells it to. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  /** What the receiver answered (0: it never answered). */
  status: number;
}

/** `answer(request, n)` (n counts requests from 1): a status, or 'hang' to never answer. */
export type Answer = (r: Received, n: number) => number | 'hang';

export class WebhookReceiver {
  readonly requests: Received[] = [];
  private readonly hanging = new Set<() => void>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
    public answer: Answer,
  ) {}

  static async start(answer: Answer = () => 204): Promise<WebhookReceiver> {
    const box: { self?: WebhookReceiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const r: Received = { headers: req.headers, body, json, status: 0 };
        box.self!.requests.push(r);
        const a = box.self!.answer(r, box.self!.requests.length);
        if (a === 'hang') {
          const end = () => res.destroy();
          box.self!.hanging.add(end);
          return;
        }
        r.status = a;
        res.writeHead(a).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    box.self = new WebhookReceiver(server, `http://127.0.0.1:${addr.port}/hook`, answer);
    return box.self;
  }

  /** Requests answered 2xx, in arrival order. */
  get accepted(): Received[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  async stop(): Promise<void> {
    for (const end of this.hanging) end();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** Waits (polling) until `check` returns a value other than undefined; fails after `ms` with `what`. */
export async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
