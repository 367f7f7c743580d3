/**
 * A broken app for the runtime's hostile-traffic tests: a raw net.Server on 127.0.0.1 (not
 * node:http, which would refuse to send what a broken app sends) that reads one request head per
 * connection and answers by path:
 *
 *   /bad-status   `HTTP/1.1 200 O\x01K` (a reason phrase node:http refuses to write)
 *   /bad-header   a header value with a control character
 *   /reset        closes the connection without a byte
 *   /stall        never answers
 *   /slow?ms=N    answers 200 "slow" after N ms
 *   /half         starts a 100-byte answer, sends 10 bytes, then closes
 *   /big?mb=N     an ordinary 200 with N MiB of body, sent with back-pressure (also when the
 *                 request asked for an Upgrade: the app does not switch)
 *   /garbage      answers bytes that are not HTTP at all, then closes
 *   /trickle      a 200 with Content-Length 1000, its body one byte every 200 ms (slowloris)
 *   anything else 200 "ok"; a `K-Network-Probe: queue` request gets 200 "queue" (as a queue-proxy)
 *
 * It counts requests in flight (the most at once is what containerConcurrency must bound).
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface HostileApp {
  readonly port: number;
  /** Requests whose head arrived and whose answer is not complete (nor their connection closed). */
  readonly inFlight: () => number;
  /** The most requests in flight at once since the last `resetMax`. */
  readonly maxInFlight: () => number;
  readonly resetMax: () => void;
  readonly close: () => Promise<void>;
}

const MIB = 1024 * 1024;
const PROBE = /^k-network-probe: *queue\r?$/im;

export async function startHostileApp(): Promise<HostileApp> {
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    let head = '';
    let counted = false;
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 64 * 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.resume(); // a request body, if any, is read and thrown away
      // Probes (the activator's, of its pods) are not requests: containerConcurrency leaves them out.
      if (!PROBE.test(head)) {
        counted = true;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
      }
      answer(socket, head.slice(0, end), done);
    };
    // A request stops counting when its answer is complete (before the proxy can see that, so
    // the proxy's next request never overlaps it), or when its connection closes.
    const done = () => {
      if (!counted) return;
      counted = false;
      inFlight--;
    };
    socket.on('data', onData);
    socket.once('close', () => {
      sockets.delete(socket);
      done();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    resetMax: () => (maxInFlight = inFlight),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Every answer closes its connection, so one connection carries one request. */
function answer(socket: net.Socket, head: string, done: () => void): void {
  const target = head.split(' ')[1] ?? '/';
  const url = new URL(target, 'http://app');
  const end = (text: string) => {
    done();
    socket.end(text);
  };
  // The activator probes its pods as it would a queue-proxy.
  if (PROBE.test(head)) {
    return end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nqueue');
  }
  switch (url.pathname) {
    case '/bad-status':
      return end('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    case '/bad-header':
      return end('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    case '/reset':
      done();
      return void socket.resetAndDestroy();
    case '/stall':
      return;
    case '/slow':
      return void setTimeout(() => end('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow'), Number(url.searchParams.get('ms') ?? 100));
    case '/half':
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789');
      return void setTimeout(() => (done(), socket.destroy()), 10);
    case '/garbage':
      return end('SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http\r\n\r\n');
    case '/trickle':
      return trickle(socket, done);
    case '/big':
      return sendBig(socket, Number(url.searchParams.get('mb') ?? 1) * MIB, done);
    default:
      return end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
  }
}

function trickle(socket: net.Socket, done: () => void): void {
  socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n');
  let left = 1000;
  const timer = setInterval(() => {
    if (socket.destroyed || left === 0) {
      clearInterval(timer);
      done();
      return void (socket.destroyed || socket.end());
    }
    left--;
    socket.write('x');
  }, 200);
  socket.once('close', () => clearInterval(timer));
}

function sendBig(socket: net.Socket, bytes: number, done: () => void): void {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n`);
  let left = bytes;
  const pump = () => {
    while (left > 0 && !socket.destroyed) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) return void socket.once('drain', pump);
    }
    done();
    if (!socket.destroyed) socket.end();
  };
  pump();
}

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/**
 * Sends raw bytes and collects what comes back until the server closes (or `untilBytes` arrived,
 * then closes itself). Resolves with the bytes read, as latin1 text, and how many there were.
 */
export function rawExchange(port: number, request: string, options: { keepBody?: boolean } = {}): Promise<{ head: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (head.length < 4096 || options.keepBody) head += chunk.toString('latin1');
    });
    socket.once('close', () => resolve({ head, bytes }));
    socket.once('error', reject);
    socket.write(request);
  });
}
