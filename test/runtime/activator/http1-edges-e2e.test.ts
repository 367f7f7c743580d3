/**
 * Issue 18, HTTP/1.1 edges of the bundled activator (standalone; real processes and raw sockets on
 * 127.0.0.1): pipelined requests are all answered, in order, one at a time at containerConcurrency
 * 1 (test-app behind a queue-proxy); an Upgrade the pod never answers is bound by the revision's
 * timeouts (the hostile app as the pod, with and without a queue-proxy's role); every listener has
 * a connection cap. Every test ends with nothing in flight at the activator.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HostileApp, rawExchange, startHostileApp } from '../hostile-app';
import { connectAndAsk, connected, fillToCap, pipeline, requestText } from '../raw-http1';
import { eventually, metric, type QueueProxyProcess, request, startQueueProxy, startTestApp, stopAll, type TestApp } from '../queue-proxy/processes';
import { activatorMetric, type ActivatorProcess, startActivator, stopActivators, usablePods } from './processes';

const NS = 'default';
const route = (revision: string) => ({ 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': revision });
const get = (path: string, revision: string) => requestText('GET', path, route(revision));
const upgradeRequest = (path: string, revision: string) =>
  requestText('GET', path, {
    ...route(revision),
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
  });

interface AppStats {
  readonly maxConcurrent: number;
  readonly total: number;
  readonly inFlight: number;
}

let app: TestApp;
let qp: QueueProxyProcess;
let hostile: HostileApp;
let activator: ActivatorProcess;

beforeAll(async () => {
  [app, hostile] = await Promise.all([startTestApp(), startHostileApp()]);
  qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  activator = await startActivator([
    { namespace: NS, revision: 'cc1', containerConcurrency: 1, timeoutSeconds: 60, pods: [`127.0.0.1:${qp.servingPort}`] },
    // The hostile app answers the activator's probes as a queue-proxy would.
    { namespace: NS, revision: 'stall', containerConcurrency: 1, timeoutSeconds: 2, pods: [`127.0.0.1:${hostile.port}`] },
    {
      namespace: NS,
      revision: 'stall-app',
      dataPlane: 'activator',
      containerConcurrency: 1,
      timeoutSeconds: 60,
      responseStartTimeoutSeconds: 1,
      pods: [`127.0.0.1:${hostile.port}`],
    },
  ]);
  for (const revision of ['cc1', 'stall', 'stall-app']) {
    await eventually(async () => usablePods(activator, revision) === 1, `${revision} probed ready`);
  }
});
afterAll(async () => {
  await stopActivators();
  await stopAll();
  await hostile?.close();
});

const appStats = async (): Promise<AppStats> => JSON.parse((await request(app.port, '/stats?reset=1')).body) as AppStats;

/** Nothing in flight at the activator for `revision`. */
async function nothingInFlight(revision: string): Promise<void> {
  await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_in_flight', revision)) === 0, `nothing in flight for ${revision}`);
}

describe('pipelined requests at containerConcurrency 1', () => {
  beforeEach(async () => {
    await eventually(async () => (await appStats()).inFlight === 0, 'app idle');
  });
  afterEach(async () => {
    await nothingInFlight('cc1');
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0, 'queue-proxy idle');
  });

  it('3 requests in one write: all answered, in order, the app sees one at a time', async () => {
    const { answers } = await pipeline(activator.httpPort, [get('/sleep?ms=60', 'cc1') + get('/sleep?ms=30', 'cc1') + get('/sleep?ms=10', 'cc1')], 3);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'slept 60\n'],
      [200, 'slept 30\n'],
      [200, 'slept 10\n'],
    ]);
    expect(await appStats()).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('the same requests written one by one', async () => {
    const { answers } = await pipeline(activator.httpPort, [get('/sleep?ms=60', 'cc1'), get('/sleep?ms=30', 'cc1'), get('/sleep?ms=10', 'cc1')], 3);
    expect(answers.map((a) => a.body)).toEqual(['slept 60\n', 'slept 30\n', 'slept 10\n']);
    expect(await appStats()).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('a POST with a body between two GETs, its body split across writes', async () => {
    const body = 'b'.repeat(50_000);
    const post = requestText('POST', '/echo', route('cc1'), body);
    const cut = post.length - 20_000;
    const { answers } = await pipeline(activator.httpPort, [get('/sleep?ms=30', 'cc1') + post.slice(0, cut), post.slice(cut) + get('/sleep?ms=10', 'cc1')], 3);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(answers[1].body) as { method: string; body: string }).toMatchObject({ method: 'POST', body });
    expect([answers[0].body, answers[2].body]).toEqual(['slept 30\n', 'slept 10\n']);
    expect(await appStats()).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('20 requests in one write: every one answered 200, in order', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/sleep?ms=${i}`);
    const { answers } = await pipeline(activator.httpPort, [paths.map((p) => get(p, 'cc1')).join('')], 20);
    expect(answers.map((a) => [a.status, a.body])).toEqual(paths.map((_, i) => [200, `slept ${i}\n`]));
    expect(await appStats()).toMatchObject({ maxConcurrent: 1, total: 20 });
  });

  it('a client that leaves with requests waiting gives every slot back; the next request is served', async () => {
    const socket = await connected(activator.httpPort);
    socket.write([1, 2, 3].map(() => get('/sleep?ms=400', 'cc1')).join(''));
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_in_flight', 'cc1')) === 1, 'the first request at the pod');
    socket.destroy();
    await nothingInFlight('cc1');
    expect(await request(activator.httpPort, '/sleep?ms=1', { headers: route('cc1') })).toMatchObject({ status: 200, body: 'slept 1\n' });
  });
});

describe('an Upgrade the pod never answers, at containerConcurrency 1', () => {
  afterEach(async () => {
    await eventually(async () => hostile.inFlight() === 0, 'the activator let go of the pod');
  });

  it('is answered 504 at the revision timeout; its slots are given back', async () => {
    const { head } = await rawExchange(activator.httpPort, upgradeRequest('/stall', 'stall'), { keepBody: true });
    expect(head).toMatch(/^HTTP\/1\.1 504 [^]*activator request timeout\n$/);
    await nothingInFlight('stall');
    expect(await request(activator.httpPort, '/', { headers: route('stall') })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('mode activator: is answered 504 at the app response-start timeout', async () => {
    const { head } = await rawExchange(activator.httpPort, upgradeRequest('/stall', 'stall-app'), { keepBody: true });
    expect(head).toMatch(/^HTTP\/1\.1 504 [^]*\r\n\r\nrequest timeout\n$/);
    await nothingInFlight('stall-app');
    expect(await request(activator.httpPort, '/', { headers: route('stall-app') })).toMatchObject({ status: 200, body: 'ok' });
  });
});

describe('a connection cap on every listener', () => {
  const CAP = 4;

  async function capped(port: number, ask: string): Promise<void> {
    const silent = await fillToCap(port, CAP, ask, eventually);
    const extra = await Promise.all([1, 2, 3].map(() => connectAndAsk(port, ask)));
    expect(extra.map((e) => e.answered)).toEqual([false, false, false]);
    for (const socket of silent) socket.destroy();
    await eventually(async () => {
      const { answered, socket } = await connectAndAsk(port, ask);
      socket.destroy();
      return answered;
    }, 'served again');
  }

  it('HTTP/1 and metrics ports (ACTIVATOR_MAX_HTTP1_CONNECTIONS), the h2c port (ACTIVATOR_MAX_CONNECTIONS)', async () => {
    const capped4 = await startActivator(
      [{ namespace: NS, revision: 'cc1', containerConcurrency: 1, timeoutSeconds: 60, pods: [`127.0.0.1:${qp.servingPort}`] }],
      { ACTIVATOR_MAX_HTTP1_CONNECTIONS: String(CAP), ACTIVATOR_MAX_CONNECTIONS: String(CAP) },
    );
    await capped(capped4.httpPort, requestText('GET', '/', { 'K-Network-Probe': 'activator' }));
    await capped(capped4.metricsPort, requestText('GET', '/metrics'));
    // node:http2 sends its SETTINGS as soon as it takes a connection: any bytes are an answer.
    await capped(capped4.h2cPort, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(capped4.proc.exitCode).toBeNull();
    expect(await request(capped4.httpPort, '/sleep?ms=1', { headers: route('cc1') })).toMatchObject({ status: 200, body: 'slept 1\n' });
    expect(await activatorMetric(capped4.metricsPort, 'activator_in_flight', 'cc1')).toBe(0);
  });
});
