import { Ports, SYSTEM_NAMESPACE, SystemEnv } from '../../contract/constants';
import { type ConnectionLimits, readConnectionLimits } from '../shared/connection-limits';
import { Env, envInt, envList, envNumber, envOptionalString, envPort, envString } from '../shared/env';

/**
 * The activator's environment (defaults from knative/serving config/core/deployments/activator.yaml and cmd/activator/main.go). Ports and the bind address are
 * overridable so several instances run on one host in tests.
 */
export interface ActivatorConfig {
  readonly httpPort: number;
  /** h2c (HTTP/2 cleartext, prior knowledge) for revisions whose port is named h2c. */
  readonly h2cPort: number;
  readonly metricsPort: number;
  /** Address the servers bind; undefined = every address. */
  readonly bindAddress: string | undefined;
  /** Requests held per revision before 503. */
  readonly queueDepth: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** How often per-revision statistics are closed off (the autoscaler scrapes once a second). */
  readonly reportIntervalMs: number;
  /** Standalone mode: revisions from this JSON file, no Kubernetes API. */
  readonly staticConfigPath: string | undefined;
  /** Standalone mode: where to send `/poke` (`host:port` list); in a cluster, the autoscaler Endpoints. */
  readonly pokeAddresses: readonly string[];
  /** Empty (the compiled default): revisions in every namespace; else only these (one watch each). */
  readonly namespaces: readonly string[];
  readonly systemNamespace: string;
  /** Seconds between SIGTERM and closing the servers (Knative: 45). */
  readonly drainSeconds: number;
  /** Retry-After on 503 answers. */
  readonly retryAfterSeconds: number;
  /** Bounds on client connections (ACTIVATOR_IDLE_CONNECTION_SECONDS, _HEADERS_TIMEOUT_SECONDS, _MAX_CONNECTIONS, _MAX_HTTP1_CONNECTIONS). */
  readonly connectionLimits: ConnectionLimits;
  /** This pod's IP (POD_IP, from the downward API): its index among a revision's activators picks its slice of the pods. */
  readonly podIp: string | undefined;
  /**
   * After a change of a revision's pods or activators, how long this activator keeps off the pod
   * slots another activator may still be using (./subsetting.ts): the time the change takes to
   * reach every activator plus the requests already running to finish.
   */
  readonly handoverMs: number;
}

export function readActivatorConfig(env: Env): ActivatorConfig {
  return {
    httpPort: envPort(env, 'ACTIVATOR_HTTP_PORT', Ports.QUEUE_HTTP),
    h2cPort: envPort(env, 'ACTIVATOR_H2C_PORT', Ports.QUEUE_H2C),
    metricsPort: envPort(env, 'ACTIVATOR_METRICS_PORT', Ports.QUEUE_METRICS),
    bindAddress: envOptionalString(env, 'ACTIVATOR_BIND_ADDRESS'),
    queueDepth: envInt(env, 'ACTIVATOR_QUEUE_DEPTH', 10_000, { min: 0 }),
    probeIntervalMs: envInt(env, 'ACTIVATOR_PROBE_INTERVAL_MS', 200, { min: 10 }),
    probeTimeoutMs: envInt(env, 'ACTIVATOR_PROBE_TIMEOUT_MS', 300, { min: 10 }),
    reportIntervalMs: envInt(env, 'ACTIVATOR_REPORT_INTERVAL_MS', 1000, { min: 100 }),
    staticConfigPath: envOptionalString(env, 'ACTIVATOR_STATIC_CONFIG'),
    pokeAddresses: envList(env, 'ACTIVATOR_POKE_ADDRESSES'),
    namespaces: envList(env, SystemEnv.KSERVICE_NAMESPACES),
    systemNamespace: envString(env, SystemEnv.SYSTEM_NAMESPACE, SYSTEM_NAMESPACE),
    drainSeconds: envNumber(env, 'ACTIVATOR_DRAIN_SECONDS', 45, { min: 0 }),
    retryAfterSeconds: envInt(env, 'ACTIVATOR_RETRY_AFTER_SECONDS', 1, { min: 0 }),
    connectionLimits: readConnectionLimits(env, 'ACTIVATOR'),
    podIp: envOptionalString(env, SystemEnv.POD_IP),
    handoverMs: envInt(env, 'ACTIVATOR_HANDOVER_MS', 2000, { min: 0 }),
  };
}
