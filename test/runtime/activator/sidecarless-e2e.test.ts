/**
 * Data-plane mode `activator` (issue 13): the bundled activator in standalone mode in front of
 * test-apps and the hostile app WITHOUT a queue-proxy — the activator does the queue-proxy's work
 * (containerConcurrency per pod, the revision's total, response-start and idle timeouts, the app's
 * own readiness probe, the Host the app sees). Real processes on 127.0.0.1; the last block runs
 * the activator in this process so the test can play the Endpoints informer (a pod leaving the
 * private Endpoints while it serves). Every load loop is bounded in count and by the timeouts.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readActivatorConfig } from '../../../lib/runtime/activator/config';
import { type RunningActivator, startActivator as startInProcess } from '../../../lib/runtime/activator/main';
import { createLogger } from '../../../lib/runtime/shared/logger';
import { type HostileApp, startHostileApp } from '../hostile-app';
import { type TestApp, eventually, request, startTestApp, stopAll } from '../queue-proxy/processes';
import { type ActivatorProcess, activatorMetric, freePort, startActivator, stopActivators, usablePods } from './processes';

const NS = 'default';
const route = (revision: string, extra: Record<string, string> = {}) => ({ 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': revision, ...extra });
const sidecarless = { dataPlane: 'activator' as const };

interface Outcome {
  readonly status: number;
  readonly body: string;
  /** The whole body arrived (false: the response was cut off). */
  readonly complete: boolean;
}

/** One request on its own connection; a response cut off half-way resolves with complete false. */
function fetchOutcome(port: number, path: string, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const done = () => resolve({ status: res.statusCode!, body, complete: res.complete });
      res.once('end', done);
      res.once('aborted', done);
      res.once('error', done);
    });
    req.once('error', reject);
  });
}

interface AppStats {
  readonly maxConcurrent: number;
  readonly total: number;
  readonly inFlight: number;
}
const statsOf = async (app: TestApp): Promise<AppStats> => JSON.parse((await request(app.port, '/stats', { agent: new http.Agent() })).body) as AppStats;

const servers: http.Server[] = [];
afterAll(async () => {
  await stopActivators();
  await stopAll();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** An app whose readiness endpoint answers 503 until `ready` is set; it records the probes' headers. */
async function flippingApp(): Promise<{ port: number; setReady: () => void; probes: http.IncomingHttpHeaders[]; served: string[] }> {
  let ready = false;
  const probes: http.IncomingHttpHeaders[] = [];
  const served: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/ready') {
      probes.push(req.headers);
      return void res.writeHead(ready ? 204 : 503).end();
    }
    served.push(`${req.url} host=${req.headers.host}`);
    res.end('served');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, setReady: () => (ready = true), probes, served };
}

describe('activator in front of apps without a queue-proxy', () => {
  let activator: ActivatorProcess;
  let cc1App: TestApp;
  let timeoutApp: TestApp;
  let hostile: HostileApp;
  let latePort: number;
  let flipping: Awaited<ReturnType<typeof flippingApp>>;

  beforeAll(async () => {
    [cc1App, timeoutApp, hostile, latePort, flipping] = await Promise.all([startTestApp(), startTestApp(), startHostileApp(), freePort(), flippingApp()]);
    const pod = (port: number) => [`127.0.0.1:${port}`];
    activator = await startActivator([
      { namespace: NS, revision: 'cc1', ...sidecarless, containerConcurrency: 1, timeoutSeconds: 60, pods: pod(cc1App.port) },
      { namespace: NS, revision: 'total', ...sidecarless, containerConcurrency: 1, timeoutSeconds: 1, pods: pod(timeoutApp.port) },
      { namespace: NS, revision: 'start', ...sidecarless, containerConcurrency: 1, timeoutSeconds: 60, responseStartTimeoutSeconds: 1, pods: pod(timeoutApp.port) },
      { namespace: NS, revision: 'idle', ...sidecarless, containerConcurrency: 1, timeoutSeconds: 60, idleTimeoutSeconds: 1, pods: pod(timeoutApp.port) },
      { namespace: NS, revision: 'late', ...sidecarless, containerConcurrency: 0, timeoutSeconds: 60, pods: pod(latePort) },
      {
        namespace: NS,
        revision: 'flip',
        ...sidecarless,
        timeoutSeconds: 60,
        readinessProbe: { httpGet: { path: '/ready', httpHeaders: [{ name: 'X-Ready-Check', value: 'activator' }] } },
        pods: pod(flipping.port),
      },
      {
        namespace: NS,
        revision: 'hostile',
        ...sidecarless,
        containerConcurrency: 1,
        timeoutSeconds: 3,
        responseStartTimeoutSeconds: 1,
        pods: pod(hostile.port),
      },
    ]);
    for (const revision of ['cc1', 'total', 'hostile']) {
      await eventually(async () => usablePods(activator, revision) === 1, `${revision} probed ready`);
    }
  });

  it('passes the request on as the queue-proxy would: the client Host, Forwarded, no routing headers', async () => {
    const { status, body } = await request(activator.httpPort, '/echo', { headers: route('cc1', { Host: 'hello.default.example.com', 'X-Forwarded-Proto': 'https' }) });
    expect(status).toBe(200);
    const seen = JSON.parse(body) as { host: string; headers: Record<string, string> };
    expect(seen.host).toBe('hello.default.example.com');
    expect(seen.headers['k-original-host']).toBeUndefined();
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers['k-proxy-request']).toBe('activator');
    // Built from the X-Forwarded-* headers as they arrived, as Knative's ForwardedShimHandler does.
    expect(seen.headers.forwarded).toBe('proto=https');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('a websocket reaches the app itself (no queue-proxy) and, once closed, frees its slot', async () => {
    const socket = net.connect(activator.httpPort, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nKnative-Serving-Namespace: ${NS}\r\nKnative-Serving-Revision: cc1\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await eventually(async () => Buffer.concat(received).includes('\r\n\r\n'), '101 answer');
    expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    received.length = 0;
    // A masked text frame "hi" (mask 0: the payload as is); test-app echoes it unmasked.
    socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    await eventually(async () => Buffer.concat(received).length >= 4, 'echo frame');
    expect([...Buffer.concat(received)]).toEqual([0x81, 0x02, 0x68, 0x69]);
    await new Promise<void>((resolve) => (socket.once('close', () => resolve()), socket.destroy()));
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_in_flight', 'cc1')) === 0, 'slot freed');
    expect(await fetchOutcome(activator.httpPort, '/', route('cc1'))).toEqual({ status: 200, body: 'Hello World!\n', complete: true });
  });

  it('containerConcurrency 1: 40 concurrent requests all served, the app never sees 2 at once', async () => {
    await request(cc1App.port, '/stats?reset=1', { agent: new http.Agent() });
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => request(activator.httpPort, '/sleep?ms=20', { headers: route('cc1'), agent: new http.Agent() })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    const stats = await statsOf(cc1App);
    expect(stats.total).toBe(40);
    expect(stats.maxConcurrent).toBe(1);
  });

  it('the revision timeout: 504, and the slot is free for the next request at once', async () => {
    const slow = await fetchOutcome(activator.httpPort, '/sleep?ms=5000', route('total'));
    expect(slow.status).toBe(504);
    // containerConcurrency 1: a leaked slot would hold this one until its own timeout (then 503).
    expect(await fetchOutcome(activator.httpPort, '/sleep?ms=10', route('total'))).toMatchObject({ status: 200, complete: true });
    expect(await activatorMetric(activator.metricsPort, 'activator_in_flight', 'total')).toBe(0);
  });

  it('the response-start timeout: 504 when the app sends nothing in time; a response that starts at once may run longer', async () => {
    expect(await fetchOutcome(activator.httpPort, '/sleep?ms=5000', route('start'))).toEqual({ status: 504, body: 'request timeout', complete: true });
    const streamed = await fetchOutcome(activator.httpPort, '/stream?chunks=4&interval=400', route('start'));
    expect(streamed).toMatchObject({ status: 200, complete: true });
    expect(streamed.body.trim().split('\n')).toHaveLength(4);
    expect(await fetchOutcome(activator.httpPort, '/sleep?ms=10', route('start'))).toMatchObject({ status: 200, complete: true });
  });

  it('the idle timeout: a response that goes quiet is cut off; one that keeps writing completes', async () => {
    const quiet = await fetchOutcome(activator.httpPort, '/stream?chunks=3&interval=2500', route('idle'));
    expect(quiet).toMatchObject({ status: 200, complete: false });
    const busy = await fetchOutcome(activator.httpPort, '/stream?chunks=5&interval=300', route('idle'));
    expect(busy).toMatchObject({ status: 200, complete: true });
    expect(await fetchOutcome(activator.httpPort, '/sleep?ms=10', route('idle'))).toMatchObject({ status: 200, complete: true });
    expect(await activatorMetric(activator.metricsPort, 'activator_in_flight', 'idle')).toBe(0);
  });

  it('an app not listening yet (TCP probe): the request is held, then served once the app starts', async () => {
    const answer = request(activator.httpPort, '/echo', { headers: route('late'), agent: new http.Agent() });
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_queue_depth', 'late')) === 1, 'request held');
    await startTestApp({ PORT: String(latePort) });
    expect((await answer).status).toBe(200);
  });

  it('an app whose HTTP readiness probe fails is not sent requests, although it accepts connections; served once the probe passes', async () => {
    const answer = request(activator.httpPort, '/work', { headers: route('flip', { Host: 'flip.example.com' }), agent: new http.Agent() });
    await eventually(async () => flipping.probes.length >= 3, 'probed a few times');
    expect(await activatorMetric(activator.metricsPort, 'activator_queue_depth', 'flip')).toBe(1);
    expect(flipping.served).toEqual([]);
    expect(flipping.probes[0]['x-ready-check']).toBe('activator');
    flipping.setReady();
    expect(await answer).toMatchObject({ status: 200, body: 'served' });
    expect(flipping.served).toEqual(['/work host=flip.example.com']);
  });

  describe('a hostile app: 502/504, no crash, no leaked slot (containerConcurrency 1)', () => {
    it.each([
      ['resets the connection', '/reset', 502, true],
      ['answers bytes that are not HTTP', '/garbage', 502, true],
      ['sends a status line node:http refuses', '/bad-status', 502, true],
      ['never answers (response-start timeout)', '/stall', 504, true],
      ['trickles its body (the total timeout cuts it)', '/trickle', 200, false],
    ] as const)('%s', async (_what, path, status, complete) => {
      hostile.resetMax();
      expect(await fetchOutcome(activator.httpPort, path, route('hostile'))).toMatchObject({ status, complete });
      // The next request gets the one slot: a leaked slot would hold it until its timeout (503).
      expect(await fetchOutcome(activator.httpPort, '/', route('hostile'))).toEqual({ status: 200, body: 'ok', complete: true });
      expect(hostile.maxInFlight()).toBeLessThanOrEqual(1);
      expect(await activatorMetric(activator.metricsPort, 'activator_in_flight', 'hostile')).toBe(0);
      expect(activator.proc.exitCode).toBeNull();
    });
  });
});

describe('a pod leaving the private Endpoints (terminating) while it serves', () => {
  let running: RunningActivator;
  let dir: string;
  let apps: TestApp[];

  beforeAll(async () => {
    apps = await Promise.all([startTestApp(), startTestApp()]);
    dir = mkdtempSync(join(tmpdir(), 'sidecarless-'));
    const path = join(dir, 'revisions.json');
    writeFileSync(path, JSON.stringify([{ namespace: NS, revision: 'drain', dataPlane: 'activator', containerConcurrency: 1, timeoutSeconds: 60, pods: [] }]));
    const config = readActivatorConfig({
      ACTIVATOR_STATIC_CONFIG: path,
      ACTIVATOR_HTTP_PORT: '0',
      ACTIVATOR_H2C_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
    });
    running = await startInProcess(config, createLogger('activator', { level: 'silent' }));
  });
  afterAll(async () => {
    await running?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('requests in flight on it complete; new ones go to the pod that stays', async () => {
    const address = (app: TestApp) => ({ host: '127.0.0.1', port: app.port });
    // As the Endpoints informer reports them: both pods ready.
    running.registry.setPods(NS, 'drain', { ready: apps.map(address), notReady: [] });
    expect(running.registry.get(NS, 'drain')?.readyPods).toBe(2);

    const inFlight = fetchOutcome(running.httpPort, '/sleep?ms=1500', route('drain'));
    let leaving: TestApp | undefined;
    await eventually(async () => {
      const busy = await Promise.all(apps.map(statsOf));
      leaving = apps[busy.findIndex((s) => s.inFlight === 1)];
      return leaving !== undefined;
    }, 'the request reached a pod');
    const staying = apps.find((a) => a !== leaving)!;
    const before = await Promise.all([statsOf(leaving!), statsOf(staying)]);

    // Terminating: Kubernetes drops the pod from the private Endpoints (not even notReady).
    running.registry.setPods(NS, 'drain', { ready: [address(staying)], notReady: [] });
    const next = await Promise.all(Array.from({ length: 10 }, () => fetchOutcome(running.httpPort, '/sleep?ms=10', route('drain'))));
    expect(next.map((o) => o.status)).toEqual(Array(10).fill(200));
    expect(await inFlight).toMatchObject({ status: 200, complete: true });

    const after = await Promise.all([statsOf(leaving!), statsOf(staying)]);
    expect(after[0].total).toBe(before[0].total);
    expect(after[1].total).toBe(before[1].total + 10);
    expect(running.registry.get(NS, 'drain')?.throttler.inFlight).toBe(0);
  });
});
