import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Headers, PROXY_REQUEST_ACTIVATOR, ProbeUserAgents, ProbeValues } from '../../contract/constants';
import { QueueFullError } from '../shared/breaker';
import type { Logger } from '../shared/logger';
import { answerRaw, ForwardResult, forward, forwardUpgrade, holdUpgradeClient, startForward } from '../shared/proxy';
import type { RevisionRegistry } from './registry';
import { formatAddress } from './revision';
import type { RevisionBackend } from './revision-backend';
import { SIDECARLESS_DROPPED_HEADERS, sidecarlessHeaders, sidecarlessTimeouts, startAppDeadlines } from './sidecarless';
import { type Deadlines, firstAnswerDeadline, type RequestTimeoutError, TIMEOUT_MESSAGE } from '../shared/timeouts';
import { NoPodAcceptedError, REFUSED, type Reservation, type ReservationClient } from './throttler';

/**
 * The activator's request path (knative/serving pkg/activator/handler/handler.go): answer probes, find the revision, hold the request
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
const NETWORK_PROBE = Headers.NETWORK_PROBE.toLowerCase();
const REVISION = Headers.REVISION.toLowerCase();
const NAMESPACE = Headers.NAMESPACE.toLowerCase();

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
  const kubelet = req.headers['user-agent']?.startsWith(ProbeUserAgents.KUBELET_PREFIX) ?? false;
  // A draining activator fails the kubelet's probes (with or without the probe header), so it
  // leaves the activator-service Endpoints while finishing what it holds.
  if (kubelet && deps.isDraining()) {
    reply(res, 500, 'shutting down');
    return true;
  }
  const probe = req.headers[NETWORK_PROBE];
  if (probe !== undefined) {
    if (probe === ProbeValues.ACTIVATOR) reply(res, 200, ProbeValues.ACTIVATOR);
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
  const revision = headerValue(req, REVISION);
  const namespace = headerValue(req, NAMESPACE);
  if (revision && namespace) return registry.get(namespace, revision);
  const host = hostOf(req).split(':')[0].split('.');
  if (host.length >= 3 && host[2] === 'svc') return registry.get(host[1], host[0]);
  return undefined;
}

const NO_POD_TRIED: ReadonlySet<string> = new Set();

function proxyRequest(req: http.IncomingMessage, res: http.ServerResponse, backend: RevisionBackend, deps: HandlerDeps): void {
  backend.stats.requestIn(Date.now());
  markH2Body(req);
  new ActivatorRequest(req, res, backend, deps).start();
}

/** The ActivatorRequest a response belongs to (its 'close' listener is shared, see below). */
const REQUEST = Symbol('kservice.activatorRequest');
type Tagged = { [REQUEST]?: ActivatorRequest };

/**
 * One request through the activator: wait for a revision slot and a pod slot (at once when there
 * is room), then forward. Plain callbacks and one object per request — no AbortController or
 * promise chain — because at 1,000 rps on a shared core the activator is one of three processes
 * on the request path and every microsecond of it shows in the latency (docs/runtime-performance.md).
 * A pod that refuses the connection sends the request on through `holdAndProxy`, to another pod.
 * Its timer and 'close' listener are static functions given this object (no closure per request:
 * the bundle's keepNames names each closure with Object.defineProperty; docs/runtime-performance.md).
 */
class ActivatorRequest implements ReservationClient {
  private timer: NodeJS.Timeout | undefined;
  private waiting = false;
  private cancelWait: (() => void) | undefined;
  private cancelForward: (() => void) | undefined;
  /** Sidecar-less revisions: the response-start and idle deadlines (sidecarless.ts). */
  private appDeadlines: Deadlines | undefined;
  private timedOut = false;
  private finished = false;
  private readonly deadline: number;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly backend: RevisionBackend,
    private readonly deps: HandlerDeps,
  ) {
    this.deadline = Date.now() + backend.info.timeoutSeconds * 1000;
  }

  start(): void {
    const { info, throttler } = this.backend;
    this.timer = setTimeout(ActivatorRequest.onTimeout, info.timeoutSeconds * 1000, this);
    (this.res as Tagged)[REQUEST] = this;
    this.res.on('close', ActivatorRequest.onClientClose);
    if (this.backend.readyPods === 0) this.deps.onColdRequest(info.namespace, info.revision);
    this.waiting = true;
    const cancel = throttler.reserve(NO_POD_TRIED, this);
    if (this.waiting) this.cancelWait = cancel;
  }

  reserved(reservation: Reservation): void {
    this.waiting = false;
    this.cancelWait = undefined;
    const { req, res, deps } = this;
    const sidecarless = this.backend.info.sidecarless;
    if (sidecarless) this.appDeadlines = startAppDeadlines(res, sidecarless, this.onAppDeadline);
    this.cancelForward = startForward(
      req,
      res,
      {
        host: reservation.pod.host,
        port: reservation.pod.port,
        dropHeaders: sidecarless ? SIDECARLESS_DROPPED_HEADERS : DROPPED_HEADERS,
        transformHeaders: sidecarless ? (h) => sidecarlessHeaders(h, req) : (h) => activatorHeaders(h, req, reservation.podId),
        // A method, not an arrow property: the bundle's keepNames would name the arrow per request.
        onConnectError(err) {
          deps.logger.warn({ pod: reservation.podId, err: err.message }, 'pod refused connection');
        },
      },
      (result) => this.onForwarded(result, reservation),
    );
  }

  private onForwarded(result: ForwardResult, reservation: Reservation): void {
    this.cancelForward = undefined;
    reservation.release();
    const { res } = this;
    if (result.outcome === 'connect-error' && !this.timedOut) {
      this.detach();
      this.backend.throttler.noteRefused(reservation.pod);
      // Nothing was sent: another pod gets the request, within the same deadline.
      return void holdAndProxy(this.req, res, this.backend, this.deps, this.deadline, new Set([reservation.podId]));
    }
    if (result.outcome === 'aborted' && !res.writableFinished && !res.destroyed) {
      // Cut off half-way: the client must not take a truncated body for a whole one.
      if (res.headersSent) res.destroy();
      else if (this.timedOut) reply(res, 504, 'activator request timeout');
    }
    this.finish();
  }

  failed(error: Error): void {
    this.waiting = false;
    this.cancelWait = undefined;
    const { info } = this.backend;
    replyToFailure(error, this.res, this.deps, info.namespace, info.revision);
    this.finish();
  }

  private static onTimeout(request: ActivatorRequest): void {
    request.timeOut();
  }

  private timeOut(): void {
    this.timedOut = true;
    if (this.waiting) {
      this.stopWaiting();
      const { info } = this.backend;
      replyToFailure(new RequestTimeout(info.timeoutSeconds), this.res, this.deps, info.namespace, info.revision);
      return this.finish();
    }
    this.cancelForward?.();
  }

  /** The 504 or cut-off follows from the deadlines; stopping the forward frees the slots. */
  private readonly onAppDeadline = (): void => {
    this.cancelForward?.();
  };

  private static onClientClose(this: http.ServerResponse): void {
    const request = (this as Tagged)[REQUEST]!;
    if (!request.waiting) return; // while forwarding, the forwarder sees the close itself
    request.stopWaiting();
    request.finish();
  }

  private stopWaiting(): void {
    this.waiting = false;
    const cancel = this.cancelWait;
    this.cancelWait = undefined;
    cancel?.();
  }

  /** Stops this object's timer and listener (the request goes on elsewhere, or is over). */
  private detach(): void {
    clearTimeout(this.timer);
    this.appDeadlines?.dispose();
    this.res.off('close', ActivatorRequest.onClientClose);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.detach();
    this.backend.stats.requestOut(Date.now());
  }
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
        const sidecarless = info.sidecarless;
        // Sidecar-less: the app's deadlines stop this attempt through their own signal (sidecarless.ts).
        const appDeadline = sidecarless && new AbortController();
        const appDeadlines = sidecarless && appDeadline && startAppDeadlines(res, sidecarless, () => appDeadline.abort());
        const outcome = await forward(req, res, {
          host: pod.host,
          port: pod.port,
          dropHeaders: sidecarless ? SIDECARLESS_DROPPED_HEADERS : DROPPED_HEADERS,
          transformHeaders: sidecarless ? (h) => sidecarlessHeaders(h, req) : (h) => activatorHeaders(h, req, podId),
          onConnectError: (err) => deps.logger.warn({ pod: podId, err: err.message }, 'pod refused connection'),
          signal: appDeadline ? AbortSignal.any([signal, appDeadline.signal]) : signal,
        });
        if (appDeadlines) appDeadlines.dispose();
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

/**
 * The revision's timeout bounds an Upgrade from arrival until the pod's first answer, as it bounds
 * any request (Knative's activator puts its timeout handler in front of websockets too); in mode
 * `activator` the app's response-start and idle timeouts also run from when it is sent to the
 * pod. Not answered in time: 504, its slots given back. A switched tunnel is not bound by them.
 */
async function proxyUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  backend: RevisionBackend,
  deps: HandlerDeps,
): Promise<void> {
  const { info, stats } = backend;
  stats.requestIn(Date.now());
  const deadlineAt = Date.now() + info.timeoutSeconds * 1000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimeout(info.timeoutSeconds)), info.timeoutSeconds * 1000);
  // Read while waiting: a client that gives up only half-closes (see holdUpgradeClient).
  const held = holdUpgradeClient(socket, head, () => controller.abort(new ClientGone()));
  try {
    if (backend.readyPods === 0) deps.onColdRequest(info.namespace, info.revision);
    await backend.throttler.run(controller.signal, async (pod) => {
      // From here the forward's own deadline bounds it, which stops at the pod's first answer:
      // the waiting signal is never aborted under a tunnel.
      clearTimeout(timer);
      const appTimeouts = info.sidecarless ? sidecarlessTimeouts(info.sidecarless) : { responseStartMs: 0, idleMs: 0 };
      const deadline = firstAnswerDeadline({ ...appTimeouts, totalMs: Math.max(1, deadlineAt - Date.now()) });
      const outcome = await forwardUpgrade(req, socket, held.take(), {
        host: pod.host,
        port: pod.port,
        transformHeaders: (h) => {
          if (info.sidecarless) {
            for (const name of SIDECARLESS_DROPPED_HEADERS) delete h[name];
            return sidecarlessHeaders(h, req);
          }
          for (const name of DROPPED_HEADERS) delete h[name];
          activatorHeaders(h, req, formatAddress(pod));
        },
        onConnectError: () => undefined,
        signal: deadline.signal,
      }).finally(deadline.dispose);
      if (outcome.outcome === 'aborted' && deadline.signal.aborted) {
        const reason = deadline.signal.reason as RequestTimeoutError;
        rawReply(socket, 504, reason.kind === 'total' ? 'activator request timeout' : TIMEOUT_MESSAGE);
      }
      return outcome.outcome === 'connect-error' ? REFUSED : outcome;
    });
  } catch (err) {
    if (err instanceof QueueFullError || err instanceof RequestTimeout) rawReply(socket, 503, err.message, deps.retryAfterSeconds);
    else if (err instanceof NoPodAcceptedError) rawReply(socket, 502, err.message);
    else socket.destroy();
  } finally {
    held.take();
    clearTimeout(timer);
    stats.requestOut(Date.now());
  }
}

/**
 * The headers Knative's activator sets on the way to a pod (the routing headers and HTTP/2
 * pseudo-headers are left out by the forwarder; h2c requests go on as HTTP/1.1).
 */
function activatorHeaders(h: http.OutgoingHttpHeaders, req: http.IncomingMessage, podId: string): void {
  h[PROXY_REQUEST] = PROXY_REQUEST_ACTIVATOR;
  // An existing K-Original-Host is kept, as Knative's RewriteHostIn (knative/networking
  // pkg/http/header). A client could choose the app's Host this way only where it can send any
  // Host anyway (reaching the activator directly): from outside, the routes strip the header
  // (lib/builders/virtual-service.ts), as they must since Host there decides the route.
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
  answerRaw(socket, status, `${body}\n`, retryAfterSeconds !== undefined ? `Retry-After: ${retryAfterSeconds}\r\n` : '');
}

/** `lowerCaseName`: as node:http keys its headers (no toLowerCase per request). */
function headerValue(req: http.IncomingMessage, lowerCaseName: string): string | undefined {
  const v = req.headers[lowerCaseName];
  return Array.isArray(v) ? v[0] : v;
}
