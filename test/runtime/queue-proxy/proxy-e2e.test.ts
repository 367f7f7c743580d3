/**
 * The bundled queue-proxy in front of test-app, both real processes on 127.0.0.1: what the app
 * sees, probes, websockets, streaming, h2c.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QueueProxyProcess, request, startQueueProxy, startTestApp, stopAll, type TestApp } from './processes';

afterAll(stopAll);

describe('queue-proxy over HTTP/1.1', () => {
  let app: TestApp;
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    app = await startTestApp();
    qp = await startQueueProxy(app.port);
  });

  it('restores Host from K-Original-Host and strips the routing headers', async () => {
    const answer = await request(qp.servingPort, '/echo', {
      headers: {
        'K-Original-Host': 'hello.default.example.com',
        'Knative-Serving-Revision': 'hello-00001',
        'Knative-Serving-Namespace': 'default',
        'X-Custom': 'kept',
      },
    });
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body);
    expect(seen.host).toBe('hello.default.example.com');
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers).not.toHaveProperty('k-original-host');
    expect(seen.headers).not.toHaveProperty('knative-serving-revision');
    expect(seen.headers).not.toHaveProperty('knative-serving-namespace');
  });

  it('passes request bodies, methods, query strings and status codes through', async () => {
    const body = randomBytes(256 * 1024).toString('base64');
    const echoed = JSON.parse((await request(qp.servingPort, '/echo?x=1', { method: 'PUT', body })).body);
    expect(echoed).toMatchObject({ method: 'PUT', url: '/echo?x=1', body });
    expect((await request(qp.servingPort, '/status?code=418')).status).toBe(418);
    expect((await request(qp.servingPort, '/no-such-route')).status).toBe(404);
  });

  it('streams the response: the first chunk arrives before the app wrote the last one', async () => {
    const firstArrival = await new Promise<{ at: number; body: string }>((resolve, reject) => {
      let at = 0;
      let body = '';
      const req = http.get({ host: '127.0.0.1', port: qp.servingPort, path: '/stream?chunks=5&interval=150' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (at === 0) at = Date.now();
          body += chunk;
        });
        res.on('end', () => resolve({ at, body }));
      });
      req.on('error', reject);
    });
    const lines = firstArrival.body.trim().split('\n');
    expect(lines).toHaveLength(5);
    const lastWrittenAt = Number(lines[4].split(' ')[2]);
    expect(firstArrival.at).toBeLessThan(lastWrittenAt);
  });

  it('passes websockets through both ways', async () => {
    const echoes = await websocketExchange(qp.servingPort, ['hello', 'x'.repeat(300)]);
    expect(echoes).toEqual(['hello', 'x'.repeat(300)]);
  });

  it('answers readiness probes with K-Network-Probe: queue', async () => {
    const probe = await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'queue', 'User-Agent': 'kube-probe/1.30' } });
    expect(probe).toMatchObject({ status: 200, body: 'queue' });
  });

  it('answers a kubelet probe without the probe header with 400', async () => {
    expect((await request(qp.servingPort, '/', { headers: { 'User-Agent': 'kube-probe/1.30' } })).status).toBe(400);
  });

  it('echoes K-Network-Hash for ingress probes, 400 without it', async () => {
    const probe = await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'abc123' } });
    expect(probe.status).toBe(200);
    expect(probe.headers['k-network-hash']).toBe('abc123');
    expect((await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'probe' } })).status).toBe(400);
    expect((await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'other' } })).status).toBe(400);
  });

  it('probes never reach the app', async () => {
    const before = JSON.parse((await request(app.port, '/stats')).body).total;
    await request(qp.servingPort, '/echo', { headers: { 'K-Network-Probe': 'queue' } });
    await request(qp.servingPort, '/echo', { headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'h' } });
    const after = JSON.parse((await request(app.port, '/stats')).body).total;
    expect(after).toBe(before);
  });

  it('answers 502 when the app is gone', async () => {
    const lonelyQp = await startQueueProxy(await closedPort());
    expect((await request(lonelyQp.servingPort, '/')).status).toBe(502);
    lonelyQp.proc.kill('SIGKILL');
  });
});

describe('readiness with an HTTP probe and a slow-starting app', () => {
  it('holds the probe until the app listens (aggressive probing), then answers 200 queue', async () => {
    const port = await closedPort();
    const qp = await startQueueProxy(port, {
      SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port, path: '/healthz' }, successThreshold: 1 }),
    });
    const probe = request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'queue' } }).then((answer) => ({ ...answer, at: Date.now() }));
    const app = await startTestApp({ PORT: String(port), START_DELAY_MS: '500' });
    const answer = await probe;
    expect(answer).toMatchObject({ status: 200, body: 'queue' });
    const appListeningAt = Number(/^ready (\d+)/.exec(app.lines[0])![1]);
    expect(answer.at).toBeGreaterThanOrEqual(appListeningAt); // not ready before the app was
  });
});

describe('queue-proxy over h2c', () => {
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    const app = await startTestApp({ PROTOCOL: 'h2c' });
    qp = await startQueueProxy(app.port, { QUEUE_SERVING_PROTOCOL: 'h2c' });
  });

  it('serves h2c with prior knowledge and forwards to the app over h2c', async () => {
    const session = http2.connect(`http://127.0.0.1:${qp.servingPort}`);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/echo', 'k-original-host': 'grpc.default.example.com', 'knative-serving-revision': 'x' });
        let status = 0;
        let body = '';
        stream.setEncoding('utf8');
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end();
      });
      expect(status).toBe(200);
      const seen = JSON.parse(body);
      expect(seen.httpVersion).toBe('2.0');
      expect(seen.host).toBe('grpc.default.example.com');
      expect(seen.headers).not.toHaveProperty('knative-serving-revision');
    } finally {
      session.close();
    }
  });

  it('answers HTTP/1.1 kubelet probes on the same port', async () => {
    const probe = await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'queue', 'User-Agent': 'kube-probe/1.30' } });
    expect(probe).toMatchObject({ status: 200, body: 'queue' });
  });

  it('forwards HTTP/1.1 requests on the h2c port to the app over h2c', async () => {
    const seen = JSON.parse((await request(qp.servingPort, '/echo')).body);
    expect(seen.httpVersion).toBe('2.0');
  });
});

// --- helpers ---

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A minimal RFC 6455 client: handshake, send masked text frames, read the echoes. */
function websocketExchange(port: number, messages: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    const echoes: string[] = [];
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${head}`));
        upgraded = true;
        buffered = buffered.subarray(end + 4);
        for (const message of messages) socket.write(maskedTextFrame(message));
      }
      while (buffered.length >= 2) {
        let length = buffered[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          offset = 4;
        }
        if (buffered.length < offset + length) return;
        echoes.push(buffered.subarray(offset, offset + length).toString());
        buffered = buffered.subarray(offset + length);
        if (echoes.length === messages.length) {
          socket.destroy();
          resolve(echoes);
        }
      }
    });
    socket.on('error', reject);
  });
}

function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([header, mask, masked]);
}
