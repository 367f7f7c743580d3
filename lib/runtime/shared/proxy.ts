/**
 * HTTP/1.1 forwarding shared by the queue-proxy (to the app) and the activator (to pods).
 *
 * Hand-written on node:http instead of http-proxy/http-proxy-middleware: those are unmaintained
 * or Express-shaped, and the activator needs one thing they do not offer — telling a connection
 * error *before any byte was sent* (safe to retry on another pod, the request body still unread)
 * from a failure half-way.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';

/** Headers that describe one connection, never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export type ForwardResult =
  /** The upstream answered and the answer was passed on in full. */
  | { readonly outcome: 'done'; readonly statusCode: number }
  /** No connection could be made; nothing was sent and the request body is unread. */
  | { readonly outcome: 'connect-error'; readonly error: Error }
  /** The upstream failed after the connection was made (502 written, or the response cut). */
  | { readonly outcome: 'upstream-error'; readonly error: Error }
  /** The client went away (or `signal` aborted) before the answer was complete. */
  | { readonly outcome: 'aborted' };

export interface ForwardOptions {
  readonly host: string;
  readonly port: number;
  /** @default a shared keep-alive agent (`sharedAgent`) */
  readonly agent?: http.Agent;
  /** Adjusts the outgoing request headers in place (lower-case keys). */
  readonly transformHeaders?: (headers: http.OutgoingHttpHeaders) => void;
  /**
   * Called on a connection error before anything was sent. When given, the response is left
   * untouched so the caller may retry elsewhere; when absent, a 502 is written.
   */
  readonly onConnectError?: (error: Error) => void;
  /** Aborts the upstream request (deadlines). The caller writes its own answer. */
  readonly signal?: AbortSignal;
}

/** A keep-alive agent for one upstream; `maxFreeSockets` is Knative's "idle connections". */
export function createKeepAliveAgent(maxFreeSockets = 1000): http.Agent {
  return new http.Agent({ keepAlive: true, maxFreeSockets, scheduling: 'lifo' });
}

export const sharedAgent = createKeepAliveAgent();

/** Request headers as sent upstream: hop-by-hop removed, X-Forwarded-For appended. */
export function upstreamRequestHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { ...withoutHopByHop(req.headers, req.headers.connection) };
  const te = req.headers.te;
  if (typeof te === 'string' && /\btrailers\b/i.test(te)) headers.te = 'trailers';
  const client = req.socket.remoteAddress;
  if (client) {
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  }
  return headers;
}

/** Drops hop-by-hop headers and the ones the Connection header names. */
export function withoutHopByHop<T extends Record<string, unknown>>(headers: T, connection?: unknown): T {
  const named = new Set(
    String(connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers)) {
    const lower = key.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    out[key] = value;
  }
  return out as T;
}

/** rawHeaders ([name, value, name, value, ...]) without hop-by-hop ones; case and duplicates kept. */
export function filterRawHeaders(raw: string[], connection?: unknown, drop: readonly string[] = []): string[] {
  const named = new Set(
    String(connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || drop.includes(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Forwards `req` to host:port and streams the answer into `res`. Resolves once the exchange is
 * over; never rejects.
 */
export function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ForwardOptions,
): Promise<ForwardResult> {
  return new Promise((resolve) => attempt(req, res, options, resolve, true));
}

function attempt(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ForwardOptions,
  resolve: (result: ForwardResult) => void,
  mayRetry: boolean,
): void {
  const headers = upstreamRequestHeaders(req);
  options.transformHeaders?.(headers);
  const upstream = http.request({
    host: options.host,
    port: options.port,
    method: req.method,
    path: req.url,
    headers,
    agent: options.agent ?? sharedAgent,
  });
  let connected = false;
  let answered = false;
  let settled = false;
  const settle = (result: ForwardResult) => {
    if (settled) return;
    settled = true;
    options.signal?.removeEventListener('abort', onAbort);
    resolve(result);
  };
  const onAbort = () => {
    upstream.destroy();
    settle({ outcome: 'aborted' });
  };
  if (options.signal?.aborted) return onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  upstream.on('socket', (socket) => {
    // The body is piped only once connected, so a connect error leaves it unread for a retry.
    const send = () => {
      connected = true;
      if (hasBody(req)) req.pipe(upstream);
      else upstream.end();
    };
    if (socket.connecting) socket.once('connect', send);
    else send();
  });

  upstream.on('response', (upstreamRes) => {
    answered = true;
    res.writeHead(
      upstreamRes.statusCode ?? 502,
      upstreamRes.statusMessage,
      filterRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers.connection),
    );
    upstreamRes.pipe(res);
    upstreamRes.on('error', (error) => {
      res.destroy(error);
      settle({ outcome: 'upstream-error', error });
    });
    res.once('finish', () => settle({ outcome: 'done', statusCode: upstreamRes.statusCode ?? 502 }));
  });

  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (settled) return;
    if (!connected) {
      if (options.onConnectError) {
        options.onConnectError(error);
        return settle({ outcome: 'connect-error', error });
      }
      writeBadGateway(res);
      return settle({ outcome: 'connect-error', error });
    }
    // A keep-alive socket the upstream closed just as we reused it: Node's documented race.
    // Retrying is safe only when there was no body to consume.
    if (mayRetry && upstream.reusedSocket && error.code === 'ECONNRESET' && !answered && !hasBody(req)) {
      options.signal?.removeEventListener('abort', onAbort);
      return attempt(req, res, options, resolve, false);
    }
    if (!res.headersSent) writeBadGateway(res);
    else res.destroy(error);
    settle({ outcome: 'upstream-error', error });
  });

  res.once('close', () => {
    if (res.writableFinished) return;
    upstream.destroy();
    settle({ outcome: 'aborted' });
  });
}

function writeBadGateway(res: http.ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('bad gateway');
}

/**
 * Forwards an Upgrade request (websockets) and, once the upstream switches protocols, splices the
 * two sockets together. Resolves when both sides are closed.
 */
export function forwardUpgrade(
  req: http.IncomingMessage,
  clientSocket: Duplex,
  head: Buffer,
  options: ForwardOptions,
): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const headers = upstreamRequestHeaders(req);
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade;
    options.transformHeaders?.(headers);
    // agent: false — an upgraded socket leaves the pool for good.
    const upstream = http.request({
      host: options.host,
      port: options.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    let connected = false;
    upstream.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    clientSocket.on('error', () => upstream.destroy());

    upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(upstreamRes.rawHeaders) + '\r\n');
      if (upstreamHead.length > 0) clientSocket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.pipe(clientSocket).pipe(upstreamSocket);
      let open = 2;
      const closed = () => {
        if (--open === 0) resolve({ outcome: 'done', statusCode: 101 });
      };
      // Server sockets allow half-open connections, so an 'end' alone would leave both sides
      // open for ever: either side ending or failing ends the whole tunnel.
      const teardown = () => {
        endThenDestroy(clientSocket);
        endThenDestroy(upstreamSocket);
      };
      for (const socket of [upstreamSocket, clientSocket]) {
        socket.once('end', teardown);
        socket.on('error', teardown);
        socket.once('close', () => (teardown(), closed()));
      }
    });

    upstream.on('response', (upstreamRes) => {
      // The upstream refused to switch: pass its answer on and close.
      const chunks: Buffer[] = [];
      upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
      upstreamRes.on('end', () => {
        const body = Buffer.concat(chunks);
        const kept = filterRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers.connection, ['content-length']);
        clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(kept));
        clientSocket.write(`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
        clientSocket.end(body);
        resolve({ outcome: 'done', statusCode: upstreamRes.statusCode ?? 502 });
      });
    });

    upstream.on('error', (error) => {
      if (!connected && options.onConnectError) {
        options.onConnectError(error);
      } else if (clientSocket.writable) {
        clientSocket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway');
      }
      resolve({ outcome: connected ? 'upstream-error' : 'connect-error', error });
    });
    upstream.end();
  });
}

/** Flushes what is buffered, then closes; a peer that stops reading gets 1 s. */
function endThenDestroy(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

function statusLine(res: http.IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
}

function rawHeaderLines(raw: string[]): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out;
}
