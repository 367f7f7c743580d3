import { AUTOSCALER_LEASE, Ports, SYSTEM_NAMESPACE, SystemEnv } from '../../contract/constants';
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
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly leaseRetryMs: number;
  readonly leaseRenewDeadlineMs: number;
  /** Where queue-proxies and activators serve /metrics. */
  readonly queueMetricsPort: number;
  readonly activatorMetricsPort: number;
  /** The write queue (../kube/work-queue.ts): every scale and Endpoints write goes through it. */
  readonly writes: WriteQueueConfig;
}

export interface WriteQueueConfig {
  /** Writes in flight at most (so API requests in flight at most). */
  readonly workers: number;
  /** Client-side rate limit of the writes: a token bucket. */
  readonly qps: number;
  readonly burst: number;
  /** Per-object retry delay after a failure: doubles from base up to max. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

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
    leaseName: envString(env, 'AUTOSCALER_LEASE_NAME', AUTOSCALER_LEASE),
    leaseDurationSeconds,
    leaseRetryMs: envInt(env, 'AUTOSCALER_LEASE_RETRY_MS', 2000, { min: 50 }),
    leaseRenewDeadlineMs: envInt(env, 'AUTOSCALER_LEASE_RENEW_DEADLINE_MS', Math.round(leaseDurationSeconds * 1000 * (2 / 3)), { min: 50 }),
    queueMetricsPort: envPort(env, 'AUTOSCALER_QUEUE_METRICS_PORT', Ports.QUEUE_METRICS),
    activatorMetricsPort: envPort(env, 'AUTOSCALER_ACTIVATOR_METRICS_PORT', Ports.QUEUE_METRICS),
    writes: readWriteQueueConfig(env),
  };
}
