/**
 * Listeners and life cycle of one queue-proxy: the serving port (HTTP/1, or h2c + HTTP/1), the
 * admin port and the metrics port; drain-then-stop on shutdown.
 */
import { closeServer, listenOn } from '../shared/listen';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Breaker } from '../shared/breaker';
import { closeIdleSessions, connectionCap, http1ServerOptions, http2ServerOptions } from '../shared/connection-limits';
import { oneAtATime, upgradeInOrder } from '../shared/pipelining';
import type { Logger } from '../shared/logger';
import { createKeepAliveAgent, forward } from '../shared/proxy-forward';
import { createAdminHandler } from './admin';
import type { QueueProxyConfig } from './config';
import { Drainer } from './drain';
import { H2cUpstream, createSniffingServer } from './h2c';
import { RequestHandler, type Upstream } from './handler';
import { UPSTREAM_DROPPED_HEADERS } from '../shared/headers';
import { createQueueMetrics } from './metrics';
import { ReadinessProber } from '../shared/readiness';
import { RequestStats, StatsReporter } from './stats';

/** Knative's queue depth per allowed request (knative/serving pkg/queue/sharedmain/main.go). */
export const QUEUE_DEPTH_PER_CONCURRENCY = 10;
/** Hijacked (websocket) connections get this long after the drain (knative/serving pkg/queue/sharedmain/main.go). */
export const WEBSOCKET_GRACE_MS = 60_000;
const IDLE_CONNECTIONS_WHEN_UNLIMITED = 1000;

export interface BoundPorts {
  readonly serving: number;
  readonly admin: number;
  readonly metrics: number;
}

export class QueueProxy {
  readonly stats = new RequestStats();
  readonly breaker: Breaker | undefined;
  readonly drainer: Drainer;
  readonly handler: RequestHandler;
  private readonly reporter = new StatsReporter(this.stats);
  private readonly prober: ReadinessProber;
  private readonly agent: http.Agent;
  private readonly h2cUpstream: H2cUpstream | undefined;
  private readonly http1Server: http.Server;
  private readonly h2Server: http2.Http2Server | undefined;
  private readonly servingListener: net.Server;
  private readonly adminServer: http.Server;
  private readonly metricsServer: http.Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Every connection to the serving port, so shutdown can close idle keep-alive ones. */
  private readonly servingSockets = new Set<net.Socket>();
  private terminating = false;

  constructor(
    private readonly config: QueueProxyConfig,
    private readonly logger: Logger,
  ) {
    const cc = config.containerConcurrency;
    this.breaker = cc > 0 ? new Breaker({ capacity: cc, queueDepth: QUEUE_DEPTH_PER_CONCURRENCY * cc }) : undefined;
    this.drainer = new Drainer(config.drainSeconds * 1000);
    this.prober = new ReadinessProber(config.readinessProbes);
    this.agent = createKeepAliveAgent(cc > 0 ? cc : IDLE_CONNECTIONS_WHEN_UNLIMITED);
    this.h2cUpstream = config.protocol === 'h2c' ? new H2cUpstream('127.0.0.1', config.userPort) : undefined;
    this.handler = new RequestHandler({
      userPort: config.userPort,
      breaker: this.breaker,
      stats: this.stats,
      drainer: this.drainer,
      isReady: () => this.prober.probe(),
      timeouts: {
        totalMs: config.revisionTimeoutSeconds * 1000,
        responseStartMs: config.responseStartTimeoutSeconds * 1000,
        idleMs: config.idleTimeoutSeconds * 1000,
      },
      upstream: this.upstream(),
      logger,
    });

    const limits = config.connectionLimits;
    this.http1Server = http.createServer(http1ServerOptions(limits), oneAtATime(this.handler.handle));
    this.http1Server.on('upgrade', upgradeInOrder(this.handler.handleUpgrade));
    if (config.protocol === 'h2c') {
      this.h2Server = http2.createServer(http2ServerOptions(), this.handler.handle);
      this.h2Server.on('session', (session) => {
        this.sessions.add(session);
        session.once('close', () => this.sessions.delete(session));
      });
      closeIdleSessions(this.h2Server, limits);
      this.servingListener = createSniffingServer(this.http1Server, this.h2Server, limits);
    } else {
      this.servingListener = this.http1Server;
    }
    this.servingListener.on('connection', (socket: net.Socket) => {
      this.servingSockets.add(socket);
      socket.once('close', () => this.servingSockets.delete(socket));
    });
    this.adminServer = http.createServer(
      http1ServerOptions(limits),
      createAdminHandler({ drainer: this.drainer, terminating: () => this.terminating, drainToken: config.drainToken, logger }),
    );
    const metrics = createQueueMetrics(
      { namespace: config.namespace, configuration: config.configuration, revision: config.revision, pod: config.pod },
      {
        latestReport: () => this.reporter.latest,
        queueDepth: () => this.breaker?.waiting ?? 0,
        inFlight: () => this.breaker?.inFlight ?? this.stats.concurrency,
        startedAt: performance.now(),
      },
    );
    this.metricsServer = http.createServer(http1ServerOptions(limits), (req, res) => {
      if (new URL(req.url ?? '/', 'http://metrics').pathname !== '/metrics') {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': metrics.contentType }).end(metrics.render());
    });
  }

  private upstream(): Upstream {
    const h2c = this.h2cUpstream;
    if (h2c) {
      // h2c keeps the promise/AbortSignal form: its per-request cost is in the HTTP/2 session.
      return (req, res, { transformHeaders, onDone }) => {
        const controller = new AbortController();
        const transform = (headers: http.OutgoingHttpHeaders) => {
          for (const name of UPSTREAM_DROPPED_HEADERS) delete headers[name];
          transformHeaders(headers);
        };
        void h2c.forward(req, res, { transformHeaders: transform, signal: controller.signal }).then(onDone);
        return () => controller.abort();
      };
    }
    const { userPort } = this.config;
    const agent = this.agent;
    return (req, res, { transformHeaders, onDone }) =>
      forward(req as http.IncomingMessage, res as http.ServerResponse, { host: '127.0.0.1', port: userPort, agent, dropHeaders: UPSTREAM_DROPPED_HEADERS, transformHeaders }, onDone);
  }

  async listen(): Promise<BoundPorts> {
    const { bindAddress: host, connectionLimits: limits } = this.config;
    const http1Cap = connectionCap(limits, 'http1');
    const ports = {
      serving: await listenOn(this.servingListener, this.config.servingPort, host, connectionCap(limits, this.h2Server ? 'http2' : 'http1')),
      admin: await listenOn(this.adminServer, this.config.adminPort, host, http1Cap),
      metrics: await listenOn(this.metricsServer, this.config.metricsPort, host, http1Cap),
    };
    this.reporter.start();
    return ports;
  }

  /** SIGTERM: drain (readiness fails, quiet period), then stop once in-flight requests are done. */
  async terminate(): Promise<void> {
    this.terminating = true;
    this.logger.info({ drainSeconds: this.config.drainSeconds }, 'draining');
    await this.drainer.drain();
    this.logger.info({ inFlight: this.handler.activeRequests }, 'drained; waiting for requests in flight');
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.handler.startClosing();
    const listenerClosed = closeServer(this.servingListener);
    this.http1Server.closeIdleConnections();
    await this.handler.whenIdle();
    await this.waitForWebsockets();
    this.http1Server.closeAllConnections();
    for (const session of this.sessions) session.close();
    // No request is in flight now: what is left are idle keep-alive connections.
    for (const socket of this.servingSockets) socket.destroy();
    this.h2cUpstream?.close();
    this.agent.destroy();
    this.reporter.stop();
    await Promise.all([listenerClosed, closeServer(this.adminServer, true), closeServer(this.metricsServer, true)]);
  }

  private async waitForWebsockets(): Promise<void> {
    const deadline = Date.now() + WEBSOCKET_GRACE_MS;
    while (this.handler.openWebsockets > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.handler.closeWebsockets();
  }

}

