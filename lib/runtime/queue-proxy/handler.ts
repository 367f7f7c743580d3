/**
 * The request pipeline of the serving port, composed from the small pieces next to it (as
 * Knative's pkg/queue): probe answers → drain bookkeeping → stats → deadlines → breaker → proxy.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Headers } from '../../constants';
import { type Breaker, QueueFullError, type Release } from '../shared/breaker';
import type { Logger } from '../shared/logger';
import { forwardUpgrade, type ForwardResult } from '../shared/proxy';
import type { Drainer } from './drain';
import { toUpstreamHeaders } from './headers';
import { answerProbe, type AnyRequest, probeKind } from './probe-handler';
import type { RequestStats } from './stats';
import { type AnyResponse, guardTimeouts, type TimeoutSettings } from './timeouts';

/** Sends one request on to the app; resolves when the exchange is over. */
export type Upstream = (
  req: AnyRequest,
  res: AnyResponse,
  options: { transformHeaders: (headers: http.OutgoingHttpHeaders) => void; signal: AbortSignal },
) => Promise<ForwardResult>;

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

/** True for requests the activator sent on (counted apart, as Knative's proxied stats). */
export function isProxied(req: AnyRequest): boolean {
  return req.headers[PROXY_REQUEST] === 'activator';
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

  private async serve(req: AnyRequest, res: AnyResponse): Promise<void> {
    const proxied = isProxied(req);
    this.track(proxied);
    const guard = guardTimeouts(res, this.deps.timeouts);
    const clientGone = new AbortController();
    res.once('close', () => {
      clientGone.abort(new Error('client closed the connection'));
      guard.dispose();
      this.untrack(proxied);
    });
    const signal = AbortSignal.any([guard.signal, clientGone.signal]);
    const release = await this.acquireSlot(res, signal);
    if (release === undefined) return;
    try {
      const result = await this.deps.upstream(req, res, {
        transformHeaders: (headers) => toUpstreamHeaders(headers, req.headers),
        signal,
      });
      if (result.outcome === 'connect-error' || result.outcome === 'upstream-error') {
        this.deps.logger.warn({ err: result.error, url: req.url }, 'app request failed');
      }
    } finally {
      release();
    }
  }

  /** A breaker slot, or undefined when the request was answered instead (queue full, timed out). */
  private async acquireSlot(res: AnyResponse, signal: AbortSignal): Promise<Release | undefined> {
    if (this.deps.breaker === undefined) return noRelease;
    try {
      return await this.deps.breaker.acquire(signal);
    } catch (err) {
      if (err instanceof QueueFullError && !res.headersSent) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(err.message);
      }
      // Otherwise the deadline already answered 504, or the client left.
      return undefined;
    }
  }

  /** Websockets: counted and limited like requests for as long as the connection lives. */
  readonly handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.deps.drainer.noteRequest();
    void this.serveUpgrade(req, socket, head);
  };

  private async serveUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const proxied = isProxied(req);
    let release: Release = noRelease;
    try {
      release = this.deps.breaker ? await this.deps.breaker.acquire() : noRelease;
    } catch (err) {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${(err as Error).message.length}\r\nConnection: close\r\n\r\n${(err as Error).message}`);
      return;
    }
    this.deps.stats.requestStarted(proxied);
    this.upgraded.add(socket);
    try {
      await forwardUpgrade(req, socket, head, {
        host: '127.0.0.1',
        port: this.deps.userPort,
        transformHeaders: (headers) => toUpstreamHeaders(headers, req.headers),
      });
    } finally {
      this.upgraded.delete(socket);
      this.deps.stats.requestFinished(proxied);
      release();
    }
  }

  private track(proxied: boolean): void {
    this.active++;
    this.deps.stats.requestStarted(proxied);
  }

  private untrack(proxied: boolean): void {
    this.active--;
    this.deps.stats.requestFinished(proxied);
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
