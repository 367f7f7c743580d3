// A small HTTP/1.1 client for the cluster tests: one request, fresh connection (no pooling, so a
// pod that went away shows up as an error instead of a reused socket), bounded by a timeout.
import { request } from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Wall time from sending to the end of the body, ms. */
  readonly ms: number;
}

export interface HttpOptions {
  readonly headers?: Record<string, string>;
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly method?: string;
}

export function httpGet(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
        headers: res.headers,
        ms: performance.now() - started,
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Like httpGet, but a connection error becomes status 0 with the message as body (for tallies). */
export async function httpTry(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const started = performance.now();
  try {
    return await httpGet(url, opts);
  } catch (e) {
    return { status: 0, body: e instanceof Error ? e.message : String(e), headers: {}, ms: performance.now() - started };
  }
}
