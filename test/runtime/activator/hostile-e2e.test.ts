/**
 * Issue 12: one broken revision never takes the shared activator down, abandoned Upgrades free
 * their slot, idle HTTP/2 sessions are closed. The bundled activator (standalone) in front of a
 * raw broken app (test/runtime/hostile-app.ts) and test-app; real processes on 127.0.0.1.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileApp, memoryOf, rawExchange, startHostileApp } from '../hostile-app';
import { eventually, request, startQueueProxy, startTestApp, stopAll } from '../queue-proxy/processes';
import { activatorMetric, type ActivatorProcess, startActivator, stopActivators } from './processes';

const NS = 'default';
const route = (revision: string) => ({ 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': revision });
// resume(): what the server sends is read, so its closing the connection is seen.
const connect = (port: number) => net.connect(port, '127.0.0.1').on('error', () => undefined).resume();
const upgradeRequest = (path: string, revision: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nKnative-Serving-Namespace: ${NS}\r\nKnative-Serving-Revision: ${revision}\r\n` +
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

let app: HostileApp;
let activator: ActivatorProcess;

beforeAll(async () => {
  app = await startHostileApp();
  const good = await startQueueProxy((await startTestApp()).port);
  activator = await startActivator(
    [
      { namespace: NS, revision: 'broken', containerConcurrency: 1, timeoutSeconds: 60, pods: [`127.0.0.1:${app.port}`] },
      { namespace: NS, revision: 'good', containerConcurrency: 0, timeoutSeconds: 60, pods: [`127.0.0.1:${good.servingPort}`] },
    ],
    { ACTIVATOR_IDLE_CONNECTION_SECONDS: '1' },
  );
  // Both revisions have a probed pod before the tests start.
  await eventually(async () => (await request(activator.httpPort, '/', { headers: route('good') })).status === 200, 'good ready');
  await eventually(async () => (await request(activator.httpPort, '/', { headers: route('broken') })).status === 200, 'broken ready');
});
afterAll(async () => {
  await stopActivators();
  await stopAll();
  await app?.close();
});

describe('a broken revision behind the shared activator', () => {
  it('an invalid status line is a 502 for that request; the activator serves every revision on', async () => {
    expect(await request(activator.httpPort, '/bad-status', { headers: route('broken') })).toMatchObject({ status: 502 });
    expect(await request(activator.httpPort, '/bad-header', { headers: route('broken') })).toMatchObject({ status: 502 });
    expect(await request(activator.httpPort, '/', { headers: route('good') })).toMatchObject({ status: 200, body: 'Hello World!\n' });
    expect(activator.proc.exitCode).toBeNull();
  });

  it('the same through an Upgrade request', async () => {
    const { head } = await rawExchange(activator.httpPort, upgradeRequest('/bad-status', 'broken'));
    expect(head).toMatch(/^HTTP\/1\.1 502 /);
    expect(await request(activator.httpPort, '/', { headers: route('good') })).toMatchObject({ status: 200 });
    expect(activator.proc.exitCode).toBeNull();
  });

  it('an Upgrade the pod does not take is streamed, not buffered (256 MiB body, bounded memory)', async () => {
    const before = memoryOf(activator.proc.pid!);
    const { head, bytes } = await rawExchange(activator.httpPort, upgradeRequest('/big?mb=256', 'broken'));
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(bytes).toBeGreaterThan(256 * 1024 * 1024);
    // A leak bound, not a timing: buffering the body would add 256 MiB or more.
    expect(memoryOf(activator.proc.pid!).peakMiB - before.peakMiB).toBeLessThan(96);
  });

  it('an Upgrade abandoned before the pod answers frees the revision slot (containerConcurrency 1)', async () => {
    const socket = connect(activator.httpPort);
    socket.write(upgradeRequest('/stall', 'broken'));
    await eventually(async () => app.inFlight() === 1, 'the pod holds the upgrade');
    socket.destroy();
    await eventually(async () => app.inFlight() === 0, 'the activator let go of the pod');
    expect(await request(activator.httpPort, '/', { headers: route('broken') })).toMatchObject({ status: 200, body: 'ok' });
    await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_in_flight', 'broken')) === 0, 'nothing in flight');
  });
});

describe('the h2c port', () => {
  it('closes an idle session, and does not cut one with a request in flight', async () => {
    const session = http2.connect(`http://127.0.0.1:${activator.h2cPort}`);
    session.on('error', () => undefined);
    const stream = session.request({ ':path': '/sleep?ms=2500', 'knative-serving-namespace': NS, 'knative-serving-revision': 'good' });
    let body = '';
    stream.on('data', (c: Buffer) => (body += c));
    const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
    await new Promise((resolve) => stream.once('end', resolve));
    expect({ status, body }).toEqual({ status: 200, body: 'slept 2500\n' });
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(activator.proc.exitCode).toBeNull();
  });

  it('closes a connection that never completes its HTTP/2 preface', async () => {
    const socket = connect(activator.h2cPort);
    socket.write('PRI * HTTP/2.0\r\n');
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  });
});
