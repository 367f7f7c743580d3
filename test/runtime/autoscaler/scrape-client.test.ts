/**
 * The autoscaler's /metrics client (lib/runtime/autoscaler/scrape-client.ts) against real HTTP
 * servers on 127.0.0.1: Node's own http server (what a queue-proxy and an activator answer with)
 * and raw TCP servers for the framings Node's server does not choose by itself.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ScrapeClient } from '../../../lib/runtime/autoscaler/scrape-client';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function httpServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  const connections: net.Socket[] = [];
  server.on('connection', (s) => connections.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { port: (server.address() as AddressInfo).port, connections };
}

/** Answers every request on a connection with `answer` (raw bytes), then leaves it open or not. */
async function rawServer(answer: string, closeAfter: boolean) {
  const server = net.createServer((socket) => {
    socket.on('data', () => (closeAfter ? socket.end(answer) : socket.write(answer)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  closers.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  return (server.address() as AddressInfo).port;
}

function client(maxIdleSockets = 16, maxBodyBytes = 1024 * 1024): ScrapeClient {
  const c = new ScrapeClient({ maxIdleSockets, maxBodyBytes });
  closers.push(async () => c.close());
  return c;
}

describe('ScrapeClient', () => {
  it('scrapes one target over one kept-alive connection, with a Host header, and reads Content-Length and chunked bodies', async () => {
    const seen: string[] = [];
    let n = 0;
    const { port, connections } = await httpServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.host}`);
      n++;
      if (n % 2 === 0) return void res.end(`body ${n}\n`); // Content-Length
      res.write('chunk'); // no length: chunked
      res.end(` ${n}\n`);
    });
    const c = client();
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await c.get('127.0.0.1', port, '/metrics', 2000)).body);
    expect(bodies).toEqual(['chunk 1\n', 'body 2\n', 'chunk 3\n', 'body 4\n']);
    expect(seen).toEqual(Array(4).fill(`GET /metrics 127.0.0.1:${port}`));
    expect(connections).toHaveLength(1);
  });

  it('keeps at most maxIdleSockets connections, closing the least recently used', async () => {
    const { port, connections } = await httpServer((_req, res) => res.end('ok'));
    const c = client(2);
    // Three targets (three loopback addresses, one port): the first target's connection goes.
    const server2 = await new Promise<http.Server>((resolve) => {
      const s = http.createServer((_req, res) => res.end('ok')).listen(port, '127.0.0.2', () => resolve(s));
    });
    const server3 = await new Promise<http.Server>((resolve) => {
      const s = http.createServer((_req, res) => res.end('ok')).listen(port, '127.0.0.3', () => resolve(s));
    });
    closers.push(async () => void [server2, server3].forEach((s) => (s.closeAllConnections(), s.close())));
    for (const host of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) await c.get(host, port, '/metrics', 2000);
    expect(c.idleSockets).toBe(2);
    await c.get('127.0.0.1', port, '/metrics', 2000);
    expect(connections).toHaveLength(2); // 127.0.0.1 connected twice
    expect(c.idleSockets).toBe(2);
  });

  it('a kept connection the server closed while idle: the scrape is sent again on a new one', async () => {
    // The server closes each connection 20 ms after its answer, as a keep-alive timeout would.
    const { port, connections } = await httpServer((req, res) => {
      res.once('finish', () => setTimeout(() => req.socket.destroy(), 20));
      res.end('ok');
    });
    const c = client();
    expect((await c.get('127.0.0.1', port, '/metrics', 2000)).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the server closes the idle connection
    expect((await c.get('127.0.0.1', port, '/metrics', 2000)).body).toBe('ok');
    expect(connections).toHaveLength(2);
  });

  it('a kept connection the server drops as the next request arrives, before answering: sent once more on a new one', async () => {
    let accepted = 0;
    const server = net.createServer((socket) => {
      accepted++;
      let requests = 0;
      socket.on('data', () => (++requests === 1 ? socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') : socket.destroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const c = client();
    const { port } = server.address() as AddressInfo;
    expect((await c.get('127.0.0.1', port, '/metrics', 2000)).body).toBe('ok');
    expect((await c.get('127.0.0.1', port, '/metrics', 2000)).body).toBe('ok');
    expect(accepted).toBe(2);
    c.close();
  });

  it('reads a body delimited by the close, and does not keep that connection', async () => {
    const port = await rawServer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nto the end\n', true);
    const c = client();
    expect(await c.get('127.0.0.1', port, '/metrics', 2000)).toEqual({ status: 200, body: 'to the end\n' });
    expect(c.idleSockets).toBe(0);
  });

  it('after an answer with Connection: close, waits for the server to close first (its side, not ours, keeps the TIME_WAIT)', async () => {
    const events: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('end', () => events.push('client closed'));
      socket.on('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        setTimeout(() => (events.push('server closes'), socket.end()), 300);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const c = client();
    expect((await c.get('127.0.0.1', (server.address() as AddressInfo).port, '/metrics', 2000)).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(events).toEqual(['server closes', 'client closed']); // ours only in answer to theirs
    expect(c.idleSockets).toBe(0);
  });

  it('reads chunks with extensions and trailers, and the status of a non-200 answer', async () => {
    const port = await rawServer('HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n', false);
    const c = client();
    expect(await c.get('127.0.0.1', port, '/metrics', 2000)).toEqual({ status: 503, body: 'abcde' });
    expect(c.idleSockets).toBe(1);
  });

  it('refuses a body over the cap, by its Content-Length or as it arrives', async () => {
    const declared = await rawServer(`HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}`, false);
    const chunked = await rawServer(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'400\r\n'.concat('y'.repeat(1024), '\r\n').repeat(3)}0\r\n\r\n`, false);
    const c = client(16, 1500);
    await expect(c.get('127.0.0.1', declared, '/metrics', 2000)).rejects.toThrow(/body over 1500 bytes/);
    await expect(c.get('127.0.0.1', chunked, '/metrics', 2000)).rejects.toThrow(/body over 1500 bytes/);
    expect(c.idleSockets).toBe(0);
  });

  it('fails on a refused connection and on an answer that is not HTTP', async () => {
    const c = client();
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    await expect(c.get('127.0.0.1', free, '/metrics', 2000)).rejects.toThrow(/ECONNREFUSED/);
    const junk = await rawServer('SSH-2.0-OpenSSH\r\n\r\n', false);
    await expect(c.get('127.0.0.1', junk, '/metrics', 2000)).rejects.toThrow(/not an HTTP\/1.x response/);
  });
});
