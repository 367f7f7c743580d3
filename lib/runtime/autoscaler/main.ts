import { closeServer, listenOn } from '../shared/listen';
import { autoscalerConfigFromData } from '../../contract/autoscaling';
import { resolveServingConfig } from '../../contract/config';
import { Labels } from '../../contract/constants';
import { Names } from '../../contract/naming';
import { describeApiError, FieldManagers, loadKubeClients } from '../kube/client';
import { BucketLeases } from '../kube/bucket-leases';
import { readRevisionDeployment } from '../kube/revision-deployment';
import { WorkQueue } from '../kube/work-queue';
import { createLogger } from '../shared/logger';
import { BucketSet, revisionKey } from './buckets';
import { MetricCollector } from './collector';
import { AutoscalerRuntimeConfig, readAutoscalerConfig } from './config';
import { AutoscalerController } from './controller';
import { KubeCluster } from './kube-cluster';
import { AutoscalerMetrics } from './metrics';
import { RevisionStagger, ScrapeLimiter } from './scrape-limiter';
import { createMetricsServer, createPokeServer } from './server';

/**
 * `kservice-runtime autoscaler`: the revisions are hashed into buckets, one Lease each
 * (./buckets.ts, ../kube/bucket-leases.ts; with one bucket, the Lease `kservice-autoscaler`).
 * Every replica watches every revision; each scrapes, decides for and writes only the revisions
 * of the buckets it holds. The activators poke every replica (../activator/poker.ts), so a poke
 * reaches the owner without forwarding; the others ignore it.
 */
export async function runAutoscaler(env: NodeJS.ProcessEnv): Promise<void> {
  const config = readAutoscalerConfig(env);
  const logger = createLogger('autoscaler', { base: { identity: config.identity } });
  // One rate limit (KUBE_API_QPS, KUBE_API_BURST) for every request of this replica but watches:
  // informer lists, Lease renewals (never starved: ../kube/rate-limiter.ts) and the writes.
  const kube = loadKubeClients(undefined, { qps: config.writes.qps, burst: config.writes.burst });
  const metrics = new AutoscalerMetrics();
  const cluster = new KubeCluster(kube, config.namespaces, config.systemNamespace, logger);
  // Every scale and Endpoints write of this replica: bounded in flight, and in rate by the client's limiter (see work-queue.ts).
  const writes = new WorkQueue({
    workers: config.writes.workers,
    tokens: kube.limiter,
    backoff: { baseMs: config.writes.backoffBaseMs, maxMs: config.writes.backoffMaxMs },
    onFailure: (key, err, retryInMs) =>
      logger.warn({ key, err: describeApiError(err), retryInMs }, retryInMs === undefined ? 'write failed; not retried' : 'write failed; retrying'),
  });
  const buckets = new BucketSet(config.bucketLeases);
  const leases = new BucketLeases({
    coordination: kube.coordination,
    namespace: config.systemNamespace,
    buckets: config.bucketLeases,
    identity: config.identity,
    fieldManager: FieldManagers.AUTOSCALER,
    logger,
    leaseDurationSeconds: config.leaseDurationSeconds,
    retryPeriodMs: config.leaseRetryMs,
    renewDeadlineMs: config.leaseRenewDeadlineMs,
    onAcquired: () => {
      metrics.bucketsHeld.set(leases.heldBuckets().length);
      metrics.leader.set(1);
      void controller.tick(Date.now());
    },
    // The bucket's queued writes are dropped when they come to run (the controller asks `owns`
    // again), so the other buckets' writes keep their place in the queue.
    onLost: () => {
      metrics.bucketsHeld.set(leases.heldBuckets().length);
      metrics.leader.set(leases.heldBuckets().length > 0 ? 1 : 0);
    },
  });
  const owns = (namespace: string, revision: string) => leases.holds(buckets.owner(revisionKey(namespace, revision)));
  const controller = new AutoscalerController({
    view: cluster,
    writer: cluster,
    metrics,
    logger,
    isLeader: (namespace, revision) => owns(namespace, revision),
    config: resolveServingConfig(),
    writes,
  });

  const privateToRevision = new Map<string, string>(); // `ns/REV-private` → REV
  await cluster.start({
    onDeployment: (d) => {
      try {
        const r = readRevisionDeployment(d);
        privateToRevision.set(`${r.namespace}/${Names.privateService(r.revision)}`, r.revision);
        controller.upsertRevision(r, Date.now());
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'ignoring Deployment');
      }
    },
    onDeploymentDeleted: (d) => {
      const revision = d.metadata?.labels?.[Labels.REVISION];
      const namespace = d.metadata?.namespace ?? '';
      if (!revision) return;
      privateToRevision.delete(`${namespace}/${Names.privateService(revision)}`);
      controller.removeRevision(namespace, revision);
    },
    onEndpoints: (ep) => {
      const namespace = ep.metadata?.namespace ?? '';
      const revision = privateToRevision.get(`${namespace}/${ep.metadata?.name ?? ''}`);
      if (revision) void controller.onPodsChanged(namespace, revision, Date.now());
    },
    onActivators: () => void controller.onActivatorsChanged(Date.now()),
    onConfigAutoscaler: (data) => {
      const parsed = autoscalerConfigFromData(data);
      if (parsed.problems.length > 0) logger.warn({ problems: parsed.problems }, 'config-autoscaler: bad values ignored');
      controller.setConfig(resolveServingConfig({ autoscaler: parsed.value }), Date.now());
    },
  });
  logger.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all' }, 'informers synced');

  leases.start();

  const collector = new MetricCollector({
    view: cluster,
    revisions: () => controller.kpaRevisions().filter((r) => owns(r.namespace, r.revision)),
    limiter: new ScrapeLimiter(config.maxConcurrentScrapes),
    stagger: new RevisionStagger({ periodMs: config.scrapeMs }),
    record: (ns, rev, sample, now) => controller.record(ns, rev, sample, now),
    queueMetricsPort: config.queueMetricsPort,
    activatorMetricsPort: config.activatorMetricsPort,
    logger,
  });
  const scrapeTimer = setInterval(() => void collector.collectOnce(Date.now()), config.scrapeMs);
  const tickTimer = setInterval(() => void controller.tick(Date.now()), config.tickMs);

  const pokeServer = createPokeServer((ns, rev) => controller.poke(ns, rev, Date.now()));
  const metricsServer = createMetricsServer(metrics.registry);
  const httpPort = await listenOn(pokeServer, config.httpPort, config.bindAddress);
  const metricsPort = await listenOn(metricsServer, config.metricsPort, config.bindAddress);
  logger.info({ httpPort, metricsPort }, 'autoscaler listening');

  await waitForSignal();
  clearInterval(scrapeTimer);
  clearInterval(tickTimer);
  await leases.stop();
  await Promise.all([closeServer(pokeServer, true), closeServer(metricsServer, true), cluster.stop()]);
  logger.info('autoscaler stopped');
}

export type { AutoscalerRuntimeConfig };

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

