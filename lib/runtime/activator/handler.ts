import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Headers, PROXY_REQUEST_ACTIVATOR, ProbeUserAgents, ProbeValues } from '../../contract/constants';
import { QueueFullError } from '../shared/breaker';
import type { Logger } from '../shared/logger';
import { type CancelForward, type ForwardResult, forward, type UpstreamOptions } from '../shared/proxy-forward';
import { answerRaw, forwardUpgrade, type HeldUpgradeClient, holdUpgradeClient } from '../shared/proxy-upgrade';
import type { RevisionRegistry } from './registry';
import type { RevisionBackend } from './revision-backend';
import { appHeaders, appTimeouts, startAppDeadlines } from './sidecarless';
import { UPSTREAM_DROPPED_HEADERS } from '../shared/headers';
import { type Deadlines, firstAnswerDeadline, type TimeoutGuard, TIMEOUT_MESSAGE } from '../shared/timeouts';
import { NoPodAcceptedError, type Reservation, type ReservationClient } from './throttler';

/**
 * The activator's request path (knative/serving pkg/activator/handler/handler.go): answer probes, find the revision, hold the request
 * until the revision has room (bounded queue, bounded by the revision's timeout), then proxy it to
 * a pod with `K-Proxy-Request: activator` and the original Host in `K-Original-Host`.
 * Plain requests and Upgrade requests take the same path (`ActivatorRequest`); only how the
 * client is watched, forwarded to and answered differs (`HttpRequest`, `UpgradeRequest`).
 */
export interface ActivatorHandlerDeps {
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

const PROXY_REQUEST = Headers.PROXY_REQUEST.toLowerCase();
const ORIGINAL_HOST = Headers.ORIGINAL_HOST.toLowerCase();
const NETWORK_PROBE = Headers.NETWORK_PROBE.toLowerCase();
const REVISION = Headers.REVISION.toLowerCase();
const NAMESPACE = Headers.NAMESPACE.toLowerCase();

export function createRequestHandler(deps: ActivatorHandlerDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (answerProbe(req, res, deps)) return;
    const backend = findRevision(req, deps.registry);
    if (!backend) return reply(res, 404, 'revision not found');
    markH2Body(req);
    new HttpRequest(req, res, backend, deps).start();
  };
}

/** Upgrade requests (websockets) take the same path, then the sockets are spliced. */
export function createUpgradeHandler(deps: ActivatorHandlerDeps): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const backend = findRevision(req, deps.registry);
    if (!backend) return rawReply(socket, 404, 'revision not found');
    new UpgradeRequest(req, socket, head, backend, deps).start();
  };
}

/** `K-Network-Probe: activator` → 200 `activator`; other probe values → 400; kubelet → health. */
function answerProbe(req: http.IncomingMessage, res: http.ServerResponse, deps: ActivatorHandlerDeps): boolean {
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

/**
 * What a pod is sent, per data-plane mode, for requests and upgrades alike: in mode `full` the
 * activator's headers for the queue-proxy; sidecar-less (mode `activator`), what the queue-proxy
 * would have passed on to the app (./sidecarless.ts).
 */
interface HeaderPolicy {
  /** Request headers the forwarder leaves out (no `delete` on the header object). */
  readonly drop: ReadonlySet<string>;
  complete(headers: http.OutgoingHttpHeaders, req: http.IncomingMessage, podId: string): void;
}

/** Knative's routing headers stop at the activator. */
const ROUTING_HEADERS: ReadonlySet<string> = new Set([REVISION, NAMESPACE]);
const TO_QUEUE_PROXY: HeaderPolicy = { drop: ROUTING_HEADERS, complete: activatorHeaders };
const TO_APP: HeaderPolicy = { drop: UPSTREAM_DROPPED_HEADERS, complete: appHeaders };

const NO_POD_TRIED: ReadonlySet<string> = new Set();

/**
 * One request through the activator, plain or Upgrade: wait for a revision slot and a pod slot
 * (at once when there is room), forward, and when the pod refused the connection (nothing was
 * sent) wait again for another pod, within the same deadline: the revision's timeout, counted
 * from arrival. The object is the throttler's client and the forwarder's options (pod address
 * and header policy).
 */
abstract class ActivatorRequest implements ReservationClient, UpstreamOptions {
  host = '';
  port = 0;
  dropHeaders: ReadonlySet<string> = ROUTING_HEADERS;
  private policy: HeaderPolicy = TO_QUEUE_PROXY;
  private reservation: Reservation | undefined;
  private tried: ReadonlySet<string> = NO_POD_TRIED;
  private state: 'new' | 'waiting' | 'forwarding' | 'done' = 'new';
  /** Gives up the wait, or stops the forward: whichever is under way. */
  private cancel: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  protected timedOut = false;

  constructor(
    protected readonly req: http.IncomingMessage,
    protected readonly backend: RevisionBackend,
    private readonly deps: ActivatorHandlerDeps,
  ) {}

  /** Watches for the client leaving while the request waits (`clientGone`). */
  protected abstract holdClient(): void;
  /** Stops watching (the request is forwarded, or over). */
  protected abstract releaseClient(): void;
  /** Sends the request to the reserved pod; `forwarded` is told the result. */
  protected abstract startForward(): CancelForward;
  /** Ends what an attempt started besides the forward (the app's deadlines). */
  protected abstract endAttempt(): void;
  /** A forward ended as `aborted`: the client must not take a cut answer for a whole one. */
  protected abstract cutOff(): void;
  protected abstract reply(status: number, body: string, retryAfterSeconds?: number): void;

  start(): void {
    this.backend.load.requestIn(Date.now());
    this.timer = setTimeout(ActivatorRequest.onTimeout, this.backend.info.timeoutSeconds * 1000, this);
    this.waitForPod();
  }

  private waitForPod(): void {
    const { info, throttler } = this.backend;
    if (this.backend.readyPods === 0) this.deps.onColdRequest(info.namespace, info.revision);
    this.state = 'waiting';
    this.holdClient();
    const cancel = throttler.reserve(this.tried, this);
    if (this.state === 'waiting') this.cancel = cancel;
  }

  reserved(reservation: Reservation): void {
    this.state = 'forwarding';
    this.releaseClient();
    this.reservation = reservation;
    this.host = reservation.pod.host;
    this.port = reservation.pod.port;
    this.policy = this.backend.info.activatorAlwaysInPath ? TO_APP : TO_QUEUE_PROXY;
    this.dropHeaders = this.policy.drop;
    const cancel = this.startForward();
    if (this.reservation === reservation) this.cancel = cancel;
  }

  /** UpstreamOptions; a method, called on this object by the forwarder. */
  transformHeaders(headers: http.OutgoingHttpHeaders): void {
    this.policy.complete(headers, this.req, this.reservation!.podId);
  }

  /** UpstreamOptions; given, so the forwarder leaves the client untouched for a retry. */
  onConnectError(err: Error): void {
    this.deps.logger.warn({ pod: this.reservation?.podId, err: err.message }, 'pod refused connection');
  }

  protected forwarded(result: ForwardResult): void {
    this.cancel = undefined;
    const reservation = this.reservation!;
    this.reservation = undefined;
    if (result.outcome === 'connect-error' && !this.timedOut) {
      this.endAttempt();
      reservation.refused();
      this.tried = new Set(this.tried).add(reservation.podId);
      return this.waitForPod();
    }
    reservation.release();
    if (result.outcome === 'aborted') this.cutOff();
    this.finish();
  }

  failed(error: Error): void {
    this.cancel = undefined;
    this.answerFailure(error);
    this.finish();
  }

  private static onTimeout(request: ActivatorRequest): void {
    request.timeOut();
  }

  /** Waiting: 503. Forwarding: the forward stops and `cutOff` answers (unless the tunnel is up). */
  private timeOut(): void {
    this.timedOut = true;
    const waiting = this.state === 'waiting';
    this.stop();
    if (!waiting) return;
    this.answerFailure(new RequestTimeout(this.backend.info.timeoutSeconds));
    this.finish();
  }

  /** The client went away: only a waiting request acts (a forward sees it itself). */
  protected clientGone(): void {
    if (this.state !== 'waiting') return;
    this.stop();
    this.finish();
  }

  protected stop(): void {
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
  }

  private answerFailure(error: Error): void {
    const retryAfter = this.deps.retryAfterSeconds;
    if (error instanceof QueueFullError) return this.reply(503, 'activator queue full', retryAfter);
    if (error instanceof RequestTimeout) return this.reply(503, `no pod became available: ${error.message}`, retryAfter);
    if (error instanceof NoPodAcceptedError) return this.reply(502, error.message);
    const { namespace, revision } = this.backend.info;
    this.deps.logger.error({ err: error, namespace, revision }, 'unexpected error proxying a request');
    this.reply(500, 'internal error');
  }

  private finish(): void {
    if (this.state === 'done') return;
    const waiting = this.state === 'waiting';
    this.state = 'done';
    clearTimeout(this.timer);
    if (waiting) this.releaseClient();
    this.endAttempt();
    this.backend.load.requestOut(Date.now());
  }
}

/** A plain request (HTTP/1, or h2c forwarded as HTTP/1.1), answered on its ServerResponse. */
class HttpRequest extends ActivatorRequest {
  /** Revisions whose activator is always in the path (mode `activator`): the response-start and idle deadlines (sidecarless.ts). */
  private appDeadlines: Deadlines | undefined;
  /** Assigned, not a class-field arrow: see HttpExchange in proxy-forward.ts. */
  private readonly onClientClose: () => void;

  constructor(
    req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    backend: RevisionBackend,
    deps: ActivatorHandlerDeps,
  ) {
    super(req, backend, deps);
    this.onClientClose = () => this.clientGone();
  }

  protected holdClient(): void {
    this.res.on('close', this.onClientClose);
  }

  protected releaseClient(): void {
    this.res.off('close', this.onClientClose);
  }

  protected startForward(): CancelForward {
    const activatorAlwaysInPath = this.backend.info.activatorAlwaysInPath;
    // The 504 or cut-off follows from the deadlines; stopping the forward frees the slots.
    if (activatorAlwaysInPath) this.appDeadlines = startAppDeadlines(this.res, activatorAlwaysInPath, () => this.stop());
    return forward(this.req, this.res, this, (result) => this.forwarded(result));
  }

  protected endAttempt(): void {
    this.appDeadlines?.dispose();
    this.appDeadlines = undefined;
  }

  protected cutOff(): void {
    const { res } = this;
    if (res.writableFinished || res.destroyed) return;
    if (res.headersSent) res.destroy();
    else if (this.timedOut) reply(res, 504, 'activator request timeout');
  }

  protected reply(status: number, body: string, retryAfterSeconds?: number): void {
    reply(this.res, status, body, retryAfterSeconds);
  }
}

/**
 * An Upgrade request (websockets), answered on its raw socket. The revision's timeout bounds it
 * from arrival until the pod's first answer, as it bounds any request (Knative's activator puts
 * its timeout handler in front of websockets too); sidecar-less, the app's response-start and
 * idle timeouts also run from when it is sent to the pod. A switched tunnel is not bound by them.
 */
class UpgradeRequest extends ActivatorRequest {
  private held: HeldUpgradeClient | undefined;
  private appDeadline: TimeoutGuard | undefined;

  constructor(
    req: http.IncomingMessage,
    private readonly socket: Duplex,
    /** The bytes the client sent after its request head, so far. */
    private head: Buffer,
    backend: RevisionBackend,
    deps: ActivatorHandlerDeps,
  ) {
    super(req, backend, deps);
  }

  /** Read while waiting: a client that gives up only half-closes (see holdUpgradeClient). */
  protected holdClient(): void {
    this.held = holdUpgradeClient(this.socket, this.head, () => {
      this.held = undefined;
      this.socket.destroy();
      this.clientGone();
    });
  }

  protected releaseClient(): void {
    if (this.held) this.head = this.held.take();
    this.held = undefined;
  }

  protected startForward(): CancelForward {
    const activatorAlwaysInPath = this.backend.info.activatorAlwaysInPath;
    if (activatorAlwaysInPath) {
      this.appDeadline = firstAnswerDeadline(appTimeouts(activatorAlwaysInPath));
      this.appDeadline.signal.addEventListener('abort', () => this.stop(), { once: true });
    }
    return forwardUpgrade(this.req, this.socket, this.head, this, (result) => this.forwarded(result));
  }

  protected endAttempt(): void {
    this.appDeadline?.dispose();
    this.appDeadline = undefined;
  }

  protected cutOff(): void {
    if (this.timedOut) rawReply(this.socket, 504, 'activator request timeout');
    else if (this.appDeadline?.signal.aborted) rawReply(this.socket, 504, TIMEOUT_MESSAGE);
  }

  protected reply(status: number, body: string, retryAfterSeconds?: number): void {
    rawReply(this.socket, status, body, retryAfterSeconds);
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
