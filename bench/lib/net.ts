/** Loopback ports and readiness waits. All traffic of the benchmark stays on 127.0.0.1. */
import * as http from 'node:http';
import * as net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A port that was free a moment ago (the OS picks it; we close it at once and hand it to a child). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, LOOPBACK, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function isPortFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export function httpGet(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET :${port}${path} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Polls until GET answers 200 (bounded by `timeoutMs`); `alive` lets a crashed child fail fast.
 */
export async function waitForHttp200(
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process behind :${port} exited before it was ready`);
    try {
      const answer = await httpGet(port, path, headers, 1000);
      if (answer.status === 200) return;
      last = `status ${answer.status}: ${answer.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`:${port}${path} not ready after ${timeoutMs} ms (${last})`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
