import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_BUNDLE, eventually, request, runToExit, startQueueProxy, startTestApp, stopAll } from '../queue-proxy/processes';
import { activatorMetric, freePort, startActivator, stopActivators, usablePods } from './processes';

/**
 * The bundled activator in standalone mode with the bundled queue-proxy and test-app, all real
 * processes on 127.0.0.1.
 */
const NS = 'default';
const route = (revision: string, extra: Record<string, string> = {}) => ({
  'Knative-Serving-Namespace': NS,
  'Knative-Serving-Revision': revision,
  ...extra,
});

const servers: http.Server[] = [];
afterAll(async () => {
  await stopActivators();
  await stopAll();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** An in-test receiver of the activator's POST /poke. */
async function pokeReceiver(): Promise<{ port: number; pokes: string[] }> {
  const pokes: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      pokes.push(`${req.method} ${req.url} ${body}`);
      res.end('poked');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, pokes };
}

describe('activator (standalone) with queue-proxy and test-app', () => {
  let activator: Awaited<ReturnType<typeof startActivator>>;
  let poke: Awaited<ReturnType<typeof pokeReceiver>>;
  let coldPort: number;
  let cc1Port: number;

  beforeAll(async () => {
    poke = await pokeReceiver();
    coldPort = await freePort();
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
    cc1Port = qp.servingPort;
    activator = await startActivator(
      [
        { namespace: NS, revision: 'cold', containerConcurrency: 0, timeoutSeconds: 60, pods: [`127.0.0.1:${coldPort}`] },
        { namespace: NS, revision: 'cc1', containerConcurrency: 1, timeoutSeconds: 60, pods: [`127.0.0.1:${cc1Port}`] },
        { namespace: NS, revision: 'short', containerConcurrency: 0, timeoutSeconds: 1, pods: [`127.0.0.1:${await freePort()}`] },
      ],
      { ACTIVATOR_POKE_ADDRESSES: `127.0.0.1:${poke.port}` },
    );
  });

  it('holds a request for a revision with no pod, pokes the autoscaler, and serves it once the pod starts', async () => {
    const answer = request(activator.httpPort, '/echo', { headers: route('cold', { Host: 'hello.default.example.com' }), agent: new http.Agent() });
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_queue_depth', 'cold')) === 1, 'request held');
    await eventually(async () => poke.pokes.length > 0, 'poke sent');
    expect(poke.pokes[0]).toBe('POST /poke {"namespace":"default","revision":"cold"}');

    const app = await startTestApp();
    await startQueueProxy(app.port, { QUEUE_SERVING_PORT: String(coldPort), SERVING_REVISION: 'cold' });
    const { status, body } = await answer;
    expect(status).toBe(200);
    const seen = JSON.parse(body) as { host: string; headers: Record<string, string> };
    // The activator moved Host into K-Original-Host; the queue-proxy put it back.
    expect(seen.host).toBe('hello.default.example.com');
    expect(seen.headers['k-proxy-request']).toBe('activator');
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers['knative-serving-namespace']).toBeUndefined();
  });

  it('keeps a K-Original-Host that is already there', async () => {
    const { status, body } = await request(activator.httpPort, '/echo', {
      headers: route('cc1', { Host: 'activator.local', 'K-Original-Host': 'first.example.com' }),
    });
    expect(status).toBe(200);
    expect((JSON.parse(body) as { host: string }).host).toBe('first.example.com');
  });

  it('answers 404 for an unknown revision', async () => {
    const { status, body } = await request(activator.httpPort, '/', { headers: route('nope') });
    expect(status).toBe(404);
    expect(body).toContain('revision not found');
  });

  it('answers probes: activator → 200 activator, other values → 400, kubelet → 200', async () => {
    const probe = await request(activator.httpPort, '/healthz', { headers: { 'K-Network-Probe': 'activator' } });
    expect([probe.status, probe.body]).toEqual([200, 'activator\n']);
    const wrong = await request(activator.httpPort, '/healthz', { headers: { 'K-Network-Probe': 'queue' } });
    expect(wrong.status).toBe(400);
    const kubelet = await request(activator.httpPort, '/', { headers: { 'User-Agent': 'kube-probe/1.36' } });
    expect(kubelet.status).toBe(200);
  });

  it('the revision timeout bounds the wait: 503 with Retry-After', async () => {
    const { status, headers } = await request(activator.httpPort, '/', { headers: route('short') });
    expect(status).toBe(503);
    expect(headers['retry-after']).toBe('1');
  });

  it('with containerConcurrency 1, 20 concurrent requests never put more than 1 at the app', async () => {
    await request(cc1Port, '/stats?reset=1');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => request(activator.httpPort, '/sleep?ms=20', { headers: route('cc1'), agent })),
    );
    agent.destroy();
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const stats = JSON.parse((await request(cc1Port, '/stats')).body) as { maxConcurrent: number; total: number };
    expect(stats).toMatchObject({ maxConcurrent: 1, total: 20 });
  });
});

describe('activator queue limits and retries', () => {
  it('answers 503 with Retry-After once ACTIVATOR_QUEUE_DEPTH requests are held', async () => {
    const activator = await startActivator(
      [{ namespace: NS, revision: 'full', timeoutSeconds: 30, pods: [`127.0.0.1:${await freePort()}`] }],
      { ACTIVATOR_QUEUE_DEPTH: '2' },
    );
    const agent = new http.Agent({ keepAlive: false });
    const held = [0, 1].map(() => {
      const req = http.get({ host: '127.0.0.1', port: activator.httpPort, path: '/', headers: route('full'), agent });
      req.on('error', () => undefined); // destroyed below
      return req;
    });
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_queue_depth', 'full')) === 2, 'two held');
    const overflow = await request(activator.httpPort, '/', { headers: route('full'), agent });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['retry-after']).toBe('1');
    expect(overflow.body).toContain('queue full');
    for (const req of held) req.destroy();
    // Clients that went away leave the queue.
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_queue_depth', 'full')) === 0, 'queue drained');
  });

  it('skips a pod that refuses connections and serves the request on the next one', async () => {
    // A first "pod" that passes the activator's probe, then stops listening: its port refuses.
    const gone = http.createServer((req, res) => {
      if (req.headers['k-network-probe'] === 'queue') res.end('queue');
      else res.writeHead(500).end('should never be proxied to');
    });
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const gonePort = (gone.address() as AddressInfo).port;
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
    const activator = await startActivator(
      // CC 1 → first-available in listed order, so the refusing pod is always tried first.
      [{ namespace: NS, revision: 'retry', containerConcurrency: 1, timeoutSeconds: 30, pods: [`127.0.0.1:${gonePort}`, `127.0.0.1:${qp.servingPort}`] }],
      // Probe once at start-up only, so the activator still believes in the first pod.
      { ACTIVATOR_PROBE_INTERVAL_MS: '600000' },
    );
    await eventually(async () => usablePods(activator, 'retry') === 2, 'both pods probed');
    gone.closeAllConnections();
    await new Promise((r) => gone.close(r));

    const { status, body } = await request(activator.httpPort, '/', { headers: route('retry'), agent: new http.Agent() });
    expect(status).toBe(200);
    expect(body).toBe('Hello World!\n');
    expect(await activatorMetric(activator.metricsPort, 'activator_pod_refusals_total', 'retry')).toBe(1);
    // The refusing pod is set aside: the next request goes straight to the live one.
    await eventually(async () => usablePods(activator, 'retry') === 1, 'refusing pod set aside (log line read)');
  });

  // Issue 21: Upgrades take the same request path as plain requests, retry after a refusal included.
  it('sends an Upgrade the refusing pod did not take on to the next pod, early bytes included', async () => {
    const gone = http.createServer((req, res) => void res.end(req.headers['k-network-probe'] === 'queue' ? 'queue' : 'no'));
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const gonePort = (gone.address() as AddressInfo).port;
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
    const activator = await startActivator(
      [{ namespace: NS, revision: 'retry-ws', containerConcurrency: 1, timeoutSeconds: 30, pods: [`127.0.0.1:${gonePort}`, `127.0.0.1:${qp.servingPort}`] }],
      { ACTIVATOR_PROBE_INTERVAL_MS: '600000' },
    );
    await eventually(async () => usablePods(activator, 'retry-ws') === 2, 'both pods probed');
    gone.closeAllConnections();
    await new Promise((r) => gone.close(r));

    const socket = net.connect(activator.httpPort, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    // The request and a first websocket frame ("hi", mask 0) in one write: the frame is an early
    // byte the activator holds while it tries the refusing pod, then hands to the next one.
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nKnative-Serving-Namespace: ${NS}\r\nKnative-Serving-Revision: retry-ws\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
        Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]),
      ]),
    );
    const echo = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    await eventually(async () => Buffer.concat(received).includes(echo), '101 and the echoed frame');
    expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    expect(await activatorMetric(activator.metricsPort, 'activator_pod_refusals_total', 'retry-ws')).toBe(1);
    socket.destroy();
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_in_flight', 'retry-ws')) === 0, 'slot freed');
  });
});

describe('activator h2c port', () => {
  it('takes h2c with prior knowledge and reaches an h2c app through its queue-proxy, body included', async () => {
    const app = await startTestApp({ PROTOCOL: 'h2c' });
    const qp = await startQueueProxy(app.port, { QUEUE_SERVING_PROTOCOL: 'h2c', SERVING_REVISION: 'grpcish' });
    const activator = await startActivator([{ namespace: NS, revision: 'grpcish', pods: [`127.0.0.1:${qp.servingPort}`] }]);
    await eventually(async () => usablePods(activator, 'grpcish') === 1, 'pod probed');
    const session = http2.connect(`http://127.0.0.1:${activator.h2cPort}`);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/echo',
          ':authority': 'grpcish.default.example.com',
          'knative-serving-namespace': NS,
          'knative-serving-revision': 'grpcish',
        });
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end('ping'); // no content-length: an HTTP/2 body ends with the stream
      });
      expect(answer.status).toBe(200);
      const seen = JSON.parse(answer.body) as { host: string; body: string; httpVersion: string; headers: Record<string, string> };
      expect(seen).toMatchObject({ host: 'grpcish.default.example.com', body: 'ping', httpVersion: '2.0' });
      expect(seen.headers['k-proxy-request']).toBe('activator');
    } finally {
      session.close();
    }
  });
});

describe('activator start-up errors', () => {
  it('a bad static config file is one clear line naming the variable, file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activator-bad-'));
    const file = join(dir, 'revisions.json');
    writeFileSync(file, '[\n  { "namespace": "ns", "revision": "r", "timeoutSeconds": "soon", "pods": [] }\n]\n');
    try {
      const { code, output } = await runToExit([RUNTIME_BUNDLE, 'activator'], { ACTIVATOR_STATIC_CONFIG: file, ACTIVATOR_HTTP_PORT: '0', ACTIVATOR_METRICS_PORT: '0' });
      expect(code).toBe(1);
      expect(output).toContain(`environment variable ACTIVATOR_STATIC_CONFIG: ${file}:2:`);
      expect(output).toContain('[0].timeoutSeconds must be number');
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
