import { closeServer, listenOn } from '../shared/listen';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { closeIdleSessions, connectionCap, http1ServerOptions, http2ServerOptions } from '../shared/connection-limits';
import { oneAtATime, upgradeInOrder } from '../shared/pipelining';
import { ConfigError } from '../shared/env';
import { createLogger, type Logger } from '../shared/logger';
import { ActivatorConfig, readActivatorConfig } from './config';
import { createRequestHandler, createUpgradeHandler } from './handler';
import { ActivatorMetrics } from './metrics';
import { AutoscalerPoker } from './poker';
import { RevisionRegistry } from './registry';
import { StaticConfigError, loadStaticConfig } from './static-config';

/**
 * `kservice-runtime activator`: holds requests for revisions without a ready pod, asks the
 * autoscaler to scale them, and balances requests over the pods once they answer.
 * Revisions come from the static config file (standalone mode) or from the Kubernetes API.
 */
export async function runActivator(env: NodeJS.ProcessEnv): Promise<void> {
  const config = readActivatorConfig(env);
  const logger = createLogger('activator');
  const activator = await startActivator(config, logger);
  await waitForTermination(activator, config, logger);
}

export interface RunningActivator {
  readonly httpPort: number;
  readonly h2cPort: number;
  readonly metricsPort: number;
  readonly registry: RevisionRegistry;
  draining: boolean;
  close(): Promise<void>;
}

export async function startActivator(config: ActivatorConfig, logger: Logger): Promise<RunningActivator> {
  const poker = new AutoscalerPoker(logger);
  poker.setAddresses(config.pokeAddresses);
  let metrics: ActivatorMetrics | undefined;
  const registry = new RevisionRegistry({
    queueDepth: config.queueDepth,
    probeIntervalMs: config.probeIntervalMs,
    probeTimeoutMs: config.probeTimeoutMs,
    selfIp: config.podIp,
    handoverMs: config.handoverMs,
    onPodsChanged: (b) => logger.info({ namespace: b.info.namespace, revision: b.info.revision, pods: b.readyPods }, 'usable pods changed'),
    onRefused: (b) => metrics?.countRefusal(b),
  });
  metrics = new ActivatorMetrics(registry);
  const stopSource = await startRevisionSource(config, registry, poker, logger);

  const state = { draining: false };
  const deps = {
    registry,
    logger,
    onColdRequest: (ns: string, rev: string) => poker.poke(ns, rev),
    isDraining: () => state.draining,
    retryAfterSeconds: config.retryAfterSeconds,
  };
  const handler = createRequestHandler(deps);
  const limits = config.connectionLimits;
  const server = http.createServer(http1ServerOptions(limits), oneAtATime(handler));
  server.on('upgrade', upgradeInOrder(createUpgradeHandler(deps)));
  server.keepAliveTimeout = 65_000;
  // h2c with prior knowledge (what Istio sends to an h2c port). node:http2's compatibility
  // request/response mirror node:http's closely enough for the handler and the shared forwarder;
  // the pod is then reached over HTTP/1.1 on its h2c port, which accepts both.
  const h2cServer = http2.createServer(http2ServerOptions());
  closeIdleSessions(h2cServer, limits);
  const h2cSessions = new Set<http2.ServerHttp2Session>();
  h2cServer.on('session', (session) => {
    h2cSessions.add(session);
    session.once('close', () => h2cSessions.delete(session));
  });
  h2cServer.on('request', (req, res) => handler(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse));
  const metricsServer = http.createServer(http1ServerOptions(limits), (req, res) => void serveMetrics(metrics!, req, res));

  const periodMs = config.reportIntervalMs;
  const reporter = setInterval(() => metrics!.report(registry, Date.now(), periodMs), periodMs);
  const http1Cap = connectionCap(limits, 'http1');
  const httpPort = await listenOn(server, config.httpPort, config.bindAddress, http1Cap);
  const h2cPort = await listenOn(h2cServer, config.h2cPort, config.bindAddress, connectionCap(limits, 'http2'));
  const metricsPort = await listenOn(metricsServer, config.metricsPort, config.bindAddress, http1Cap);
  logger.info({ httpPort, h2cPort, metricsPort, mode: config.staticConfigPath ? 'standalone' : 'kubernetes' }, 'activator listening');

  const running: RunningActivator = {
    httpPort,
    h2cPort,
    metricsPort,
    registry,
    get draining() {
      return state.draining;
    },
    set draining(v: boolean) {
      state.draining = v;
    },
    async close() {
      clearInterval(reporter);
      await stopSource();
      registry.stop();
      server.closeIdleConnections();
      await Promise.all([closeServer(server, true), closeServer(metricsServer, true), closeH2c(h2cServer, h2cSessions)]);
    },
  };
  return running;
}

async function startRevisionSource(
  config: ActivatorConfig,
  registry: RevisionRegistry,
  poker: AutoscalerPoker,
  logger: Logger,
): Promise<() => Promise<void>> {
  if (config.staticConfigPath) {
    for (const { info, pods, activators } of readStaticConfig(config.staticConfigPath)) {
      registry.upsert(info);
      if (activators) registry.setActivators(info.namespace, info.revision, activators);
      registry.setPods(info.namespace, info.revision, { ready: [], notReady: pods });
    }
    return async () => undefined;
  }
  // Loaded lazily: standalone mode (and its bundle start-up) never touches the Kubernetes client.
  const { startKubeRevisionSource } = await import('./kube-source');
  return startKubeRevisionSource(config, registry, poker, logger);
}

/** A bad file is the operator's mistake: reported as one line naming the variable, file and line. */
function readStaticConfig(path: string): ReturnType<typeof loadStaticConfig> {
  try {
    return loadStaticConfig(path);
  } catch (err) {
    if (err instanceof StaticConfigError) throw new ConfigError('ACTIVATOR_STATIC_CONFIG', err.message);
    throw err;
  }
}

async function serveMetrics(metrics: ActivatorMetrics, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  const body = await metrics.registry.metrics();
  res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
}

async function waitForTermination(activator: RunningActivator, config: ActivatorConfig, logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal, drainSeconds: config.drainSeconds }, 'draining');
      activator.draining = true;
      setTimeout(resolve, config.drainSeconds * 1000);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await activator.close();
  logger.info('activator stopped');
}

function closeH2c(server: http2.Http2Server, sessions: Set<http2.ServerHttp2Session>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sessions) s.destroy();
  });
}

