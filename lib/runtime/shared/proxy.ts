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
   * Request headers (lower-case names) not forwarded, besides the hop-by-hop ones. Cheaper than
   * `delete` in `transformHeaders`, which turns the header object into a slow dictionary.
   */
  readonly dropHeaders?: ReadonlySet<string>;
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
export function upstreamRequestHeaders(req: http.IncomingMessage, drop?: ReadonlySet<string>): http.OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers, req.headers.connection, drop) as http.OutgoingHttpHeaders;
  const te = req.headers.te;
  if (typeof te === 'string' && /\btrailers\b/i.test(te)) headers.te = 'trailers';
  const client = req.socket.remoteAddress;
  if (client) {
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  }
  return headers;
}

/**
 * Header names a Connection header lists (lower case), or undefined when it lists none beyond
 * keep-alive/close (the common case: no Set is built per request).
 */
function namedInConnection(connection: unknown): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const text = String(connection).toLowerCase();
  if (text === 'keep-alive' || text === 'close') return undefined;
  const named = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim();
    if (name !== '') named.add(name);
  }
  return named;
}

/**
 * Drops hop-by-hop headers, the ones the Connection header names and those in `drop` (lower-case
 * names); returns a new object.
 */
export function withoutHopByHop<T extends Record<string, unknown>>(headers: T, connection?: unknown, drop?: ReadonlySet<string>): T {
  const named = namedInConnection(connection);
  const out: Record<string, unknown> = {};
  // for-in over an own-keys object (IncomingMessage headers): no entries array per request.
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    // HTTP/2 pseudo-headers (`:path`, ...) never go on to an HTTP/1.1 upstream.
    if (key.charCodeAt(0) === 0x3a) continue;
    const lower = key.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || drop?.has(lower)) continue;
    out[key] = value;
  }
  return out as T;
}

/** rawHeaders ([name, value, name, value, ...]) without hop-by-hop ones; case and duplicates kept. */
export function filterRawHeaders(raw: string[], connection?: unknown, drop: readonly string[] = []): string[] {
  const named = namedInConnection(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || (drop.length > 0 && drop.includes(lower))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Stops a forward started with `startForward`; the exchange then ends as `aborted`. */
export type CancelForward = () => void;

/**
 * Forwards `req` to host:port and streams the answer into `res`. Resolves once the exchange is
 * over; never rejects. (`startForward` is the same without a promise or an AbortSignal.)
 */
export function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ForwardOptions,
): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const { signal } = options;
    if (signal === undefined) return void startForward(req, res, options, resolve);
    if (signal.aborted) return resolve({ outcome: 'aborted' });
    const cancel = startForward(req, res, options, (result) => {
      signal.removeEventListener('abort', cancel);
      resolve(result);
    });
    signal.addEventListener('abort', cancel, { once: true });
  });
}

/**
 * The callback form of `forward`, for the request path: no promise, no AbortSignal, a handful of
 * listeners (an AbortController, `AbortSignal.any` and `pipe` per request cost more CPU than the
 * rest of the proxying together; see docs/runtime-performance.md). `onDone` is called exactly
 * once; the returned function aborts the exchange (`options.signal` is ignored here).
 */
export function startForward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ForwardOptions,
  onDone: (result: ForwardResult) => void,
): CancelForward {
  const exchange = new HttpExchange(req, res, options, onDone);
  return exchange.cancel.bind(exchange);
}

/**
 * The exchange an emitter (client response, upstream request, upstream response) belongs to.
 * The exchange's listeners are static methods that find it there, so forwarding a request
 * allocates no closures: per-request closures were ~5% of the activator's CPU, mostly because the
 * runtime bundle keeps function names (esbuild keepNames), which names every closure with an
 * Object.defineProperty call (docs/runtime-performance.md, "Activator path profile").
 */
const EXCHANGE = Symbol('kservice.forward');
type Tagged = { [EXCHANGE]?: HttpExchange };
const exchangeOf = (emitter: object): HttpExchange => (emitter as Tagged)[EXCHANGE]!;
const tag = (emitter: object, exchange: HttpExchange): void => void ((emitter as Tagged)[EXCHANGE] = exchange);

/** One request forwarded upstream, and its answer relayed back. */
class HttpExchange {
  private upstream!: http.ClientRequest;
  private upstreamRes: http.IncomingMessage | undefined;
  private readonly withBody: boolean;
  private connected = false;
  private settled = false;
  private mayRetry = true;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly options: ForwardOptions,
    private readonly onDone: (result: ForwardResult) => void,
  ) {
    this.withBody = hasBody(req);
    tag(res, this);
    res.on('close', HttpExchange.onClientClose);
    this.send();
  }

  cancel(): void {
    if (this.settled) return;
    this.stopRelay();
    this.upstream.destroy();
    this.settle({ outcome: 'aborted' });
  }

  private send(): void {
    const upstream = requestUpstream(this.req, this.options, outgoingHeaders(this.req, this.options), this.options.agent ?? sharedAgent);
    this.upstream = upstream;
    tag(upstream, this);
    upstream.on('response', HttpExchange.onResponse);
    upstream.on('error', HttpExchange.onUpstreamError);
    if (this.withBody) {
      // The body is piped only once connected, so a connect error leaves it unread for a retry.
      upstream.on('socket', HttpExchange.onSocket);
    } else {
      // Nothing to hold back: the request leaves at once; a connect error is told by its syscall.
      upstream.end();
    }
  }

  private static onSocket(this: http.ClientRequest, socket: import('node:net').Socket): void {
    const exchange = exchangeOf(this);
    // Requests with a body on a new connection only: a closure here is off the hot path.
    if (socket.connecting) socket.once('connect', () => exchange.sendBody());
    else exchange.sendBody();
  }

  private sendBody(): void {
    this.connected = true;
    this.req.pipe(this.upstream);
  }

  private static onResponse(this: http.ClientRequest, upstreamRes: http.IncomingMessage): void {
    exchangeOf(this).relayResponse(upstreamRes);
  }

  private relayResponse(upstreamRes: http.IncomingMessage): void {
    if (this.settled) return void upstreamRes.resume();
    this.connected = true;
    this.upstreamRes = upstreamRes;
    const { res } = this;
    if (!writeUpstreamHead(res, upstreamRes)) {
      // The app's status line or headers cannot be passed on (node:http refuses to write them):
      // answered as a failed upstream, so one broken app never throws in the proxy.
      upstreamRes.destroy();
      this.upstream.destroy();
      writeBadGateway(res);
      return this.settle({ outcome: 'upstream-error', error: new Error('the upstream sent a status line or header that cannot be relayed') });
    }
    // A hand-made relay instead of pipe(): pipe installs about ten listeners per request.
    tag(upstreamRes, this);
    upstreamRes.on('data', HttpExchange.onData);
    upstreamRes.on('end', HttpExchange.onEnd);
    upstreamRes.on('error', HttpExchange.onResponseError);
    res.on('finish', HttpExchange.onFinish);
  }

  private static onData(this: http.IncomingMessage, chunk: Buffer): void {
    const { res } = exchangeOf(this);
    if (!res.write(chunk)) {
      this.pause();
      res.once('drain', HttpExchange.onDrain);
    }
  }

  private static onDrain(this: http.ServerResponse): void {
    exchangeOf(this).upstreamRes?.resume();
  }

  private static onEnd(this: http.IncomingMessage): void {
    exchangeOf(this).res.end();
  }

  private static onFinish(this: http.ServerResponse): void {
    const exchange = exchangeOf(this);
    exchange.settle({ outcome: 'done', statusCode: exchange.upstreamRes?.statusCode ?? 502 });
  }

  private static onResponseError(this: http.IncomingMessage, error: Error): void {
    const exchange = exchangeOf(this);
    exchange.res.destroy(error);
    exchange.settle({ outcome: 'upstream-error', error });
  }

  private static onUpstreamError(this: http.ClientRequest, error: NodeJS.ErrnoException): void {
    exchangeOf(this).failUpstream(error);
  }

  private failUpstream(error: NodeJS.ErrnoException): void {
    if (this.settled) return;
    const { res, options } = this;
    if (!this.connected && (this.withBody || error.syscall === 'connect' || error.syscall === 'getaddrinfo')) {
      if (!options.onConnectError) writeBadGateway(res);
      else options.onConnectError(error);
      return this.settle({ outcome: 'connect-error', error });
    }
    // A keep-alive socket the upstream closed just as we reused it: Node's documented race.
    // Retrying is safe only when there was no body to consume.
    if (this.mayRetry && this.upstream.reusedSocket && error.code === 'ECONNRESET' && this.upstreamRes === undefined && !this.withBody) {
      this.mayRetry = false;
      return this.send();
    }
    this.stopRelay();
    if (!res.headersSent) writeBadGateway(res);
    else res.destroy(error);
    this.settle({ outcome: 'upstream-error', error });
  }

  private static onClientClose(this: http.ServerResponse): void {
    const exchange = exchangeOf(this);
    if (this.writableFinished || exchange.settled) return;
    exchange.cancel();
  }

  /** No more writes into the response from the upstream (the exchange is being abandoned). */
  private stopRelay(): void {
    const upstreamRes = this.upstreamRes;
    if (upstreamRes === undefined) return;
    upstreamRes.off('data', HttpExchange.onData);
    upstreamRes.off('end', HttpExchange.onEnd);
  }

  private settle(result: ForwardResult): void {
    if (this.settled) return;
    this.settled = true;
    this.res.off('close', HttpExchange.onClientClose);
    this.onDone(result);
  }
}

/** The outgoing headers of a forwarded request: copied without hop-by-hop ones, then adjusted. */
function outgoingHeaders(req: http.IncomingMessage, options: ForwardOptions, adjust?: (headers: http.OutgoingHttpHeaders) => void): http.OutgoingHttpHeaders {
  const headers = upstreamRequestHeaders(req, options.dropHeaders);
  adjust?.(headers);
  options.transformHeaders?.(headers);
  return headers;
}

/** The upstream request for `req` (not yet ended). */
function requestUpstream(req: http.IncomingMessage, options: ForwardOptions, headers: http.OutgoingHttpHeaders, agent: http.Agent | false): http.ClientRequest {
  return http.request({ host: options.host, port: options.port, method: req.method, path: req.url, headers, agent });
}

/**
 * Writes the upstream's status and headers into `res`; false when node:http refuses them (a
 * reason phrase or header with control characters: ERR_INVALID_CHAR and the like). The client's
 * parser is more lenient than the server's checks, so an app can send what cannot be relayed.
 */
function writeUpstreamHead(res: http.ServerResponse, upstreamRes: http.IncomingMessage): boolean {
  try {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, filterRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers.connection));
    return true;
  } catch {
    return false;
  }
}

function writeBadGateway(res: http.ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  // The reason phrase is explicit: a refused one from the upstream may still be on `res`.
  res.writeHead(502, 'Bad Gateway', { 'content-type': 'text/plain; charset=utf-8' });
  res.end('bad gateway');
}

/**
 * Bytes a client may send after its Upgrade request before the answer (a websocket client sends
 * none); beyond, the connection is closed: a paused socket would hide the client leaving.
 */
export const MAX_EARLY_UPGRADE_BYTES = 64 * 1024;

/** A client socket held while its Upgrade request waits (for a slot, or for the upstream). */
export interface HeldUpgradeClient {
  /** Stops watching; returns the request's `head` plus whatever the client sent since. */
  take(): Buffer;
}

/**
 * Watches an Upgrade request's socket until it is taken, calling `onGone` once if the client
 * leaves first. The socket has to be read for that: node:http's server sockets allow half-open
 * connections, so a client that gives up only sends FIN, and a paused socket never reports it
 * ('end' waits for the data before it). Early bytes are kept (bounded) for the upstream.
 * A client that half-closes before the answer counts as gone: a tunnel needs both directions.
 */
export function holdUpgradeClient(socket: Duplex, head: Buffer, onGone: () => void): HeldUpgradeClient {
  const chunks: Buffer[] = head.length > 0 ? [head] : [];
  let size = head.length;
  let taken = false;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_EARLY_UPGRADE_BYTES) socket.destroy(); // 'close' calls gone()
  };
  const gone = () => {
    if (taken) return;
    stop();
    onGone();
  };
  const stop = () => {
    taken = true;
    socket.off('data', onData);
    socket.off('end', gone);
    socket.off('close', gone);
    socket.off('error', gone);
    socket.pause();
  };
  socket.on('data', onData);
  socket.once('end', gone);
  socket.once('close', gone);
  socket.once('error', gone);
  if (socket.destroyed) queueMicrotask(gone);
  else socket.resume();
  return {
    take: () => {
      stop();
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    },
  };
}

/**
 * Forwards an Upgrade request (websockets) and, once the upstream switches protocols, splices the
 * two sockets together. Resolves when both sides are closed, or at once when the client goes
 * away before the upstream answered (its slot must not wait on an app that may never answer).
 * `options.signal` bounds the wait for the upstream's first answer only (the request's deadlines;
 * a switched connection is not bound by them): aborted before it, the exchange ends as `aborted`
 * with the client's socket untouched, for the caller to answer.
 */
export function forwardUpgrade(
  req: http.IncomingMessage,
  clientSocket: Duplex,
  head: Buffer,
  options: ForwardOptions,
): Promise<ForwardResult> {
  return new Promise((resolve) => {
    if (clientSocket.destroyed) return resolve({ outcome: 'aborted' });
    const headers = outgoingHeaders(req, options, (h) => {
      h.connection = 'Upgrade';
      h.upgrade = req.headers.upgrade;
    });
    // agent: false — an upgraded socket leaves the pool for good.
    const upstream = requestUpstream(req, options, headers, false);
    let connected = false;
    let answered = false;
    let settled = false;
    const { signal } = options;
    const onDeadline = () => {
      if (answered) return;
      held.take();
      upstream.destroy();
      settle({ outcome: 'aborted' });
    };
    const settle = (result: ForwardResult) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onDeadline);
      resolve(result);
    };
    const answer = () => {
      answered = true;
      signal?.removeEventListener('abort', onDeadline);
      return held.take();
    };
    const held = holdUpgradeClient(clientSocket, head, () => {
      if (answered) return;
      upstream.destroy();
      settle({ outcome: 'aborted' });
    });
    signal?.addEventListener('abort', onDeadline, { once: true });
    if (signal?.aborted) onDeadline();
    upstream.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    clientSocket.on('error', () => upstream.destroy());

    upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      const early = answer();
      clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(upstreamRes.rawHeaders) + '\r\n');
      if (upstreamHead.length > 0) clientSocket.write(upstreamHead);
      if (early.length > 0) upstreamSocket.write(early);
      upstreamSocket.pipe(clientSocket).pipe(upstreamSocket);
      let open = 2;
      const closed = () => {
        if (--open === 0) settle({ outcome: 'done', statusCode: 101 });
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
      if (clientSocket.destroyed) teardown();
    });

    upstream.on('response', (upstreamRes) => {
      // The upstream refused to switch: its answer is streamed on (with back-pressure, never
      // held whole: anyone can add an Upgrade header to an ordinary request) and the connection
      // closed; without a Content-Length the close ends the body.
      answer();
      const kept = filterRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers.connection);
      if (!relayable(upstreamRes.statusMessage, kept)) {
        // As on the ordinary path (writeUpstreamHead): what cannot be relayed is a 502.
        upstream.destroy();
        clientSocket.end(BAD_GATEWAY_RAW);
        return settle({ outcome: 'upstream-error', error: new Error('the upstream sent a status line or header that cannot be relayed') });
      }
      clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(kept) + 'Connection: close\r\n\r\n');
      upstreamRes.pipe(clientSocket);
      upstreamRes.once('end', () => settle({ outcome: 'done', statusCode: upstreamRes.statusCode ?? 502 }));
      upstreamRes.once('error', (error) => (clientSocket.destroy(), settle({ outcome: 'upstream-error', error })));
      clientSocket.once('close', () => {
        if (settled) return;
        upstream.destroy();
        settle({ outcome: 'aborted' });
      });
    });

    upstream.on('error', (error) => {
      if (settled) return;
      held.take();
      if (!connected && options.onConnectError) {
        options.onConnectError(error);
      } else if (answered) {
        clientSocket.destroy();
      } else if (clientSocket.writable) {
        clientSocket.end(BAD_GATEWAY_RAW);
      }
      settle({ outcome: connected ? 'upstream-error' : 'connect-error', error });
    });
    upstream.end();
  });
}

/**
 * Answers on a raw socket (an Upgrade request not forwarded, or not answered in time) and closes
 * it: `Connection: close`, then flushed and closed as `endThenDestroy`. `extraHeaders` are whole
 * header lines, each ending in CRLF.
 */
export function answerRaw(socket: Duplex, status: number, body: string, extraHeaders = ''): void {
  if (!socket.writable) return;
  socket.write(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${extraHeaders}Content-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  endThenDestroy(socket);
}

/** Flushes what is buffered, then closes; a peer that stops reading gets 1 s. */
function endThenDestroy(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The status line for a raw socket. A reason phrase with bytes RFC 9112 does not allow (control
 * characters) is replaced by the standard one rather than passed on to the client.
 */
function statusLine(res: http.IncomingMessage): string {
  const reason = res.statusMessage ?? '';
  const safe = VALID_FIELD_TEXT.test(reason) ? reason : (http.STATUS_CODES[res.statusCode ?? 502] ?? '');
  return `HTTP/1.1 ${res.statusCode} ${safe}\r\n`;
}

const BAD_GATEWAY_RAW = 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway';

function relayable(reason: string | undefined, raw: readonly string[]): boolean {
  if (!VALID_FIELD_TEXT.test(reason ?? '')) return false;
  for (let i = 1; i < raw.length; i += 2) if (!VALID_FIELD_TEXT.test(raw[i])) return false;
  return true;
}

/** HTAB, SP, VCHAR and obs-text (RFC 9110 5.5): what a reason phrase or field value may hold. */
const VALID_FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Header lines for a raw socket; a field node:http would refuse to write is left out. */
function rawHeaderLines(raw: string[]): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (VALID_FIELD_TEXT.test(raw[i + 1])) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return out;
}
