import { AUTOSCALER_LEASE, Ports, SYSTEM_NAMESPACE, SystemEnv } from '../../contract/constants';
import { ConfigError, Env, envInt, envList, envOptionalString, envPort, envString } from '../shared/env';

/** The autoscaler's environment; ports and periods are overridable for tests. */
export interface AutoscalerRuntimeConfig {
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly bindAddress: string | undefined;
  readonly tickMs: number;
  readonly scrapeMs: number;
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
}

export function readAutoscalerConfig(env: Env): AutoscalerRuntimeConfig {
  const namespaces = envList(env, SystemEnv.KSERVICE_NAMESPACES);
  if (namespaces.length === 0) throw new ConfigError(SystemEnv.KSERVICE_NAMESPACES, 'is required (comma-separated namespaces to autoscale)');
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
  };
}
