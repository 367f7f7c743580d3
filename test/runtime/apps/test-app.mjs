#!/usr/bin/env node
// The user app for runtime tests and benchmarks: plain JS, no dependencies, starts fast.
// See README.md next to this file for the routes and the environment it reads.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';

const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '127.0.0.1';
const START_DELAY_MS = Number(process.env.START_DELAY_MS ?? 0);
const RESPONSE_BYTES = Number(process.env.RESPONSE_BYTES ?? 13);
const PROTOCOL = process.env.PROTOCOL ?? 'http1'; // 'http1' | 'h2c'

const fixedBody = RESPONSE_BYTES === 13 ? Buffer.from('Hello World!\n') : Buffer.alloc(RESPONSE_BYTES, 'x');
const stats = { maxConcurrent: 0, total: 0, inFlight: 0 };

function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://app');
  if (url.pathname === '/stats') return sendStats(url, res);
  stats.total++;
  stats.inFlight++;
  stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.inFlight);
  res.once('close', () => stats.inFlight--);
  const route = ROUTES[url.pathname];
  if (!route) return send(res, 404, 'text/plain', 'not found\n');
  route(req, res, url);
}

const ROUTES = {
  '/': (_req, res) => send(res, 200, 'text/plain', fixedBody),
  '/healthz': (_req, res) => send(res, 200, 'text/plain', 'ok\n'),
  '/sleep': (_req, res, url) => {
    const ms = Number(url.searchParams.get('ms') ?? 100);
    const timer = setTimeout(() => send(res, 200, 'text/plain', `slept ${ms}\n`), ms);
    res.once('close', () => clearTimeout(timer));
  },
  '/status': (_req, res, url) => send(res, Number(url.searchParams.get('code') ?? 200), 'text/plain', 'status\n'),
  '/echo': (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const host = req.headers.host ?? req.headers[':authority'];
      const json = JSON.stringify({ method: req.method, url: req.url, host, headers: req.headers, body, httpVersion: req.httpVersion });
      send(res, 200, 'application/json', json);
    });
  },
  '/stream': (_req, res, url) => {
    const chunks = Number(url.searchParams.get('chunks') ?? 5);
    const interval = Number(url.searchParams.get('interval') ?? 100);
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const tick = () => {
      if (res.destroyed) return;
      res.write(`chunk ${sent} ${Date.now()}\n`);
      if (++sent >= chunks) return res.end();
      setTimeout(tick, interval);
    };
    tick();
  },
};

function sendStats(url, res) {
  const body = JSON.stringify(stats);
  if (url.searchParams.get('reset') === '1') Object.assign(stats, { maxConcurrent: 0, total: 0 });
  send(res, 200, 'application/json', body);
}

function send(res, status, type, body) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// --- websocket echo on /ws (RFC 6455, raw Upgrade handling: the app has no dependencies) ---

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function onUpgrade(req, socket) {
  if (new URL(req.url ?? '/', 'http://app').pathname !== '/ws' || !req.headers['sec-websocket-key']) {
    return socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + WS_GUID).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let frame = readFrame(buffered); frame; frame = readFrame(buffered)) {
      buffered = buffered.subarray(frame.length);
      if (frame.opcode === 0x8) return socket.end(encodeFrame(0x8, frame.payload));
      if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
      else if (frame.opcode === 0x1 || frame.opcode === 0x2) socket.write(encodeFrame(frame.opcode, frame.payload));
    }
  });
  socket.on('error', () => socket.destroy());
}

function readFrame(buf) {
  if (buf.length < 2) return undefined;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let length = buf[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + length) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOffset + (i % 4)];
  return { opcode, payload, length: offset + length };
}

function encodeFrame(opcode, payload) {
  const header =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

// --- start ---

// The server once listening; until then a SIGTERM has nothing to drain.
let server;

// Installed before the start delay: as PID 1 in a container the process gets no default SIGTERM
// action, so without a handler a pod deleted while still starting would wait out its whole
// termination grace period before the kubelet's SIGKILL.
function stop() {
  if (!server) process.exit(0);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

function listen() {
  server = PROTOCOL === 'h2c' ? http2.createServer(handle) : http.createServer(handle);
  if (PROTOCOL !== 'h2c') server.on('upgrade', onUpgrade);
  server.listen(PORT, HOST, () => {
    console.log(`ready ${Date.now()} port=${server.address().port} protocol=${PROTOCOL}`);
  });
}

if (START_DELAY_MS > 0) setTimeout(listen, START_DELAY_MS);
else listen();
