/**
 * The queue-proxy sidecar, as Knative's knative/serving pkg/reconciler/revision/resources/queue.go builds it: ports,
 * the env contract in Knative's exact order, the kubelet readiness probe pointing at queue-proxy,
 * the user's readiness probe handed over as SERVING_READINESS_PROBE, resources (resolved by the model,
 * ../model/queue-sidecar.ts) and the restricted securityContext. Our runtime image runs it as `kservice-runtime queue-proxy`.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { Probe } from '../model/kservice-props';
import { Annotations, DRAIN_TOKEN_ENV, Headers, KNATIVE_ZAP_LOGGER_CONFIG, Ports, ProbeValues, QUEUE_CONTAINER_NAME, QueueEnv, SYSTEM_NAMESPACE } from '../contract/constants';
import { drainToken } from './drain-token';
import { compact } from '../model/json';
import { queueServingPort, type RevisionSpec } from '../model/spec';

const LOCAL_ADDRESS = '127.0.0.1';
/** config-observability with nothing configured, as Knative serializes it. */
const EMPTY_OBSERVABILITY_CONFIG = '{"tracing":{},"metrics":{},"runtime":{},"requestMetrics":{}}';

/** The runtime subcommand (the image's entrypoint is `kservice-runtime`). */
export const QUEUE_PROXY_ARGS = ['queue-proxy'];

/** Pod Security "restricted" container settings shared by queue-proxy and the system pods. */
export function restrictedSecurityContext(): ISecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function buildQueueProxyContainer(rev: RevisionSpec): IContainer {
  return {
    name: QUEUE_CONTAINER_NAME,
    image: rev.runtimeImage,
    args: [...QUEUE_PROXY_ARGS],
    ports: queueProxyPorts(rev),
    env: queueProxyEnv(rev),
    resources: rev.queueSidecarResources,
    readinessProbe: queueProxyReadinessProbe(rev),
    securityContext: restrictedSecurityContext(),
  };
}

/** 9090 stats, 9091 user metrics, the main port and 8112 TLS, in Knative's order. */
export function queueProxyPorts(rev: RevisionSpec): NonNullable<IContainer['ports']> {
  return [
    { name: 'http-autometric', containerPort: Ports.QUEUE_METRICS },
    { name: 'http-usermetric', containerPort: Ports.QUEUE_USER_METRICS },
    { name: 'queue-port', containerPort: queueServingPort(rev) },
    { name: 'https-port', containerPort: Ports.QUEUE_HTTPS },
  ];
}

/** The env contract between the Deployment and queue-proxy, in Knative's exact order. */
export function queueProxyEnv(rev: RevisionSpec): IEnvVar[] {
  // An empty value is left out, as Go's omitempty leaves it out of Knative's own Deployment: the
  // API server stores it that way, so writing "" would make a second field manager's apply of
  // the same manifest conflict. The container sees the variable set to "" either way.
  const value = (name: string, v: string | number): IEnvVar => (String(v) === '' ? { name } : { name, value: String(v) });
  const field = (name: string, fieldPath: string, apiVersion?: string): IEnvVar => ({
    name,
    valueFrom: { fieldRef: compact({ apiVersion, fieldPath }) },
  });
  return [
    value(QueueEnv.SERVING_NAMESPACE, rev.namespace),
    value(QueueEnv.SERVING_SERVICE, rev.serviceName),
    value(QueueEnv.SERVING_CONFIGURATION, rev.configurationName),
    value(QueueEnv.SERVING_REVISION, rev.name),
    value(QueueEnv.QUEUE_SERVING_PORT, queueServingPort(rev)),
    value(QueueEnv.QUEUE_SERVING_TLS_PORT, Ports.QUEUE_HTTPS),
    value(QueueEnv.CONTAINER_CONCURRENCY, rev.containerConcurrency),
    value(QueueEnv.REVISION_TIMEOUT_SECONDS, rev.timeoutSeconds),
    value(QueueEnv.REVISION_RESPONSE_START_TIMEOUT_SECONDS, rev.responseStartTimeoutSeconds),
    value(QueueEnv.REVISION_IDLE_TIMEOUT_SECONDS, rev.idleTimeoutSeconds),
    // apiVersion "v1" where Knative leaves it to the API server's defaulting: the stored form, so
    // a second field manager applying the same manifest finds the value it sends (no conflict).
    field(QueueEnv.SERVING_POD, 'metadata.name', 'v1'),
    field(QueueEnv.SERVING_POD_IP, 'status.podIP', 'v1'),
    // Knative passes its zap logger JSON here; our runtime logs with pino and reads only the level.
    value(QueueEnv.SERVING_LOGGING_CONFIG, KNATIVE_ZAP_LOGGER_CONFIG),
    value(QueueEnv.SERVING_LOGGING_LEVEL, ''),
    value(QueueEnv.USER_PORT, rev.userPort),
    value(QueueEnv.SYSTEM_NAMESPACE, SYSTEM_NAMESPACE),
    value(QueueEnv.SERVING_READINESS_PROBE, servingReadinessProbeJson(rev)),
    field(QueueEnv.HOST_IP, 'status.hostIP', 'v1'),
    value(QueueEnv.ENABLE_HTTP2_AUTO_DETECTION, 'false'),
    value(QueueEnv.ENABLE_HTTP_FULL_DUPLEX, String(rev.templateAnnotations[Annotations.HTTP_FULL_DUPLEX] === 'Enabled')),
    value(QueueEnv.ROOT_CA, ''),
    value(QueueEnv.QUEUE_PROXY_TLS_MIN_VERSION, ''),
    value(QueueEnv.QUEUE_PROXY_TLS_MAX_VERSION, ''),
    value(QueueEnv.QUEUE_PROXY_TLS_CIPHER_SUITES, ''),
    value(QueueEnv.QUEUE_PROXY_TLS_CURVE_PREFERENCES, ''),
    value(QueueEnv.ENABLE_MULTI_CONTAINER_PROBES, 'false'),
    value(QueueEnv.OBSERVABILITY_CONFIG, EMPTY_OBSERVABILITY_CONFIG),
    // Ours, after Knative's: the token the preStop hook's /wait-for-drain must carry (drain-token.ts).
    value(DRAIN_TOKEN_ENV, drainToken(rev)),
  ];
}

function servingProbe(rev: RevisionSpec): IProbe | undefined {
  return rev.containers[rev.servingContainerIndex]?.readinessProbe;
}

/**
 * The kubelet's probe of queue-proxy: the user's probe timing (period, thresholds, initial delay)
 * with the handler replaced by an HTTP GET on queue-proxy's port carrying `K-Network-Probe: queue`.
 */
export function queueProxyReadinessProbe(rev: RevisionSpec): IProbe {
  const { exec: _e, httpGet: _h, tcpSocket: _t, grpc: _g, ...timing } = servingProbe(rev) ?? {};
  return {
    httpGet: { port: queueServingPort(rev), httpHeaders: [{ name: Headers.NETWORK_PROBE, value: ProbeValues.QUEUE }] },
    ...timing,
  };
}

/**
 * SERVING_READINESS_PROBE: the user's probe after Knative's applyReadinessProbeDefaults (host
 * 127.0.0.1, the user port, HTTP scheme; exec becomes TCP on the user port, since the exec probe
 * itself stays with the kubelet). Keys are written in the order Go's structs declare them, so the
 * JSON matches Knative's byte for byte.
 */
export function servingReadinessProbeJson(rev: RevisionSpec): string {
  const probe = servingProbe(rev);
  return probe ? JSON.stringify(readinessProbeForQueue(probe, rev.userPort)) : '';
}

export function readinessProbeForQueue(probe: Probe, userPort: number): Record<string, unknown> {
  const portOr = (p: number | string | undefined) => (p === undefined || p === 0 ? userPort : p);
  let handler: Record<string, unknown>;
  if (probe.httpGet) {
    const h = probe.httpGet;
    handler = {
      httpGet: compact({
        path: h.path,
        port: portOr(h.port),
        host: LOCAL_ADDRESS,
        scheme: h.scheme ?? 'HTTP',
        httpHeaders: h.httpHeaders,
      }),
    };
  } else if (probe.grpc) {
    // Knative's applyGRPCProbeDefaults sets service "" when unset (revision_defaults.go).
    handler = { grpc: { port: portOr(probe.grpc.port), service: probe.grpc.service ?? '' } };
  } else {
    // TCP, and exec converted to TCP.
    handler = { tcpSocket: { port: portOr(probe.tcpSocket?.port), host: LOCAL_ADDRESS } };
  }
  const period = probe.periodSeconds ?? 0;
  const timeout = period > 0 && (probe.timeoutSeconds ?? 0) < 1 ? 1 : probe.timeoutSeconds;
  return compact({
    ...handler,
    initialDelaySeconds: probe.initialDelaySeconds || undefined,
    timeoutSeconds: timeout || undefined,
    periodSeconds: period || undefined,
    successThreshold: probe.successThreshold || undefined,
    failureThreshold: probe.failureThreshold || undefined,
    terminationGracePeriodSeconds: probe.terminationGracePeriodSeconds,
  });
}
