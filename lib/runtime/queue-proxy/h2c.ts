/**
 * HTTP/2 cleartext (h2c) for revisions whose user port is named `h2c` (knative/serving pkg/reconciler/revision/resources/queue.go): the
 * serving port (8013) speaks h2c with prior knowledge *and* HTTP/1.1 (kubelet probes are
 * HTTP/1.1), and requests go on to the app over one shared h2c connection.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import type { ConnectionLimits } from '../shared/connection-limits';
import type { ForwardResult } from '../shared/proxy-forward';
import { withoutHopByHop } from '../shared/proxy-headers';
import type { AnyRequest } from './probe-handler';
import { abortResponse, type AnyResponse } from '../shared/timeouts';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/**
 * A listener that hands each connection to `h2` when it opens with the HTTP/2 preface and to
 * `h1` otherwise (what Go's h2c.NewHandler does for Knative).
 */
export function createSniffingServer(h1: http.Server, h2: http2.Http2Server, limits: ConnectionLimits): net.Server {
  // node:http tracks connections (for headersTimeout and closeIdleConnections) from its
  // 'listening' event; this server never listens itself, so it is told once here.
  h1.emit('listening');
  const listener = net.createServer((socket) => {
    // Until the first byte says which protocol, the connection is bound by the head deadline.
    socket.setTimeout(limits.headersMs, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      const start = first.toString('latin1', 0, Math.min(first.length, PREFACE.length));
      if (PREFACE.startsWith(start)) {
        h2.emit('connection', replayingDuplex(socket, first));
      } else {
        socket.unshift(first);
        h1.emit('connection', socket);
        socket.resume();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return listener;
}

/**
 * The socket as a JS stream that first replays the bytes already read. node:http2 reads a
 * net.Socket through its native handle, which would skip bytes given back with unshift(); a
 * plain Duplex makes it read through JS instead (a little slower, and only for h2c revisions).
 */
function replayingDuplex(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
    final: (callback) => void socket.end(callback),
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once('end', () => duplex.push(null));
  socket.once('close', () => duplex.destroy());
  socket.on('error', (err) => duplex.destroy(err));
  // http2 logs the peer address from these.
  Object.assign(duplex, { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
  return duplex;
}

export interface H2cForwardOptions {
  readonly transformHeaders?: (headers: http.OutgoingHttpHeaders) => void;
  readonly signal?: AbortSignal;
}

/** One h2c connection to the app, re-opened when it closes. */
export class H2cUpstream {
  private session: http2.ClientHttp2Session | undefined;
  private sessionConnected = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  forward(req: AnyRequest, res: AnyResponse, options: H2cForwardOptions = {}): Promise<ForwardResult> {
    return new Promise((resolve) => {
      const session = this.connect();
      const stream = session.request(requestHeaders(req, options));
      let settled = false;
      const settle = (result: ForwardResult) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        settle({ outcome: 'aborted' });
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });

      req.pipe(stream);
      stream.on('response', (headers) => {
        const status = Number(headers[':status'] ?? 502);
        try {
          res.writeHead(status, withoutPseudo(headers));
        } catch (error) {
          // What node:http refuses to write (as on the HTTP/1 path, shared/proxy-forward.ts) is a 502.
          stream.close(http2.constants.NGHTTP2_CANCEL);
          res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('bad gateway');
          return settle({ outcome: 'upstream-error', error: error as Error });
        }
        stream.pipe(res as NodeJS.WritableStream);
        res.once('finish', () => settle({ outcome: 'done', statusCode: status }));
      });
      stream.on('trailers', (trailers) => {
        const kept = withoutPseudo(trailers);
        if (Object.keys(kept).length > 0) (res as http.ServerResponse).addTrailers(kept as Record<string, string>);
      });
      stream.on('error', (error) => {
        const outcome = this.sessionConnected ? 'upstream-error' : 'connect-error';
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('bad gateway');
        } else {
          abortResponse(res);
        }
        settle({ outcome, error });
      });
      res.once('close', () => {
        if (res.writableFinished) return;
        stream.close(http2.constants.NGHTTP2_CANCEL);
        settle({ outcome: 'aborted' });
      });
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(`http://${this.host}:${this.port}`);
    this.session = session;
    this.sessionConnected = false;
    session.once('connect', () => (this.sessionConnected = true));
    // Errors reach the streams; the session only needs to be forgotten.
    session.on('error', () => undefined);
    session.once('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    return session;
  }
}

function requestHeaders(req: AnyRequest, options: H2cForwardOptions): http2.OutgoingHttpHeaders {
  const incoming = req.headers as Record<string, string | string[] | undefined>;
  const headers: http.OutgoingHttpHeaders = withoutHopByHop(withoutPseudo(incoming), incoming.connection);
  delete headers['http2-settings'];
  headers.host = String(incoming[':authority'] ?? incoming.host ?? '127.0.0.1');
  if (typeof incoming.te === 'string' && /\btrailers\b/i.test(incoming.te)) headers.te = 'trailers';
  const client = req.socket?.remoteAddress;
  if (client) headers['x-forwarded-for'] = incoming['x-forwarded-for'] ? `${incoming['x-forwarded-for']}, ${client}` : client;
  options.transformHeaders?.(headers);
  const { host, ...rest } = headers;
  return {
    ...rest,
    [http2.constants.HTTP2_HEADER_METHOD]: req.method,
    [http2.constants.HTTP2_HEADER_PATH]: req.url,
    [http2.constants.HTTP2_HEADER_SCHEME]: 'http',
    [http2.constants.HTTP2_HEADER_AUTHORITY]: String(host),
  };
}

function withoutPseudo(headers: Readonly<Record<string, unknown>>): http.OutgoingHttpHeaders {
  const entries = Object.entries(headers).filter(([key, value]) => !key.startsWith(':') && value !== undefined);
  return Object.fromEntries(entries) as http.OutgoingHttpHeaders;
}
