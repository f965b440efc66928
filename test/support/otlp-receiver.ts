/**
 * An OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` in the JSON protocol (OTEL_EXPORTER_OTLP_PROTOCOL=
 * http/json), keeps every span, and counts every request it got (whatever its path or body).
 */
import { createServer, type Server } from 'node:http';

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values: AnyValue[] } };

export interface ReceivedSpan {
  /** The instrumentation scope: @opentelemetry/instrumentation-http, @fastify/otel, @opentelemetry/instrumentation-pg, decision-api. */
  scope: string;
  service: string | undefined;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
}

function value(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return v.arrayValue.values.map(value);
  return undefined;
}

const attributes = (list: { key: string; value: AnyValue }[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every request body as received (a scan for values that must not leave the service). */
  readonly bodies: string[] = [];
  requests = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static start(): Promise<OtlpReceiver> {
    return new Promise((resolve, reject) => {
      let receiver: OtlpReceiver | undefined;
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const r = receiver!;
          r.requests++;
          const text = Buffer.concat(chunks).toString('utf8');
          r.bodies.push(text);
          if (req.method === 'POST' && req.url === '/v1/traces' && String(req.headers['content-type']).startsWith('application/json')) r.keep(text);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        if (!addr || typeof addr !== 'object') return reject(new Error('no port'));
        receiver = new OtlpReceiver(server, `http://127.0.0.1:${addr.port}`);
        resolve(receiver);
      });
    });
  }

  private keep(text: string): void {
    const body = JSON.parse(text) as {
      resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { scope?: { name?: string }; spans?: any[] }[] }[];
    };
    for (const rs of body.resourceSpans ?? []) {
      const service = attributes(rs.resource?.attributes)['service.name'] as string | undefined;
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            scope: ss.scope?.name ?? '',
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: s.kind,
            attributes: attributes(s.attributes),
            status: s.status ?? {},
          });
        }
      }
    }
  }

  /** The spans of one trace received so far. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** Waits until the trace holds a span of each name (up to `ms`), then returns what it holds (the test asserts on it). */
  async waitFor(traceId: string, names: string[], ms = 30_000): Promise<ReceivedSpan[]> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const got = new Set(this.trace(traceId).map((s) => s.name));
      if (names.every((n) => got.has(n))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.trace(traceId);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // The exporter's keep-alive sockets would hold close() open.
      this.server.closeAllConnections();
    });
  }
}
