/**
 * lib/runtime/shared/proxy-forward.ts against a real test-app process: what is forwarded, and the
 * distinction the activator relies on (connection error before any byte → body still unread).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForwardOptions, type ForwardResult, forward as startForward } from '../../../lib/runtime/shared/proxy-forward';
import { eventually, request, startTestApp, stopAll, type TestApp } from './processes';

/** The exchange as a promise of its result. */
const forward = (req: http.IncomingMessage, res: http.ServerResponse, options: ForwardOptions) =>
  new Promise<ForwardResult>((resolve) => startForward(req, res, options, resolve));

let app: TestApp;
let proxy: http.Server;
let proxyPort: number;
const results: ForwardResult[] = [];

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  app = await startTestApp();
  const deadPort = await closedPort();
  // First tries a port nobody listens on; on the connect error retries the app with the same req.
  proxy = http.createServer(async (req, res) => {
    const first = await forward(req, res, { host: '127.0.0.1', port: deadPort, onConnectError: () => undefined });
    results.push(first);
    if (first.outcome === 'connect-error') results.push(await forward(req, res, { host: '127.0.0.1', port: app.port }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as AddressInfo).port;
});

afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await stopAll();
});

describe('forward', () => {
  it('reports a connect error without touching the response or the body, so a retry sends it whole', async () => {
    results.length = 0;
    const body = 'x'.repeat(200_000);
    const answer = await request(proxyPort, '/echo', { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).body).toBe(body);
    expect(results.map((r) => r.outcome)).toEqual(['connect-error', 'done']);
  });

  it('drops hop-by-hop headers and those named in Connection; appends X-Forwarded-For', async () => {
    const answer = await request(proxyPort, '/echo', {
      headers: {
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'dropped',
        'Proxy-Authorization': 'Basic eA==',
        TE: 'trailers, deflate',
        'X-Forwarded-For': '203.0.113.9',
        'X-End-To-End': 'kept',
      },
    });
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-hop']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.te).toBe('trailers');
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
  });

  it('cancels the upstream request when the client goes away', async () => {
    results.length = 0;
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: proxyPort, path: '/sleep?ms=5000', agent: false });
      req.on('error', () => resolve());
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    await eventually(async () => JSON.parse((await request(app.port, '/stats')).body).inFlight === 0, 'app request cancelled');
    await eventually(async () => results.length === 2, 'forward settled');
    expect(results[1]).toEqual({ outcome: 'aborted' });
  });

  it('answers 502 on a connect error when no handler is given', async () => {
    const port = await closedPort();
    const bare = http.createServer((req, res) => void forward(req, res, { host: '127.0.0.1', port }));
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      expect((await request((bare.address() as AddressInfo).port, '/', { agent: new http.Agent() })).status).toBe(502);
    } finally {
      bare.closeAllConnections();
      await new Promise((resolve) => bare.close(resolve));
    }
  });
});
