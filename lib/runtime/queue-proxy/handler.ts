/**
 * The request pipeline of the serving port, composed from the small pieces next to it (as
 * Knative's pkg/queue): probe answers → drain bookkeeping → stats → deadlines → breaker → proxy.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Headers, PROXY_REQUEST_ACTIVATOR } from '../../contract/constants';
import { type Breaker, QueueFullError, type Release } from '../shared/breaker';
import type { Logger } from '../shared/logger';
import type { ForwardResult } from '../shared/proxy-forward';
import { answerRaw, forwardUpgrade, holdUpgradeClient } from '../shared/proxy-upgrade';
import type { Drainer } from './drain';
import { completeUpstreamHeaders, UPSTREAM_DROPPED_HEADERS } from '../shared/headers';
import { answerProbe, type AnyRequest, probeKind } from './probe-handler';
import type { RequestStats } from './stats';
import { type AnyResponse, type Deadlines, firstAnswerDeadline, startDeadlines, TIMEOUT_MESSAGE, type TimeoutSettings } from '../shared/timeouts';

/**
 * Sends one request on to the app and calls `onDone` once when the exchange is over; the
 * returned function abandons it (deadline passed, client gone).
 */
export type Upstream = (
  req: AnyRequest,
  res: AnyResponse,
  options: {
    /** Completes the headers; the upstream leaves out UPSTREAM_DROPPED_HEADERS itself. */
    transformHeaders: (headers: http.OutgoingHttpHeaders) => void;
    onDone: (result: ForwardResult) => void;
  },
) => () => void;

export interface HandlerDeps {
  readonly userPort: number;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly drainer: Drainer;
  readonly isReady: () => Promise<boolean>;
  readonly timeouts: TimeoutSettings;
  readonly upstream: Upstream;
  readonly logger: Logger;
}

const PROXY_REQUEST = Headers.PROXY_REQUEST.toLowerCase();
const noRelease: Release = () => undefined;

/**
 * True for requests the activator sent on (counted apart, as Knative's proxied stats).
 *
 * The header is taken on trust: the queue-proxy cannot tell the activator's connections from
 * others (it does not know the activator's addresses, and behind a mesh sidecar every connection
 * comes from 127.0.0.1). The defence is at the edge: the routes strip K-Proxy-Request and
 * K-Original-Host from client requests (lib/builders/virtual-service.ts), and the activator sets
 * both itself. A client that reaches the pod directly, past the routes, can still hide its load
 * from the autoscaler this way (choosing the app's Host it could do with Host itself); closing
 * that needs a credential between activator and queue-proxy, which Knative does not have either.
 */
export function isProxied(req: AnyRequest): boolean {
  return req.headers[PROXY_REQUEST] === PROXY_REQUEST_ACTIVATOR;
}

export class RequestHandler {
  private active = 0;
  private readonly upgraded = new Set<Duplex>();
  private idleWaiters: Array<() => void> = [];
  private closing = false;

  constructor(private readonly deps: HandlerDeps) {}

  /** Requests being served now (websockets not included). */
  get activeRequests(): number {
    return this.active;
  }

  get openWebsockets(): number {
    return this.upgraded.size;
  }

  /** From now on HTTP/1 responses close their connection. */
  startClosing(): void {
    this.closing = true;
  }

  /** Resolves once no request is being served. */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Closes websocket connections still open. */
  closeWebsockets(): void {
    for (const socket of this.upgraded) socket.destroy();
  }

  readonly handle = (req: AnyRequest, res: AnyResponse): void => {
    const probe = probeKind(req);
    if (probe !== undefined) {
      answerProbe(probe, req, res, { isReady: this.deps.isReady, isDraining: () => this.deps.drainer.draining }).catch(
        (err: Error) => this.deps.logger.error({ err }, 'probe failed'),
      );
      return;
    }
    this.deps.drainer.noteRequest();
    if (this.closing && 'shouldKeepAlive' in res) res.shouldKeepAlive = false;
    void this.serve(req, res);
  };

  private serve(req: AnyRequest, res: AnyResponse): void {
    new Exchange(this, this.deps, req, res).start();
  }

  /** Websockets: counted and limited like requests for as long as the connection lives. */
  readonly handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.deps.drainer.noteRequest();
    void this.serveUpgrade(req, socket, head);
  };

  /**
   * Until the app's first answer an Upgrade is bound by the revision's deadlines as any request
   * (knative.dev/serving pkg/queue/sharedmain/handlers.go puts the timeout handler in front of
   * websockets too), the wait for a slot included: 504 `request timeout`, its slot given back.
   * Once the app answered, the tunnel or the streamed answer is not bound by them.
   */
  private async serveUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const proxied = isProxied(req);
    const deadline = firstAnswerDeadline(this.deps.timeouts);
    try {
      const slot = await this.upgradeSlot(socket, head, deadline.signal);
      if (slot === undefined) return answerTimeout(socket, deadline.signal);
      this.deps.stats.requestStarted(proxied);
      this.upgraded.add(socket);
      try {
        const result = await new Promise<ForwardResult>((resolve) => {
          const options = {
            host: '127.0.0.1',
            port: this.deps.userPort,
            dropHeaders: UPSTREAM_DROPPED_HEADERS,
            transformHeaders: (headers: http.OutgoingHttpHeaders) => completeUpstreamHeaders(headers, req.headers),
          };
          const cancel = forwardUpgrade(req, socket, slot.head, options, resolve);
          if (deadline.signal.aborted) cancel();
          else deadline.signal.addEventListener('abort', cancel, { once: true });
        });
        if (result.outcome === 'aborted') answerTimeout(socket, deadline.signal);
      } finally {
        this.upgraded.delete(socket);
        this.deps.stats.requestFinished(proxied);
        slot.release();
      }
    } finally {
      deadline.dispose();
    }
  }

  /**
   * A breaker slot for an Upgrade request, with the bytes the client sent so far; undefined when
   * the queue is full (503 written), the deadline passed while waiting, or the client went away
   * (it leaves the queue then, instead of taking a slot nobody will use).
   */
  private upgradeSlot(socket: Duplex, head: Buffer, deadline: AbortSignal): Promise<{ release: Release; head: Buffer } | undefined> {
    const breaker = this.deps.breaker;
    if (breaker === undefined) return Promise.resolve({ release: noRelease, head });
    if (socket.destroyed) return Promise.resolve(undefined);
    const now = breaker.tryAcquire();
    if (now !== undefined) return Promise.resolve({ release: now, head });
    return new Promise((resolve) => {
      const cancel = breaker.wait((release) => {
        deadline.removeEventListener('abort', onDeadline);
        resolve({ release, head: held.take() });
      });
      if (cancel === undefined) {
        answerRaw(socket, 503, new QueueFullError().message);
        return resolve(undefined);
      }
      const held = holdUpgradeClient(socket, head, () => {
        deadline.removeEventListener('abort', onDeadline);
        cancel();
        socket.destroy();
        resolve(undefined);
      });
      const onDeadline = () => {
        held.take();
        cancel();
        resolve(undefined);
      };
      deadline.addEventListener('abort', onDeadline, { once: true });
    });
  }

  /** @internal (Exchange) */
  track(proxied: boolean): void {
    this.active++;
    this.deps.stats.requestStarted(proxied);
  }

  /** @internal (Exchange) */
  untrack(proxied: boolean): void {
    this.active--;
    this.deps.stats.requestFinished(proxied);
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/**
 * One request through the pipeline: stats → deadlines → breaker slot → app. Plain callbacks and
 * one object per request, no promise, no AbortController: on a queue-proxy's budget of a few
 * tens of microseconds per request those were the largest costs (docs/runtime-performance.md).
 */
class Exchange {
  private readonly proxied: boolean;
  private deadlines: Deadlines | undefined;
  /** Leaves the breaker queue, or abandons the upstream exchange, whichever is under way. */
  private cancel: (() => void) | undefined;
  private release: Release = noRelease;
  private closed = false;

  constructor(
    private readonly owner: RequestHandler,
    private readonly deps: HandlerDeps,
    private readonly req: AnyRequest,
    private readonly res: AnyResponse,
  ) {
    this.proxied = isProxied(req);
  }

  start(): void {
    this.owner.track(this.proxied);
    this.deadlines = startDeadlines(this.res, this.deps.timeouts, this.onDeadline);
    this.res.once('close', this.onClose);
    const breaker = this.deps.breaker;
    if (breaker === undefined) return this.forward();
    const release = breaker.tryAcquire();
    if (release !== undefined) {
      this.release = release;
      return this.forward();
    }
    this.cancel = breaker.wait(this.onSlot);
    if (this.cancel === undefined) this.answerQueueFull();
  }

  private readonly onSlot = (release: Release): void => {
    this.cancel = undefined;
    if (this.closed) return release();
    this.release = release;
    this.forward();
  };

  private forward(): void {
    const { req } = this;
    this.cancel = this.deps.upstream(req, this.res, {
      transformHeaders: (headers) => completeUpstreamHeaders(headers, req.headers),
      onDone: this.onUpstreamDone,
    });
  }

  private readonly onUpstreamDone = (result: ForwardResult): void => {
    this.cancel = undefined;
    if (result.outcome === 'connect-error' || result.outcome === 'upstream-error') {
      this.deps.logger.warn({ err: result.error, url: this.req.url }, 'app request failed');
    }
    this.release();
  };

  /** A deadline passed: stop waiting or forwarding; the deadline writes 504 or cuts the response. */
  private readonly onDeadline = (): void => {
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
    this.deadlines?.dispose();
    this.owner.untrack(this.proxied);
  };

  private answerQueueFull(): void {
    const { res } = this;
    if (res.headersSent) return;
    const error = new QueueFullError();
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(error.message);
  }
}

/** The 504 of an Upgrade whose deadline passed before the app answered (nothing written yet). */
function answerTimeout(socket: Duplex, deadline: AbortSignal): void {
  if (deadline.aborted && socket.writable) answerRaw(socket, 504, TIMEOUT_MESSAGE);
}
