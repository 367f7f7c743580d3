/**
 * Issue 18, HTTP/1.1 edges of the bundled queue-proxy (real processes and raw sockets on
 * 127.0.0.1): pipelined requests are all answered, in order, one at a time at containerConcurrency
 * 1; an Upgrade the app never answers is bound by the revision's timeouts; every listener has a
 * connection cap. Every test ends with no request in flight or waiting (no leaked slot).
 */
import type * as net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HostileApp, rawExchange, startHostileApp } from '../hostile-app';
import { MAX_WAITING_PIPELINED } from '../../../lib/runtime/shared/pipelining';
import { AnswerReader, connectAndAsk, connected, fillToCap, pipeline, requestText } from '../raw-http1';
import { eventually, metric, openWebsocket, type QueueProxyProcess, request, sleep, startQueueProxy, startTestApp, stopAll, type TestApp } from './processes';

let hostile: HostileApp;
beforeAll(async () => {
  hostile = await startHostileApp();
});
afterAll(async () => {
  await stopAll();
  await hostile?.close();
});

interface AppStats {
  readonly maxConcurrent: number;
  readonly total: number;
  readonly inFlight: number;
}
const appStats = async (app: TestApp): Promise<AppStats> => JSON.parse((await request(app.port, '/stats?reset=1')).body) as AppStats;

/** Nothing holds or waits for a slot any more. */
async function noSlotHeld(qp: QueueProxyProcess): Promise<void> {
  await eventually(
    async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0 && (await metric(qp.metricsPort, 'queue_depth')) === 0,
    'no request in flight or waiting',
  );
}

const get = (path: string) => requestText('GET', path);
const upgradeRequest = (path: string) =>
  requestText('GET', path, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' });

describe('pipelined requests at containerConcurrency 1', () => {
  let app: TestApp;
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    app = await startTestApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  });
  beforeEach(async () => {
    await eventually(async () => (await appStats(app)).inFlight === 0, 'app idle');
  });
  afterEach(async () => {
    await noSlotHeld(qp);
  });

  it('3 requests in one write: all answered, in order, the app sees one at a time', async () => {
    const { answers } = await pipeline(qp.servingPort, [get('/sleep?ms=60') + get('/sleep?ms=30') + get('/sleep?ms=10')], 3);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'slept 60\n'],
      [200, 'slept 30\n'],
      [200, 'slept 10\n'],
    ]);
    expect(await appStats(app)).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('the same requests written one by one', async () => {
    const { answers } = await pipeline(qp.servingPort, [get('/sleep?ms=60'), get('/sleep?ms=30'), get('/sleep?ms=10')], 3);
    expect(answers.map((a) => a.body)).toEqual(['slept 60\n', 'slept 30\n', 'slept 10\n']);
    expect(await appStats(app)).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('a POST with a body between two GETs, its body split across writes', async () => {
    const body = 'b'.repeat(50_000);
    const post = requestText('POST', '/echo', {}, body);
    const cut = post.length - 20_000;
    const { answers } = await pipeline(qp.servingPort, [get('/sleep?ms=30') + post.slice(0, cut), post.slice(cut) + get('/sleep?ms=10')], 3);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers[0].body).toBe('slept 30\n');
    expect((JSON.parse(answers[1].body) as { method: string; body: string })).toMatchObject({ method: 'POST', body });
    expect(answers[2].body).toBe('slept 10\n');
    expect(await appStats(app)).toMatchObject({ maxConcurrent: 1, total: 3 });
  });

  it('20 requests in one write, more than 1 in flight + 10 waiting: every one answered 200, in order', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/sleep?ms=${i}`);
    const { answers } = await pipeline(qp.servingPort, [paths.map(get).join('')], 20);
    expect(answers.map((a) => [a.status, a.body])).toEqual(paths.map((_, i) => [200, `slept ${i}\n`]));
    expect(await appStats(app)).toMatchObject({ maxConcurrent: 1, total: 20 });
  });

  it('a client that leaves with requests waiting gives every slot back; the next request is served', async () => {
    const socket = (await connectAndAsk(qp.servingPort, [1, 2, 3].map(() => get('/sleep?ms=400')).join(''))).socket;
    socket.destroy();
    await noSlotHeld(qp);
    await eventually(async () => (await appStats(app)).inFlight === 0, 'app idle');
    expect(await request(qp.servingPort, '/sleep?ms=1')).toMatchObject({ status: 200, body: 'slept 1\n' });
  });

  it('a client that leaves before any answer does too', async () => {
    const socket = await connected(qp.servingPort);
    socket.write([1, 2, 3].map(() => get('/sleep?ms=400')).join(''));
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 1, 'the first request at the app');
    socket.destroy();
    await noSlotHeld(qp);
    expect(await request(qp.servingPort, '/sleep?ms=1')).toMatchObject({ status: 200, body: 'slept 1\n' });
  });
});

describe('pipelining limits', () => {
  let app: TestApp;
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    app = await startTestApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  });

  it(`a client with more than ${MAX_WAITING_PIPELINED} requests waiting (1,000 in one write) is cut off; nothing leaks, the next client is served`, async () => {
    const { answers, closedEarly } = await pipeline(qp.servingPort, [Array.from({ length: 1000 }, () => get('/')).join('')], 1000);
    expect(closedEarly).toBe(true);
    expect(answers.length).toBeLessThan(1000);
    await noSlotHeld(qp);
    expect(await request(qp.servingPort, '/sleep?ms=1')).toMatchObject({ status: 200, body: 'slept 1\n' });
    expect((await appStats(app)).maxConcurrent).toBe(1);
  });

  it('an Upgrade pipelined behind a request switches once that answer is complete (containerConcurrency 0)', async () => {
    const unlimited = await startQueueProxy(app.port);
    const socket = await connected(unlimited.servingPort);
    const reader = new AnswerReader();
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.write(get('/sleep?ms=200') + upgradeRequest('/ws'));
    await eventually(async () => reader.answers.length === 2, 'both answers');
    expect(reader.answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'slept 200\n'],
      [101, ''],
    ]);
    socket.removeAllListeners('data');
    expect(await echo(socket, 'switched')).toBe('switched');
    socket.destroy();
    await noSlotHeld(unlimited);
  });
});

describe('an Upgrade the app never answers, at containerConcurrency 1', () => {
  it('is answered 504 "request timeout" at the revision timeout; its slot is given back', async () => {
    const qp = await startQueueProxy(hostile.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '2' });
    const { head } = await rawExchange(qp.servingPort, upgradeRequest('/stall'), { keepBody: true });
    expect(head).toMatch(/^HTTP\/1\.1 504 /);
    expect(head.endsWith('\r\n\r\nrequest timeout')).toBe(true);
    await eventually(async () => hostile.inFlight() === 0, 'the queue-proxy let go of the app');
    await noSlotHeld(qp);
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('is answered 504 at the response-start timeout', async () => {
    const qp = await startQueueProxy(hostile.port, { CONTAINER_CONCURRENCY: '1', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1' });
    const { head } = await rawExchange(qp.servingPort, upgradeRequest('/stall'), { keepBody: true });
    expect(head).toMatch(/^HTTP\/1\.1 504 /);
    await noSlotHeld(qp);
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
  });
});

describe('Upgrades and the revision timeout at containerConcurrency 1 (test-app websockets)', () => {
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    const app = await startTestApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '1' });
  });

  it('an Upgrade waiting for the slot gets 504 at the deadline; the open websocket outlives it', async () => {
    const websocket = await openWebsocket(qp.servingPort);
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 1, 'the websocket holds the slot');
    const { head } = await rawExchange(qp.servingPort, upgradeRequest('/ws'), { keepBody: true });
    expect(head).toMatch(/^HTTP\/1\.1 504 [^]*request timeout$/);
    expect(await metric(qp.metricsPort, 'queue_depth')).toBe(0);
    // Past its own deadline (1 s) the switched connection still carries frames both ways.
    await sleep(1100);
    expect(await echo(websocket, 'still open')).toBe('still open');
    websocket.destroy();
    await noSlotHeld(qp);
  });
});

/** Sends a masked text frame (all-zero mask) and resolves with the text of the echoed frame. */
function echo(socket: net.Socket, text: string): Promise<string> {
  const payload = Buffer.from(text);
  return new Promise((resolve) => {
    socket.once('data', (frame: Buffer) => resolve(frame.subarray(2, 2 + (frame[1] & 0x7f)).toString()));
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  });
}

describe('a connection cap on every listener', () => {
  const CAP = 4;
  const probe = requestText('GET', '/', { 'K-Network-Probe': 'queue' });

  /** Fills the listener, sees 3 more connections closed unanswered, then serves again once the silent ones go. */
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

  it('HTTP/1 serving, admin and metrics ports: QUEUE_MAX_HTTP1_CONNECTIONS', async () => {
    const qp = await startQueueProxy(hostile.port, { CONTAINER_CONCURRENCY: '1', QUEUE_MAX_HTTP1_CONNECTIONS: String(CAP) });
    await capped(qp.servingPort, probe);
    await capped(qp.adminPort, requestText('GET', '/elsewhere'));
    await capped(qp.metricsPort, requestText('GET', '/metrics'));
    expect(qp.proc.exitCode).toBeNull();
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
    await noSlotHeld(qp);
  });

  it('the h2c serving port: QUEUE_MAX_CONNECTIONS', async () => {
    const app = await startTestApp({ PROTOCOL: 'h2c' });
    const qp = await startQueueProxy(app.port, { QUEUE_SERVING_PROTOCOL: 'h2c', QUEUE_MAX_CONNECTIONS: String(CAP) });
    await capped(qp.servingPort, probe);
    expect(qp.proc.exitCode).toBeNull();
    await noSlotHeld(qp);
  });
});
