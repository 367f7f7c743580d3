import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Headers } from '../../constants';
import { QueueFullError } from '../shared/breaker';
import type { Logger } from '../shared/logger';
import { ForwardResult, forward, forwardUpgrade, startForward } from '../shared/proxy';
import type { RevisionRegistry } from './registry';
import { formatAddress } from './revision';
import type { RevisionBackend } from './revision-backend';
import { NoPodAcceptedError, REFUSED, type Reservation } from './throttler';

/**
 * The activator's request path (reference 9): answer probes, find the revision, hold the request
 * until the revision has room (bounded queue, bounded by the revision's timeout), then proxy it to
 * a pod with `K-Proxy-Request: activator` and the original Host in `K-Original-Host`.
 */
export interface HandlerDeps {
  readonly registry: RevisionRegistry;
  readonly logger: Logger;
  /** Called when a request reaches a revision with no usable pod. */
  readonly onColdRequest: (namespace: string, revision: string) => void;
  readonly isDraining: () => boolean;
  readonly retryAfterSeconds: number;
}

class RequestTimeout extends Error {
  constructor(seconds: number) {
    super(`revision timeout of ${seconds}s reached`);
    this.name = 'RequestTimeout';
  }
}

class ClientGone extends Error {}

/** Knative's routing headers stop at the activator (left out by the forwarder, no `delete`). */
const DROPPED_HEADERS: ReadonlySet<string> = new Set([Headers.REVISION.toLowerCase(), Headers.NAMESPACE.toLowerCase()]);
const PROXY_REQUEST = Headers.PROXY_REQUEST.toLowerCase();
const ORIGINAL_HOST = Headers.ORIGINAL_HOST.toLowerCase();

export function createRequestHandler(deps: HandlerDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (answerProbe(req, res, deps)) return;
    const backend = findRevision(req, deps.registry);
    if (!backend) return reply(res, 404, 'revision not found');
    void proxyRequest(req, res, backend, deps);
  };
}

/** Upgrade requests (websockets) take the same path, then the sockets are spliced. */
export function createUpgradeHandler(deps: HandlerDeps): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const backend = findRevision(req, deps.registry);
    if (!backend) return rawReply(socket, 404, 'revision not found');
    void proxyUpgrade(req, socket, head, backend, deps);
  };
}

/** `K-Network-Probe: activator` → 200 `activator`; other probe values → 400; kubelet → health. */
function answerProbe(req: http.IncomingMessage, res: http.ServerResponse, deps: HandlerDeps): boolean {
  const kubelet = req.headers['user-agent']?.startsWith('kube-probe/') ?? false;
  // A draining activator fails the kubelet's probes (with or without the probe header), so it
  // leaves the activator-service Endpoints while finishing what it holds.
  if (kubelet && deps.isDraining()) {
    reply(res, 500, 'shutting down');
    return true;
  }
  const probe = req.headers[Headers.NETWORK_PROBE.toLowerCase()];
  if (probe !== undefined) {
    if (probe === 'activator') reply(res, 200, 'activator');
    else reply(res, 400, `unexpected probe header value "${String(probe)}"`);
    return true;
  }
  if (kubelet) {
    reply(res, 200, 'ok');
    return true;
  }
  return false;
}

/** By Knative's routing headers, else by a `REV.NS.svc…` Host. */
export function findRevision(req: http.IncomingMessage, registry: RevisionRegistry): RevisionBackend | undefined {
  const revision = headerValue(req, Headers.REVISION);
  const namespace = headerValue(req, Headers.NAMESPACE);
  if (revision && namespace) return registry.get(namespace, revision);
  const host = hostOf(req).split(':')[0].split('.');
  if (host.length >= 3 && host[2] === 'svc') return registry.get(host[1], host[0]);
  return undefined;
}

/**
 * When the revision has a free slot on a pod now (the common case once it is serving), the
 * request goes straight on with callbacks only; otherwise it is held (`holdAndProxy`).
 */
function proxyRequest(req: http.IncomingMessage, res: http.ServerResponse, backend: RevisionBackend, deps: HandlerDeps): void {
  backend.stats.requestIn(Date.now());
  markH2Body(req);
  const timeoutMs = backend.info.timeoutSeconds * 1000;
  const reservation = backend.throttler.tryReserve();
  if (reservation === undefined) return void holdAndProxy(req, res, backend, deps, Date.now() + timeoutMs, new Set());
  forwardReserved(req, res, backend, deps, reservation, timeoutMs);
}

/** The fast lane: slot reserved; a refused connection falls back to the held path, on another pod. */
function forwardReserved(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: RevisionBackend,
  deps: HandlerDeps,
  reservation: Reservation,
  timeoutMs: number,
): void {
  const deadline = Date.now() + timeoutMs;
  let timedOut = false;
  const cancel = startForward(
    req,
    res,
    {
      host: reservation.pod.host,
      port: reservation.pod.port,
      dropHeaders: DROPPED_HEADERS,
      transformHeaders: (h) => activatorHeaders(h, req, reservation.podId),
      onConnectError: (err) => deps.logger.warn({ pod: reservation.podId, err: err.message }, 'pod refused connection'),
    },
    (result) => {
      clearTimeout(timer);
      reservation.release();
      if (result.outcome === 'connect-error') {
        backend.throttler.noteRefused(reservation.pod);
        return void holdAndProxy(req, res, backend, deps, deadline, new Set([reservation.podId]));
      }
      if (result.outcome === 'aborted' && !res.writableFinished && !res.destroyed) {
        if (res.headersSent) res.destroy();
        else if (timedOut) reply(res, 504, 'activator request timeout');
      }
      backend.stats.requestOut(Date.now());
    },
  );
  const timer = setTimeout(() => {
    timedOut = true;
    cancel();
  }, timeoutMs);
}

/** Holds the request until the revision has room (bounded queue and deadline), then proxies it. */
async function holdAndProxy(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: RevisionBackend,
  deps: HandlerDeps,
  deadline: number,
  tried: Set<string>,
): Promise<void> {
  const { info, stats } = backend;
  const { signal, dispose } = requestDeadline(info.timeoutSeconds, deadline - Date.now(), res);
  try {
    if (backend.readyPods === 0) deps.onColdRequest(info.namespace, info.revision);
    const result = await backend.throttler.run(
      signal,
      async (pod) => {
        const podId = formatAddress(pod);
        const outcome = await forward(req, res, {
          host: pod.host,
          port: pod.port,
          dropHeaders: DROPPED_HEADERS,
          transformHeaders: (h) => activatorHeaders(h, req, podId),
          onConnectError: (err) => deps.logger.warn({ pod: podId, err: err.message }, 'pod refused connection'),
          signal,
        });
        return outcome.outcome === 'connect-error' ? REFUSED : outcome;
      },
      tried,
    );
    finishForward(result, res, signal);
  } catch (err) {
    replyToFailure(err, res, deps, info.namespace, info.revision);
  } finally {
    dispose();
    stats.requestOut(Date.now());
  }
}

async function proxyUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  backend: RevisionBackend,
  deps: HandlerDeps,
): Promise<void> {
  const { info, stats } = backend;
  stats.requestIn(Date.now());
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimeout(info.timeoutSeconds)), info.timeoutSeconds * 1000);
  socket.once('close', () => controller.abort(new ClientGone()));
  try {
    if (backend.readyPods === 0) deps.onColdRequest(info.namespace, info.revision);
    await backend.throttler.run(controller.signal, async (pod) => {
      clearTimeout(timer); // the timeout bounds the wait, not the life of a websocket
      const outcome = await forwardUpgrade(req, socket, head, {
        host: pod.host,
        port: pod.port,
        transformHeaders: (h) => {
          for (const name of DROPPED_HEADERS) delete h[name];
          activatorHeaders(h, req, formatAddress(pod));
        },
        onConnectError: () => undefined,
      });
      return outcome.outcome === 'connect-error' ? REFUSED : outcome;
    });
  } catch (err) {
    if (err instanceof QueueFullError || err instanceof RequestTimeout) rawReply(socket, 503, err.message, deps.retryAfterSeconds);
    else if (err instanceof NoPodAcceptedError) rawReply(socket, 502, err.message);
    else socket.destroy();
  } finally {
    clearTimeout(timer);
    stats.requestOut(Date.now());
  }
}

/**
 * The headers Knative's activator sets on the way to a pod (the routing headers and HTTP/2
 * pseudo-headers are left out by the forwarder; h2c requests go on as HTTP/1.1).
 */
function activatorHeaders(h: http.OutgoingHttpHeaders, req: http.IncomingMessage, podId: string): void {
  h[PROXY_REQUEST] = 'activator';
  const host = hostOf(req);
  if (!h[ORIGINAL_HOST] && host) h[ORIGINAL_HOST] = host;
  h.host = podId;
}

/** Host of an HTTP/1 request, or `:authority` of an HTTP/2 one. */
function hostOf(req: http.IncomingMessage): string {
  return req.headers.host ?? String(req.headers[':authority'] ?? '');
}

/**
 * An HTTP/2 request carries a body unless its headers ended the stream, with or without a
 * content-length. The shared forwarder looks for content-length or transfer-encoding to decide
 * whether to stream a body, so say "chunked" for such a request (a hop-by-hop header: it is not
 * forwarded, the HTTP/1.1 client picks its own framing).
 */
function markH2Body(req: http.IncomingMessage): void {
  const stream = (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream;
  if (stream && !stream.endAfterHeaders && req.headers['content-length'] === undefined) {
    req.headers['transfer-encoding'] = 'chunked';
  }
}

/** Aborts after `remainingMs` (the revision's timeout, counted from arrival) or when the client goes away. */
function requestDeadline(timeoutSeconds: number, remainingMs: number, res: http.ServerResponse): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimeout(timeoutSeconds)), Math.max(0, remainingMs));
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new ClientGone());
  };
  res.once('close', onClose);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      res.off('close', onClose);
    },
  };
}

function finishForward(result: ForwardResult, res: http.ServerResponse, signal: AbortSignal): void {
  if (result.outcome !== 'aborted' || res.writableFinished || res.destroyed) return;
  // Cut off half-way: the client must not take a truncated body for a whole one.
  if (res.headersSent) res.destroy();
  else if (signal.reason instanceof RequestTimeout) reply(res, 504, 'activator request timeout');
}

function replyToFailure(err: unknown, res: http.ServerResponse, deps: HandlerDeps, namespace: string, revision: string): void {
  if (err instanceof ClientGone) return;
  if (err instanceof QueueFullError) return reply(res, 503, 'activator queue full', deps.retryAfterSeconds);
  if (err instanceof RequestTimeout) return reply(res, 503, `no pod became available: ${err.message}`, deps.retryAfterSeconds);
  if (err instanceof NoPodAcceptedError) return reply(res, 502, err.message);
  deps.logger.error({ err, namespace, revision }, 'unexpected error proxying a request');
  reply(res, 500, 'internal error');
}

function reply(res: http.ServerResponse, status: number, body: string, retryAfterSeconds?: number): void {
  if (res.headersSent || res.destroyed) return;
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(status, headers);
  res.end(`${body}\n`);
}

function rawReply(socket: Duplex, status: number, body: string, retryAfterSeconds?: number): void {
  if (!socket.writable) return;
  const retry = retryAfterSeconds !== undefined ? `Retry-After: ${retryAfterSeconds}\r\n` : '';
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${retry}Content-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
