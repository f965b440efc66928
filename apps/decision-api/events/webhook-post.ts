/**
 * One webhook POST over node:http(s) with keep-alive agents: per request it costs a fraction of what fetch does, which
 * matters because an endpoint's events go one after the other (in order) and the event loop is shared with decisions.
 * Redirects are not followed; the answer's body is read and dropped.
 */
import http from 'node:http';
import https from 'node:https';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

export class WebhookTimeout extends Error {}

/** Resolves with the status code; rejects on a network error or when no full answer came within `timeoutMs`. */
export function postWebhook(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const req = (secure ? https : http).request(
      u,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: agents[secure ? 'https:' : 'http:'] },
      (res) => {
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          resolve(res.statusCode ?? 0);
        });
        res.resume();
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new WebhookTimeout(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    function fail(e: Error) {
      clearTimeout(timer);
      reject(e);
    }
    req.on('error', fail);
    req.end(body);
  });
}
