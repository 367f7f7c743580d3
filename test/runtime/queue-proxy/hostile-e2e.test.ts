/**
 * Issue 12: hostile traffic and broken apps never crash, leak or wedge the bundled queue-proxy.
 * Real processes and sockets on 127.0.0.1: the queue-proxy in front of a raw broken app
 * (test/runtime/hostile-app.ts).
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileApp, memoryOf, rawExchange, startHostileApp } from '../hostile-app';
import { eventually, metric, type QueueProxyProcess, request, startQueueProxy, startTestApp, stopAll } from './processes';

let app: HostileApp;
afterAll(async () => {
  await stopAll();
  await app?.close();
});
beforeAll(async () => {
  app = await startHostileApp();
});

// resume(): what the server sends is read, so its closing the connection is seen.
const connect = (port: number) => net.connect(port, '127.0.0.1').on('error', () => undefined).resume();

const upgradeRequest = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('a broken app', () => {
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  });

  it('an invalid status line is a 502, and the queue-proxy keeps serving', async () => {
    expect(await request(qp.servingPort, '/bad-status')).toMatchObject({ status: 502 });
    expect(await request(qp.servingPort, '/bad-header')).toMatchObject({ status: 502 });
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
    expect(qp.proc.exitCode).toBeNull();
  });

  it('the same through an Upgrade request: a clean 502, the process stays up', async () => {
    const { head } = await rawExchange(qp.servingPort, upgradeRequest('/bad-status'));
    expect(head).toMatch(/^HTTP\/1\.1 502 /);
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200 });
    expect(qp.proc.exitCode).toBeNull();
  });

  it('an Upgrade the app does not take is streamed, not buffered (256 MiB body, bounded memory)', async () => {
    const before = memoryOf(qp.proc.pid!);
    const { head, bytes } = await rawExchange(qp.servingPort, upgradeRequest('/big?mb=256'));
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(bytes).toBeGreaterThan(256 * 1024 * 1024);
    // A leak bound, not a timing: buffering the body would add 256 MiB or more.
    expect(memoryOf(qp.proc.pid!).peakMiB - before.peakMiB).toBeLessThan(96);
  });

  it('an Upgrade the client abandons before the app answers frees its slot (containerConcurrency 1)', async () => {
    const socket = connect(qp.servingPort);
    socket.write(upgradeRequest('/stall'));
    await eventually(async () => app.inFlight() === 1, 'the app holds the upgrade');
    socket.destroy();
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0, 'slot released');
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('an Upgrade sent with a body (100 KiB) whose client leaves frees its slot', async () => {
    const socket = connect(qp.servingPort);
    const body = Buffer.alloc(100 * 1024, 'b');
    socket.write(upgradeRequest('/stall').replace('\r\n\r\n', `\r\nContent-Length: ${body.length}\r\n\r\n`));
    socket.end(body, () => socket.destroy());
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0, 'slot released');
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('an Upgrade abandoned while it waits for a slot leaves the queue', async () => {
    const holder = connect(qp.servingPort);
    holder.write('GET /stall HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 1, 'slot taken');
    const waiter = connect(qp.servingPort);
    waiter.write(upgradeRequest('/'));
    await eventually(async () => (await metric(qp.metricsPort, 'queue_depth')) === 1, 'upgrade queued');
    waiter.destroy();
    await eventually(async () => (await metric(qp.metricsPort, 'queue_depth')) === 0, 'queue left');
    holder.destroy();
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0, 'slot released');
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200 });
  });
});

describe('idle and slow connections on the h2c serving port', () => {
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    const h2cApp = await startTestApp({ PROTOCOL: 'h2c' });
    qp = await startQueueProxy(h2cApp.port, { QUEUE_SERVING_PROTOCOL: 'h2c', QUEUE_IDLE_CONNECTION_SECONDS: '1', QUEUE_HEADERS_TIMEOUT_SECONDS: '1' });
  });

  const closedByServer = (socket: net.Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

  it('a connection that never sends a byte is closed', async () => {
    const socket = connect(qp.servingPort);
    await closedByServer(socket);
    expect(qp.proc.exitCode).toBeNull();
  });

  it('an HTTP/1 request head trickled a byte at a time (slowloris) is cut off', async () => {
    const socket = connect(qp.servingPort);
    const text = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
    let i = 0;
    const trickle = setInterval(() => socket.writable && socket.write(text[i++ % text.length]), 50);
    await closedByServer(socket);
    clearInterval(trickle);
  });

  it('an idle HTTP/2 session is closed; one with a request in flight is not cut', async () => {
    const session = http2.connect(`http://127.0.0.1:${qp.servingPort}`);
    session.on('error', () => undefined);
    // The answer takes longer than the idle timeout (1 s): a session with a stream open is busy.
    const stream = session.request({ ':path': '/sleep?ms=2500' });
    let body = '';
    stream.on('data', (c: Buffer) => (body += c));
    const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
    await new Promise((resolve) => stream.once('end', resolve));
    expect({ status, body }).toEqual({ status: 200, body: 'slept 2500\n' });
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
  });
});

describe('the admin port with a drain token (QUEUE_DRAIN_TOKEN)', () => {
  const probe = (port: number) => request(port, '/', { headers: { 'K-Network-Probe': 'queue' } });

  it('refuses /wait-for-drain without the right token (403, readiness unchanged); the token drains', async () => {
    const qp = await startQueueProxy(app.port, { QUEUE_DRAIN_TOKEN: 'f00dfeed', QUEUE_DRAIN_SECONDS: '30' });
    expect(await request(qp.adminPort, '/wait-for-drain')).toMatchObject({ status: 403 });
    expect(await request(qp.adminPort, '/wait-for-drain', { headers: { 'K-Drain-Token': 'f00dfeee' } })).toMatchObject({ status: 403 });
    expect(await request(qp.adminPort, '/wait-for-drain', { headers: { 'K-Drain-Token': 'f00dfeed0' } })).toMatchObject({ status: 403 });
    expect(await probe(qp.servingPort)).toMatchObject({ status: 200, body: 'queue' });
    // The right token: the drain starts (readiness fails), and resets after 1 s without SIGTERM.
    const drained = request(qp.adminPort, '/wait-for-drain', { headers: { 'K-Drain-Token': 'f00dfeed' } });
    await eventually(async () => (await probe(qp.servingPort)).status === 503, 'draining');
    expect((await drained).status).toBe(200);
  });
});
