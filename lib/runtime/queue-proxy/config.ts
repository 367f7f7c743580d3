/**
 * The queue-proxy's environment: exactly Knative's contract (knative/serving pkg/reconciler/revision/resources/queue.go), so a Deployment
 * compiled for this runtime also runs Knative's own queue image and the other way round, plus a
 * few overrides of our own (QUEUE_*) for running several instances on one host.
 */
import { DRAIN_TOKEN_ENV, Ports, QueueEnv, RevisionDefaults } from '../../contract/constants';
import { type ConnectionLimits, readConnectionLimits } from '../shared/connection-limits';
import {
  ConfigError,
  type Env,
  envInt,
  envNumber,
  envOptionalString,
  envPort,
  envRequiredString,
  envString,
} from '../shared/env';
import { parseReadinessProbes, ProbeParseError, type ProbeSpec } from '../shared/readiness';

export type ServingProtocol = 'http1' | 'h2c';

export interface QueueProxyConfig {
  readonly namespace: string;
  readonly service: string;
  readonly configuration: string;
  readonly revision: string;
  readonly pod: string;
  readonly podIp: string;
  /** QUEUE_SERVING_PORT: 8012 (HTTP/1) or 8013 (h2c). */
  readonly servingPort: number;
  /** h2c when the serving port is 8013, or as QUEUE_SERVING_PROTOCOL says. */
  readonly protocol: ServingProtocol;
  readonly userPort: number;
  /** 0 = unlimited. */
  readonly containerConcurrency: number;
  readonly revisionTimeoutSeconds: number;
  /** 0 = off. */
  readonly responseStartTimeoutSeconds: number;
  /** 0 = off. */
  readonly idleTimeoutSeconds: number;
  readonly readinessProbes: readonly ProbeSpec[];
  readonly adminPort: number;
  readonly metricsPort: number;
  readonly drainSeconds: number;
  /** Address the servers bind; undefined = every address (as Knative's `:port`). */
  readonly bindAddress: string | undefined;
  readonly logLevel: string;
  /** Bounds on client connections (QUEUE_IDLE_CONNECTION_SECONDS, QUEUE_HEADERS_TIMEOUT_SECONDS, QUEUE_MAX_CONNECTIONS, QUEUE_MAX_HTTP1_CONNECTIONS). */
  readonly connectionLimits: ConnectionLimits;
  /** The token `/wait-for-drain` must carry (DRAIN_TOKEN_ENV); undefined = none is asked for. */
  readonly drainToken: string | undefined;
}

/**
 * Knative variables accepted and deliberately not used, with the reason. Listed so a reader (and
 * `ignoredKnativeEnv`) can tell "ignored on purpose" from "forgotten".
 */
export const IGNORED_KNATIVE_ENV: Readonly<Record<string, string>> = {
  [QueueEnv.QUEUE_SERVING_TLS_PORT]: 'TLS on 8112 is not served (Knative serves it only with certificates mounted)',
  [QueueEnv.SERVING_LOGGING_CONFIG]: 'zap configuration; logs are pino JSON, only SERVING_LOGGING_LEVEL is read',
  [QueueEnv.SYSTEM_NAMESPACE]: 'the queue-proxy talks to no control-plane object',
  [QueueEnv.HOST_IP]: 'used by Knative for tracing agents only',
  [QueueEnv.ENABLE_HTTP2_AUTO_DETECTION]: 'the h2c port sniffs the HTTP/2 preface always; HTTP/1 ports stay HTTP/1',
  [QueueEnv.ENABLE_HTTP_FULL_DUPLEX]: 'node:http streams request and response bodies both ways at once already',
  [QueueEnv.ROOT_CA]: 'only needed for system-internal TLS, which is not served',
  [QueueEnv.QUEUE_PROXY_TLS_MIN_VERSION]: 'TLS is not served',
  [QueueEnv.QUEUE_PROXY_TLS_MAX_VERSION]: 'TLS is not served',
  [QueueEnv.QUEUE_PROXY_TLS_CIPHER_SUITES]: 'TLS is not served',
  [QueueEnv.QUEUE_PROXY_TLS_CURVE_PREFERENCES]: 'TLS is not served',
  [QueueEnv.ENABLE_MULTI_CONTAINER_PROBES]: 'an array in SERVING_READINESS_PROBE says so already',
  [QueueEnv.OBSERVABILITY_CONFIG]: 'metrics are fixed Prometheus text on the metrics port; no tracing',
};

/** Of the ignored Knative variables, those that are set (logged once at start-up). */
export function ignoredKnativeEnv(env: Env): string[] {
  return Object.keys(IGNORED_KNATIVE_ENV).filter((name) => (env[name] ?? '') !== '');
}

export function readQueueProxyConfig(env: Env): QueueProxyConfig {
  const servingPort = envPort(env, QueueEnv.QUEUE_SERVING_PORT, Ports.QUEUE_HTTP);
  const userPort = envPort(env, QueueEnv.USER_PORT, Ports.DEFAULT_USER_PORT);
  return {
    namespace: envRequiredString(env, QueueEnv.SERVING_NAMESPACE),
    service: envString(env, QueueEnv.SERVING_SERVICE, ''),
    configuration: envString(env, QueueEnv.SERVING_CONFIGURATION, ''),
    revision: envRequiredString(env, QueueEnv.SERVING_REVISION),
    pod: envString(env, QueueEnv.SERVING_POD, process.env.HOSTNAME ?? ''),
    podIp: envString(env, QueueEnv.SERVING_POD_IP, ''),
    servingPort,
    protocol: readProtocol(env, servingPort),
    userPort,
    containerConcurrency: envInt(env, QueueEnv.CONTAINER_CONCURRENCY, RevisionDefaults.CONTAINER_CONCURRENCY, { min: 0 }),
    revisionTimeoutSeconds: envNumber(env, QueueEnv.REVISION_TIMEOUT_SECONDS, RevisionDefaults.TIMEOUT_SECONDS, { min: 0 }),
    responseStartTimeoutSeconds: envNumber(env, QueueEnv.REVISION_RESPONSE_START_TIMEOUT_SECONDS, 0, { min: 0 }),
    idleTimeoutSeconds: envNumber(env, QueueEnv.REVISION_IDLE_TIMEOUT_SECONDS, 0, { min: 0 }),
    readinessProbes: readProbes(env, userPort),
    adminPort: envPort(env, 'QUEUE_ADMIN_PORT', Ports.QUEUE_ADMIN),
    metricsPort: envPort(env, 'QUEUE_METRICS_PORT', Ports.QUEUE_METRICS),
    drainSeconds: envNumber(env, 'QUEUE_DRAIN_SECONDS', 30, { min: 0 }),
    bindAddress: envOptionalString(env, 'QUEUE_BIND_ADDRESS'),
    logLevel: envString(env, QueueEnv.SERVING_LOGGING_LEVEL, envString(env, 'LOG_LEVEL', 'info')),
    connectionLimits: readConnectionLimits(env, 'QUEUE'),
    drainToken: envOptionalString(env, DRAIN_TOKEN_ENV),
  };
}

function readProtocol(env: Env, servingPort: number): ServingProtocol {
  const explicit = envOptionalString(env, 'QUEUE_SERVING_PROTOCOL');
  if (explicit === undefined) return servingPort === Ports.QUEUE_H2C ? 'h2c' : 'http1';
  if (explicit === 'h2c' || explicit === 'http1') return explicit;
  throw new ConfigError('QUEUE_SERVING_PROTOCOL', `must be http1 or h2c, got "${explicit}"`);
}

function readProbes(env: Env, userPort: number): ProbeSpec[] {
  try {
    return parseReadinessProbes(env[QueueEnv.SERVING_READINESS_PROBE], userPort);
  } catch (err) {
    if (err instanceof ProbeParseError) throw new ConfigError(QueueEnv.SERVING_READINESS_PROBE, err.message.replace(/^SERVING_READINESS_PROBE: /, ''));
    throw err;
  }
}
