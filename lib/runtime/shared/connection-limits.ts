/**
 * Bounds on client connections, shared by the queue-proxy's and the activator's listeners.
 * node:http2 servers have no timeout of their own (Server.setTimeout is off by default), so an
 * idle or slowly-opened HTTP/2 session lived for ever: 5,000 idle ones held 92 MB. node:http's
 * headersTimeout only works on a server that listens itself, which the h2c port's HTTP/1 side
 * does not (createSniffingServer hands it connections).
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { type Env, envInt, envNumber } from './env';

export interface ConnectionLimits {
  /** An HTTP/2 session with no stream open is closed after this long. 0 = never. */
  readonly idleMs: number;
  /** Time to send a whole HTTP/1 request head (node:http's headersTimeout), or a first byte. */
  readonly headersMs: number;
  /** Connections at once on a listener with HTTP/2 on it; beyond, new ones are refused. */
  readonly maxConnections: number;
  /** Connections at once on a listener that speaks only HTTP/1; beyond, new ones are refused. */
  readonly maxHttp1Connections: number;
}

/**
 * 65 s idle as the activator's HTTP/1 keep-alive (longer than the load balancers' 60 s, so they
 * close first); 60 s for a request head is node:http's own default. 1,024 connections: an idle
 * HTTP/2 session costs the activator ~26 KB of RSS (5,000 of them: +107 MB, measured), so the
 * cap holds that to ~27 MB, while HTTP/2 peers (gateways, the activator) multiplex on a few each.
 * 16,384 HTTP/1 connections: one carries one request at a time, so the cap is a bound on requests
 * held at once, and must stay above the activator's queue of 10,000 requests for one revision; a
 * request held by the activator costs ~7 KB of RSS with its connection (3,000: +20 MB, measured),
 * so the cap holds that to ~110 MB.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { idleMs: 65_000, headersMs: 60_000, maxConnections: 1024, maxHttp1Connections: 16_384 };

/** Go's http2 default, which Knative's servers use. */
export const MAX_CONCURRENT_STREAMS = 250;

/** How long a session asked to close (GOAWAY) may take to finish before it is destroyed. */
const CLOSE_GRACE_MS = 5000;

/** Options for http2.createServer: a bound on the streams one session may open at once. */
export function http2ServerOptions(): http2.ServerOptions {
  return { settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } };
}

/** node:http server options for `limits`: the head deadline, checked often enough to matter. */
export function http1ServerOptions(limits: ConnectionLimits): http.ServerOptions {
  return {
    headersTimeout: limits.headersMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(limits.headersMs / 4))),
  };
}

/**
 * Closes sessions of `server` that have had no stream open for `limits.idleMs`. Counted by
 * streams, not bytes: PINGs or a HEADERS frame trickled in pieces (no stream until the headers
 * are complete) do not keep a session alive, as Go's http2 IdleTimeout. One timer per session,
 * refreshed when its last stream closes (no per-request timer).
 */
export function closeIdleSessions(server: http2.Http2Server, limits: ConnectionLimits): void {
  if (limits.idleMs <= 0) return;
  let opened: IdleWatch | undefined;
  server.on('session', (session: http2.ServerHttp2Session) => {
    opened = new IdleWatch(session, limits.idleMs);
  });
  // node:http2 makes the session in its own 'connection' listener, which runs before this one:
  // the session just opened belongs to this socket. The socket is kept because a session closed
  // gracefully only half-closes it and waits for the peer, which a hostile peer never does.
  server.on('connection', (socket: Duplex) => {
    if (opened !== undefined) opened.socket = socket;
    opened = undefined;
  });
}

class IdleWatch {
  socket: Duplex | undefined;
  private open = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly session: http2.ServerHttp2Session,
    idleMs: number,
  ) {
    this.timer = setTimeout(this.onIdle, idleMs).unref();
    session.on('stream', this.onStream);
    session.once('close', () => clearTimeout(this.timer));
  }

  private readonly onStream = (stream: http2.ServerHttp2Stream): void => {
    this.open++;
    stream.once('close', this.onStreamClose);
  };

  private readonly onStreamClose = (): void => {
    if (--this.open === 0) this.timer.refresh();
  };

  private readonly onIdle = (): void => {
    const { session, socket } = this;
    if (this.open > 0 || session.destroyed) return;
    session.close(); // GOAWAY: a well-behaved client opens a new connection for its next request
    setTimeout(() => socket?.destroy(), CLOSE_GRACE_MS).unref();
  };
}

/** What a listener speaks, which decides its connection cap. */
export type ListenerProtocols = 'http1' | 'http2';

/**
 * The most connections a listener may hold at once: every listener has a cap (listen.ts
 * `listenOn` applies it; beyond, the kernel accepts and Node closes the connection at once).
 */
export function connectionCap(limits: ConnectionLimits, protocols: ListenerProtocols): number {
  return protocols === 'http2' ? limits.maxConnections : limits.maxHttp1Connections;
}

/**
 * `<PREFIX>_IDLE_CONNECTION_SECONDS`, `<PREFIX>_HEADERS_TIMEOUT_SECONDS`, `<PREFIX>_MAX_CONNECTIONS`
 * (listeners with HTTP/2 on them), `<PREFIX>_MAX_HTTP1_CONNECTIONS` (every other listener).
 */
export function readConnectionLimits(env: Env, prefix: 'QUEUE' | 'ACTIVATOR'): ConnectionLimits {
  const defaults = DEFAULT_CONNECTION_LIMITS;
  return {
    idleMs: envNumber(env, `${prefix}_IDLE_CONNECTION_SECONDS`, defaults.idleMs / 1000, { min: 0 }) * 1000,
    headersMs: envNumber(env, `${prefix}_HEADERS_TIMEOUT_SECONDS`, defaults.headersMs / 1000, { min: 0.1 }) * 1000,
    maxConnections: envInt(env, `${prefix}_MAX_CONNECTIONS`, defaults.maxConnections, { min: 1 }),
    maxHttp1Connections: envInt(env, `${prefix}_MAX_HTTP1_CONNECTIONS`, defaults.maxHttp1Connections, { min: 1 }),
  };
}
