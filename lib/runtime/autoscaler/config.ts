import { AUTOSCALER_BUCKETS, Ports, SYSTEM_NAMESPACE, SystemEnv } from '../../contract/constants';
import { autoscalerBucketLeases } from '../../contract/naming';
import { WriteQueueDefaults } from '../kube/work-queue';
import { Env, envInt, envList, envNumber, envOptionalString, envPort, envString } from '../shared/env';

/** The autoscaler's environment; ports and periods are overridable for tests. */
export interface AutoscalerRuntimeConfig {
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly bindAddress: string | undefined;
  readonly tickMs: number;
  readonly scrapeMs: number;
  /** Empty (the compiled default): revisions in every namespace; else only these (one watch each). */
  readonly namespaces: readonly string[];
  readonly systemNamespace: string;
  /** Lease holder identity: the pod name. */
  readonly identity: string;
  /** One Lease per bucket of revisions (./buckets.ts); the replica works on those it holds. */
  readonly bucketLeases: readonly string[];
  readonly leaseDurationSeconds: number;
  readonly leaseRetryMs: number;
  readonly leaseRenewDeadlineMs: number;
  /** Where queue-proxies and activators serve /metrics. */
  readonly queueMetricsPort: number;
  readonly activatorMetricsPort: number;
  /** Scrapes in flight at most in this replica (./scrape-limiter.ts). */
  readonly maxConcurrentScrapes: number;
  /** The write queue (../kube/work-queue.ts): every scale and Endpoints write goes through it. */
  readonly writes: WriteQueueConfig;
}

export interface WriteQueueConfig {
  /** Writes in flight at most (so API requests in flight at most). */
  readonly workers: number;
  /** Client-side rate limit of every API request but watches (the writes among them): a token bucket (../kube/rate-limiter.ts). */
  readonly qps: number;
  readonly burst: number;
  /** Per-object retry delay after a failure: doubles from base up to max. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/**
 * Scrapes in flight per replica. A scrape holds a socket and about 0.2 ms of CPU; 64 at once is
 * 64 slow targets' deadlines running together without delaying the others much, and keeps the
 * sockets (and the pods' load from one replica) bounded whatever the revision count.
 */
export const MAX_CONCURRENT_SCRAPES = 64;

/** KUBE_API_QPS and KUBE_API_BURST are the names Knative reads (knative.dev/pkg environment/client_config.go). */
export function readWriteQueueConfig(env: Env): WriteQueueConfig {
  const d = WriteQueueDefaults;
  const backoffBaseMs = envInt(env, 'AUTOSCALER_WRITE_BACKOFF_BASE_MS', d.backoffBaseMs, { min: 1 });
  return {
    workers: envInt(env, 'AUTOSCALER_WRITE_WORKERS', d.workers, { min: 1 }),
    qps: envNumber(env, 'KUBE_API_QPS', d.qps, { min: 0.001 }),
    burst: envInt(env, 'KUBE_API_BURST', d.burst, { min: 1 }),
    backoffBaseMs,
    backoffMaxMs: envInt(env, 'AUTOSCALER_WRITE_BACKOFF_MAX_MS', Math.max(d.backoffMaxMs, backoffBaseMs), { min: backoffBaseMs }),
  };
}

export function readAutoscalerConfig(env: Env): AutoscalerRuntimeConfig {
  const namespaces = envList(env, SystemEnv.KSERVICE_NAMESPACES);
  const leaseDurationSeconds = envInt(env, 'AUTOSCALER_LEASE_DURATION_SECONDS', 15, { min: 1 });
  return {
    httpPort: envPort(env, 'AUTOSCALER_HTTP_PORT', Ports.AUTOSCALER_HTTP),
    metricsPort: envPort(env, 'AUTOSCALER_METRICS_PORT', Ports.QUEUE_METRICS),
    bindAddress: envOptionalString(env, 'AUTOSCALER_BIND_ADDRESS'),
    tickMs: envInt(env, 'AUTOSCALER_TICK_MS', 2000, { min: 50 }),
    scrapeMs: envInt(env, 'AUTOSCALER_SCRAPE_MS', 1000, { min: 50 }),
    namespaces,
    systemNamespace: envString(env, SystemEnv.SYSTEM_NAMESPACE, SYSTEM_NAMESPACE),
    identity: envString(env, SystemEnv.POD_NAME, envString(env, 'HOSTNAME', `autoscaler-${process.pid}`)),
    bucketLeases: autoscalerBucketLeases(envInt(env, SystemEnv.AUTOSCALER_BUCKETS, AUTOSCALER_BUCKETS, { min: 1 })),
    leaseDurationSeconds,
    leaseRetryMs: envInt(env, 'AUTOSCALER_LEASE_RETRY_MS', 2000, { min: 50 }),
    leaseRenewDeadlineMs: envInt(env, 'AUTOSCALER_LEASE_RENEW_DEADLINE_MS', Math.round(leaseDurationSeconds * 1000 * (2 / 3)), { min: 50 }),
    queueMetricsPort: envPort(env, 'AUTOSCALER_QUEUE_METRICS_PORT', Ports.QUEUE_METRICS),
    activatorMetricsPort: envPort(env, 'AUTOSCALER_ACTIVATOR_METRICS_PORT', Ports.QUEUE_METRICS),
    maxConcurrentScrapes: envInt(env, 'AUTOSCALER_MAX_CONCURRENT_SCRAPES', MAX_CONCURRENT_SCRAPES, { min: 1 }),
    writes: readWriteQueueConfig(env),
  };
}
