/**
 * HTTP/1.1 forwarding shared by the queue-proxy (to the app) and the activator (to pods).
 *
 * Hand-written on node:http instead of http-proxy/http-proxy-middleware: those are unmaintained
 * or Express-shaped, and the activator needs one thing they do not offer — telling a connection
 * error *before any byte was sent* (safe to retry on another pod, the request body still unread)
 * from a failure half-way.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { filterRawHeaders, UNRELAYABLE_HEAD, upstreamRequestHeaders } from './proxy-headers';

export type ForwardResult =
  /** The upstream answered and the answer was passed on in full. */
  | { readonly outcome: 'done'; readonly statusCode: number }
  /** No connection could be made; nothing was sent and the request body is unread. */
  | { readonly outcome: 'connect-error'; readonly error: Error }
  /** The upstream failed after the connection was made (502 written, or the response cut). */
  | { readonly outcome: 'upstream-error'; readonly error: Error }
  /** The client went away (or the exchange was cancelled) before the answer was complete. */
  | { readonly outcome: 'aborted' };

/** Where a request goes and how its headers change on the way (HTTP/1 and upgrades alike). */
export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** Adjusts the outgoing request headers in place (lower-case keys). */
  readonly transformHeaders?: (headers: http.OutgoingHttpHeaders) => void;
  /**
   * Request headers (lower-case names) not forwarded, besides the hop-by-hop ones. Cheaper than
   * `delete` in `transformHeaders`, which turns the header object into a slow dictionary.
   */
  readonly dropHeaders?: ReadonlySet<string>;
  /**
   * Called on a connection error before anything was sent. When given, the client is left
   * untouched so the caller may retry elsewhere; when absent, a 502 is written.
   */
  readonly onConnectError?: (error: Error) => void;
}

export interface ForwardOptions extends UpstreamOptions {
  /** @default a shared keep-alive agent (`sharedAgent`) */
  readonly agent?: http.Agent;
}

/** Told exactly once how an exchange ended. */
export type OnForwarded = (result: ForwardResult) => void;

/** Stops an exchange; before its answer it then ends as `aborted`. */
export type CancelForward = () => void;

/** A keep-alive agent for one upstream; `maxFreeSockets` is Knative's "idle connections". */
export function createKeepAliveAgent(maxFreeSockets = 1000): http.Agent {
  return new http.Agent({ keepAlive: true, maxFreeSockets, scheduling: 'lifo' });
}

export const sharedAgent = createKeepAliveAgent();

/** The outgoing headers of a forwarded request: copied without hop-by-hop ones, then adjusted. */
export function outgoingHeaders(req: http.IncomingMessage, options: UpstreamOptions): http.OutgoingHttpHeaders {
  const headers = upstreamRequestHeaders(req, options.dropHeaders);
  options.transformHeaders?.(headers);
  return headers;
}

/** The upstream request for `req` (not yet ended). */
export function requestUpstream(req: http.IncomingMessage, options: UpstreamOptions, headers: http.OutgoingHttpHeaders, agent: http.Agent | false): http.ClientRequest {
  return http.request({ host: options.host, port: options.port, method: req.method, path: req.url, headers, agent });
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Forwards `req` to host:port and streams the answer into `res`; `onDone` is told once when the
 * exchange is over, and the returned function cancels it (deadlines). A callback, not a promise
 * or an AbortSignal: an AbortController, `AbortSignal.any` and `pipe` per request cost more CPU
 * than the rest of the proxying together (docs/runtime-performance.md).
 */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, options: ForwardOptions, onDone: OnForwarded): CancelForward {
  const exchange = new HttpExchange(req, res, options, onDone);
  return exchange.cancel.bind(exchange);
}

/**
 * The exchange an emitter (client response, upstream request, upstream response) belongs to:
 * its listeners are static methods that find it there, so an exchange creates no function.
 *
 * This is the one place the runtime avoids closures on purpose, and why (measured by
 * bench/closures/run.ts on the image's Node): the image's bundle keeps function names (esbuild
 * `keepNames`, for readable stack traces), which wraps every *named* function expression
 * (`const f = () => …`, class-field arrows, object-literal arrows) in an Object.defineProperty
 * call each time it is created: ~0.4 µs each, where an unnamed closure (an arrow passed as an
 * argument, or assigned to `this.x`) costs ~20 ns. An exchange has 8 listeners and runs on both
 * proxies for every request, so here the static form saves ~4 µs per request against named
 * arrows and ~0.2 µs against unnamed ones. Elsewhere on the request path the rule is only: no
 * named function expression created per request.
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
    private readonly onDone: OnForwarded,
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

  private static onSocket(this: http.ClientRequest, socket: Socket): void {
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
      return this.settle({ outcome: 'upstream-error', error: new Error(UNRELAYABLE_HEAD) });
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
